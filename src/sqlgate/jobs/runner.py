"""The worker pool of one server process: claims queued jobs, runs them, keeps house.

* **Claiming** is one conditional UPDATE (``... WHERE id = :id AND state = 'queued'`` and the
  org's running count under its cap). Of several processes sharing a PostgreSQL store, exactly
  one sees its UPDATE change the row: a job never runs twice.
* **Running** goes through :meth:`QueryService.export` (guard, parameters, read-only engine
  session, deadline, audit row), then :meth:`ResultStore.write`. Progress (rows and bytes so
  far) is written to the job about once a second.
* **Cancelling** fires the engine deadlines the job's query started (``observe_deadlines``):
  DuckDB and SQLite interrupt, PostgreSQL cancels, MySQL kills the query on the server.
  Cancel requests made in another process reach this one through the store within a second.
* **The deadline** (the job's timeout) holds for writing too: the writer checks for a cancel,
  a shutdown or a deadline that fired before every file and every piece of rows it writes,
  since one batch from the engine may make thousands of small files. A job past its deadline
  fails with the query's timeout error, as when the engine's own read stops it.
* **Liveness**: the process stamps ``heartbeat_at`` on its running jobs. At start-up, jobs left
  running by a dead process on this host are failed (``job_interrupted``); any running job whose
  heartbeat is older than ``async_stale_seconds`` is failed by whichever process notices.
  A graceful shutdown puts its running jobs back in the queue.
* **Retention**: results past ``async_result_retention_hours`` are deleted (their links then
  answer 410), job records after ``async_job_history_days``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import aliased

from sqlgate.engines.base import Deadline, observe_deadlines
from sqlgate.errors import SqlgateError
from sqlgate.jobs.idle_workers import IdleWorkers
from sqlgate.jobs.model import INTERRUPTED, JobState
from sqlgate.jobs.service import JobService, error_of
from sqlgate.results.formats import get_format
from sqlgate.results.storage import Limits, Manifest, ResultStore
from sqlgate.services.limits import ASYNC
from sqlgate.services.process_identity import is_gone, new_identity
from sqlgate.services.query import QueryRequest, QueryService
from sqlgate.settings import Settings
from sqlgate.store.db import Store
from sqlgate.store.models import QueryJob, utcnow

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_PROGRESS_SECONDS = 1.0
_HOUSEKEEPING_SECONDS = 0.5
#: The housekeeper's pause while this process runs no job (a claim wakes it at once).
_IDLE_HOUSEKEEPING_SECONDS = 5.0
_RETENTION_SECONDS = 60.0
_CANDIDATES = 16

_INTERRUPTED_MESSAGE = (
    "The server process running this job stopped (crash or restart) before it finished; "
    "submit the query again"
)


class _Canceled(Exception):
    pass


class _ShuttingDown(Exception):
    pass


@dataclass
class _Control:
    """One job running in this process: its cancel flag and its query's engine deadlines."""

    job_id: str
    org_id: str
    canceled: bool = False
    shutting_down: bool = False
    deadlines: list[Deadline] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, deadline: Deadline) -> None:
        with self.lock:
            self.deadlines.append(deadline)
            stop = self.canceled or self.shutting_down
        if stop:
            deadline.fire()

    def stop(self, *, shutdown: bool = False) -> None:
        with self.lock:
            if shutdown:
                self.shutting_down = True
            else:
                self.canceled = True
            deadlines = list(self.deadlines)
        for deadline in deadlines:
            deadline.fire()

    def check(self) -> None:
        """Raise if the job must stop: canceled, shutting down, or past its deadline (the
        query's timeout error, as the engine's read raises it)."""
        if self.canceled:
            raise _Canceled
        if self.shutting_down:
            raise _ShuttingDown
        with self.lock:
            expired = next((d for d in self.deadlines if d.expired), None)
        if expired is not None:
            raise expired.error()

    def watch(self, batches: Iterable[_T]) -> Iterator[_T]:
        for batch in batches:
            self.check()
            yield batch
        self.check()


class JobRunner:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        queries: QueryService,
        jobs: JobService,
    ) -> None:
        self._settings = settings
        self._store = store
        self._queries = queries
        self._jobs = jobs
        self._results: ResultStore = jobs.results
        self.identity = new_identity()
        self._running: dict[str, _Control] = {}
        self._lock = threading.Lock()
        self._idle = IdleWorkers(settings.async_poll_seconds)
        self._claimed = threading.Event()  # wakes the housekeeper when a job starts here
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Recover from a crash, clean up, then start the workers and the housekeeper."""
        if self._threads:
            return
        self.recover()
        self.enforce_retention()
        self._jobs.on_submit = self.wake
        self._jobs.on_cancel = self.cancel_local
        self._stopping.clear()
        for i in range(self._settings.async_workers):
            self._spawn(self._work, f"sqlgate-job-{i}")
        self._spawn(self._housekeep, "sqlgate-job-housekeeper")

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop taking jobs, interrupt the running ones (they go back to the queue for the
        next process) and wait for the threads."""
        self._stopping.set()
        with self._lock:
            controls = list(self._running.values())
        for control in controls:
            control.stop(shutdown=True)
        self._claimed.set()
        self.wake(everyone=True)
        until = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, until - time.monotonic()))
        self._threads.clear()
        self._jobs.on_submit = lambda: None
        self._jobs.on_cancel = lambda _job_id: None

    def wake(self, everyone: bool = False) -> None:
        self._idle.wake(everyone)

    def cancel_local(self, job_id: str) -> None:
        with self._lock:
            control = self._running.get(job_id)
        if control is not None:
            control.stop()

    # --- workers --------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stopping.is_set():
            mark = self._idle.mark()
            try:
                job = self._claim()
            except Exception:
                log.exception("could not claim an async job")
                job = None
            if job is None:
                self._idle.sleep(mark, self._stopping)  # see jobs/idle_workers.py
                continue
            self._claimed.set()
            self._idle.took_job()
            self._run(job)

    def _claim(self) -> QueryJob | None:
        """Take the oldest queued job this process may run (org caps), or None."""
        cap = self._settings.async_org_concurrency
        with self._lock:
            local = Counter(c.org_id for c in self._running.values())
        with self._store.session() as session:
            candidates = session.execute(
                select(QueryJob.id, QueryJob.org_id)
                .where(QueryJob.state == JobState.QUEUED.value)
                .order_by(QueryJob.created_at, QueryJob.id)
                .limit(_CANDIDATES)
            ).all()
        running = aliased(QueryJob)
        for job_id, org_id in candidates:
            if local[org_id] >= cap or self._stopping.is_set():
                continue
            org_running = (
                select(func.count())
                .select_from(running)
                .where(running.org_id == org_id, running.state == JobState.RUNNING.value)
                .scalar_subquery()
            )
            now = utcnow()
            with self._store.session() as session:
                claimed = session.execute(
                    update(QueryJob)
                    .where(
                        QueryJob.id == job_id,
                        QueryJob.state == JobState.QUEUED.value,
                        org_running < cap,
                    )
                    .values(
                        state=JobState.RUNNING.value,
                        runner=self.identity,
                        started_at=now,
                        heartbeat_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
                if _rowcount(claimed) != 1:
                    continue
                row = session.get(QueryJob, job_id)
                assert row is not None
                with self._lock:
                    self._running[job_id] = _Control(job_id, org_id)
                return row
        return None

    def _run(self, job: QueryJob) -> None:
        with self._lock:
            control = self._running[job.id]
        try:
            manifest = self._execute(job, control)
        except BaseException as exc:
            if control.shutting_down and not control.canceled:
                self._requeue(job.id)
            elif control.canceled or isinstance(exc, _Canceled):
                self._finish(
                    job.id,
                    JobState.CANCELED,
                    error_code="canceled",
                    error_message="Canceled on request; the query was stopped on the engine",
                )
            else:
                if not isinstance(exc, SqlgateError):
                    log.exception("async job %s failed", job.id)
                code, message = error_of(exc)
                self._finish(job.id, JobState.FAILED, error_code=code, error_message=message)
            self._results.delete(job.id)
            if not isinstance(exc, Exception):
                raise
        else:
            retention = timedelta(hours=self._settings.async_result_retention_hours)
            done = self._finish(
                job.id,
                JobState.SUCCEEDED,
                row_count=manifest.row_count,
                byte_count=manifest.byte_count,
                truncated=manifest.truncated,
                result=manifest.to_dict(),
                result_expires_at=utcnow() + retention,
            )
            if not done:  # failed meanwhile by another process (missed heartbeats)
                self._results.delete(job.id)
        finally:
            with self._lock:
                self._running.pop(job.id, None)

    def _execute(self, job: QueryJob, control: _Control) -> Manifest:
        settings = self._settings
        principal = self._jobs.submitter(job)
        request = QueryRequest(job.sql, job.params, job.row_limit, job.timeout)
        limits = Limits(
            byte_limit=settings.async_byte_limit,
            chunk_rows=settings.async_chunk_rows,
            chunk_bytes=settings.async_chunk_bytes,
        )
        progress = _ProgressWriter(self, job.id)
        with observe_deadlines(control.observe):
            control.check()
            stream = self._queries.export(
                principal,
                job.connection_id,
                request,
                client=job.client,
                action=job.action,
                surface=ASYNC,
                capped=False,  # jobs have their own per-org cap (async_org_concurrency)
                output=get_format(job.format),
            )
            try:
                control.check()
                if stream.text:  # CSV the engine wrote (PostgreSQL): its text, as it is
                    manifest = self._results.write_text(
                        job.id,
                        stream.columns,
                        stream.header(),
                        control.watch(stream.text_chunks()),
                        limits,
                        progress,
                        control.check,
                    )
                else:
                    manifest = self._results.write(
                        job.id,
                        job.format,
                        stream.columns,
                        stream.schema,
                        control.watch(stream),
                        limits,
                        progress,
                        control.check,
                    )
            except (_Canceled, _ShuttingDown):
                raise
            except Exception as exc:  # a write that failed: the query's audit row says so
                stream.fail(exc)
                raise
            finally:
                stream.close()
        if stream.truncated and not manifest.truncated:
            manifest.truncated, manifest.truncated_by = True, "row_limit"
        return manifest

    def _finish(self, job_id: str, state: JobState, **values: Any) -> bool:
        """Record the outcome, unless the job is no longer ours (then False)."""
        now = utcnow()
        with self._store.session() as session:
            result = session.execute(
                update(QueryJob)
                .where(
                    QueryJob.id == job_id,
                    QueryJob.state == JobState.RUNNING.value,
                    QueryJob.runner == self.identity,
                )
                .values(state=state.value, finished_at=now, heartbeat_at=now, **values)
                .execution_options(synchronize_session=False)
            )
        return _rowcount(result) == 1

    def _requeue(self, job_id: str) -> None:
        with self._store.session() as session:
            session.execute(
                update(QueryJob)
                .where(
                    QueryJob.id == job_id,
                    QueryJob.state == JobState.RUNNING.value,
                    QueryJob.runner == self.identity,
                )
                .values(
                    state=JobState.QUEUED.value,
                    runner=None,
                    started_at=None,
                    heartbeat_at=None,
                    row_count=0,
                    byte_count=0,
                )
                .execution_options(synchronize_session=False)
            )

    def report_progress(self, job_id: str, rows: int, nbytes: int) -> None:
        with self._store.session() as session:
            session.execute(
                update(QueryJob)
                .where(QueryJob.id == job_id, QueryJob.runner == self.identity)
                .values(row_count=rows, byte_count=nbytes, heartbeat_at=utcnow())
                .execution_options(synchronize_session=False)
            )

    # --- housekeeping ---------------------------------------------------------------------

    def _housekeep(self) -> None:
        last_beat = last_stale = last_retention = time.monotonic()
        beat_every = self._settings.async_stale_seconds / 4
        retention_every = min(
            _RETENTION_SECONDS, self._settings.async_result_retention_hours * 3600 / 2
        )
        # Cancels made in another process must reach a running job soon; while none runs
        # here there is nothing to deliver and the chores below are due less often.
        idle_pause = max(
            _HOUSEKEEPING_SECONDS,
            min(
                _IDLE_HOUSEKEEPING_SECONDS, self._settings.async_stale_seconds / 4, retention_every
            ),
        )
        while not self._stopping.is_set():
            self._claimed.wait(_HOUSEKEEPING_SECONDS if self._local_ids() else idle_pause)
            self._claimed.clear()
            if self._stopping.is_set():
                return
            now = time.monotonic()
            try:
                self._deliver_cancels()
                if now - last_beat >= beat_every:
                    self._heartbeat()
                    last_beat = now
                if now - last_stale >= self._settings.async_stale_seconds / 2:
                    self.fail_stale()
                    last_stale = now
                if now - last_retention >= retention_every:
                    self.enforce_retention()
                    last_retention = now
            except Exception:
                log.exception("async job housekeeping failed; retrying")

    def _local_ids(self) -> list[str]:
        with self._lock:
            return list(self._running)

    def _deliver_cancels(self) -> None:
        ids = self._local_ids()
        if not ids:
            return
        with self._store.session() as session:
            wanted = session.scalars(
                select(QueryJob.id).where(QueryJob.id.in_(ids), QueryJob.cancel_requested)
            ).all()
        for job_id in wanted:
            self.cancel_local(job_id)

    def _heartbeat(self) -> None:
        ids = self._local_ids()
        if not ids:
            return
        with self._store.session() as session:
            session.execute(
                update(QueryJob)
                .where(QueryJob.id.in_(ids), QueryJob.runner == self.identity)
                .values(heartbeat_at=utcnow())
                .execution_options(synchronize_session=False)
            )

    def recover(self) -> list[str]:
        """At start-up: fail the jobs a dead process on this host left running (and those
        whose heartbeat is stale), then delete result files no kept job owns."""
        with self._store.session() as session:
            rows = session.execute(
                select(QueryJob.id, QueryJob.runner).where(QueryJob.state == JobState.RUNNING.value)
            ).all()
        failed = [job_id for job_id, runner in rows if runner and is_gone(runner)]
        for job_id, runner in rows:
            if job_id in failed:
                self._fail_interrupted(job_id, runner)
        failed += self.fail_stale()
        with self._store.session() as session:
            keep = set(
                session.scalars(
                    select(QueryJob.id).where(
                        QueryJob.state.in_([JobState.QUEUED.value, JobState.RUNNING.value])
                        | (
                            (QueryJob.state == JobState.SUCCEEDED.value)
                            & QueryJob.result_deleted_at.is_(None)
                        )
                    )
                ).all()
            )
        removed = self._results.sweep(keep)
        if failed or removed:
            log.warning(
                "async jobs: %d interrupted by a dead server process were failed; %d "
                "result directories without a finished job were removed",
                len(failed),
                len(removed),
            )
        return failed

    def fail_stale(self) -> list[str]:
        """Fail running jobs (of any process) whose heartbeat stopped."""
        cutoff = utcnow() - timedelta(seconds=self._settings.async_stale_seconds)
        with self._store.session() as session:
            rows = session.execute(
                select(QueryJob.id, QueryJob.runner).where(
                    QueryJob.state == JobState.RUNNING.value,
                    QueryJob.heartbeat_at < cutoff,
                    QueryJob.runner != self.identity,
                )
            ).all()
        failed = []
        for job_id, runner in rows:
            if self._fail_interrupted(job_id, runner):
                failed.append(job_id)
                self._results.delete(job_id)
        return failed

    def _fail_interrupted(self, job_id: str, runner: str | None) -> bool:
        with self._store.session() as session:
            result = session.execute(
                update(QueryJob)
                .where(
                    QueryJob.id == job_id,
                    QueryJob.state == JobState.RUNNING.value,
                    QueryJob.runner == runner,
                )
                .values(
                    state=JobState.FAILED.value,
                    finished_at=utcnow(),
                    error_code=INTERRUPTED,
                    error_message=_INTERRUPTED_MESSAGE,
                )
                .execution_options(synchronize_session=False)
            )
        return _rowcount(result) == 1

    def enforce_retention(self) -> int:
        """Delete results past retention (their links then answer 410) and old job records."""
        now = utcnow()
        with self._store.session() as session:
            expired = session.scalars(
                select(QueryJob.id)
                .where(QueryJob.result_expires_at <= now, QueryJob.result_deleted_at.is_(None))
                .limit(1000)
            ).all()
        purged = 0
        for job_id in expired:
            with self._store.session() as session:
                result = session.execute(
                    update(QueryJob)
                    .where(QueryJob.id == job_id, QueryJob.result_deleted_at.is_(None))
                    .values(result_deleted_at=now)
                    .execution_options(synchronize_session=False)
                )
            if _rowcount(result) == 1:
                self._results.delete(job_id)
                purged += 1
        history = now - timedelta(days=self._settings.async_job_history_days)
        with self._store.session() as session:
            session.execute(
                delete(QueryJob)
                .where(QueryJob.finished_at < history)
                .execution_options(synchronize_session=False)
            )
        return purged


class _ProgressWriter:
    """Writes rows and bytes so far to the job at most once a second."""

    def __init__(self, runner: JobRunner, job_id: str) -> None:
        self._runner = runner
        self._job_id = job_id
        self._last = time.monotonic()

    def __call__(self, rows: int, nbytes: int) -> None:
        now = time.monotonic()
        if now - self._last < _PROGRESS_SECONDS:
            return
        self._last = now
        try:
            self._runner.report_progress(self._job_id, rows, nbytes)
        except Exception:
            log.warning("could not record the progress of job %s", self._job_id, exc_info=True)


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
