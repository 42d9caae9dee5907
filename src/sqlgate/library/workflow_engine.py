"""The workflow threads of a server process: a scheduler and the run workers.

Every ``sqlgate serve`` process runs them; with several processes on one PostgreSQL store each
scheduled time still fires once, because firing it means inserting its run and the store keeps
one run per workflow and scheduled time. Any process's worker may take a queued run (a
conditional update moves it to ``running``); while it runs, the worker reports every few
seconds, and a run whose process has stopped reporting becomes ``interrupted``.

The scheduler's clock is injectable (``clock``) and :meth:`WorkflowEngine.tick` does one look,
so tests can step through time without waiting for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import ROLE_SCOPES, Role, Scope
from sqlgate.library.workflow_spec import next_time
from sqlgate.library.workflow_steps import Context, StepRunner
from sqlgate.library.workflow_store import (
    Claimed,
    Firing,
    RunInfo,
    WorkflowInfo,
    WorkflowStore,
)
from sqlgate.services.audit import AuditLog, AuditRecord
from sqlgate.services.orgs import ActiveMember
from sqlgate.services.process_identity import is_gone, new_identity
from sqlgate.settings import Settings

log = logging.getLogger(__name__)
#: At most this many missed times of one workflow are recorded one by one after downtime.
MAX_MISSED_RECORDS = 100
#: Workflows fired in one transaction (the workers start on a chunk as soon as it is written).
FIRE_CHUNK = 100
#: Seconds between two prunings of old runs (besides one at start).
PRUNE_SECONDS = 3600.0
#: At most this many chunks per look (``FIRE_CHUNK`` times this many workflows due at once).
MAX_CHUNKS = 1000


def _now() -> datetime:
    return datetime.now(UTC)


class WorkflowEngine:
    def __init__(
        self,
        settings: Settings,
        store: WorkflowStore,
        steps: StepRunner,
        audit: AuditLog | None = None,
        *,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._settings = settings
        self._store = store
        self._steps = steps
        self._audit = audit
        self.clock = clock
        self.identity = new_identity()
        self._wake = threading.Condition()
        self._stopping = threading.Event()
        self._nudged = threading.Event()  # a schedule changed here: the scheduler looks now
        self._threads: list[threading.Thread] = []
        self._signal = 0  # counts wake-ups, so a worker about to wait misses none
        self._scheduling = False
        self._running: set[str] = set()
        self._lock = threading.Lock()

    # --- life cycle ------------------------------------------------------------------------------

    def start(self, *, scheduler: bool = True) -> None:
        if self._threads:
            return
        self._stopping.clear()
        self.sweep()
        self.prune()
        # Set before the workers start: they read it to choose how long to sleep while idle.
        self._scheduling = scheduler
        for i in range(self._settings.workflow_workers):
            self._spawn(self._work, f"sqlgate-workflow-{i}")
        if scheduler:
            self._spawn(self._schedule, "sqlgate-scheduler")

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 15.0) -> None:
        self._stopping.set()
        self._nudged.set()
        self.wake(everyone=True)
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def wake(self, everyone: bool = False) -> None:
        with self._wake:
            self._signal += 1
            if everyone:
                self._wake.notify_all()
            else:
                self._wake.notify()

    def reschedule(self) -> None:
        """A workflow was created, enabled or changed in this process: the scheduler looks at
        once, so a time sooner than its next look fires when it comes."""
        self._nudged.set()

    # --- the scheduler ---------------------------------------------------------------------------

    def _schedule(self) -> None:
        interval = self._settings.scheduler_interval
        beat = min(5.0, self._settings.workflow_stale_seconds / 3)
        last_beat = last_prune = time.monotonic()
        while not self._stopping.is_set():
            delay = interval
            try:
                delay = self.look(interval)
                now = time.monotonic()
                if now - last_beat >= beat:
                    last_beat = now
                    with self._lock:
                        running = list(self._running)
                    self._store.heartbeat(self.identity, running)
                    self.sweep()
                if now - last_prune >= PRUNE_SECONDS:
                    last_prune = now
                    self.prune()
            except Exception:  # the store may be down for a moment: try again next time
                log.exception("workflow scheduler")
            self._nudged.wait(delay)
            self._nudged.clear()

    def prune(self) -> int:
        """Delete finished runs older than ``SQLGATE_WORKFLOW_RUN_RETENTION_DAYS`` (at start
        and every hour); how many."""
        days = self._settings.workflow_run_retention_days
        return self._store.prune(days, now=self.clock()) if days else 0

    def look(self, interval: float) -> float:
        """One look of the scheduler: fire what is due, wake the workers if any run is queued
        (also one another process queued); the seconds to sleep before the next look, which is
        the soonest scheduled time when that comes before ``interval`` is up, so a time fires
        when it comes rather than up to ``interval`` later. While nothing is due a look is one
        small query."""
        soonest, queued = self._store.pulse()
        if soonest is not None and soonest <= self.clock():
            self.tick()
            soonest, queued = self._store.pulse()
        if queued:
            self.wake(everyone=True)
        if soonest is None:
            return interval
        delay = (soonest - self.clock()).total_seconds()
        return interval if delay <= 0 else min(interval, delay)

    def sweep(self) -> int:
        """Runs whose process stopped reporting, or is known gone (it ran on this machine and
        its pid is no longer alive), become ``interrupted``."""
        running = self._store.running()
        if not running:
            return 0
        cutoff = self.clock() - timedelta(seconds=self._settings.workflow_stale_seconds)
        dead = [run_id for run_id, runner in running if runner != self.identity and is_gone(runner)]
        return self._store.interrupt_stale(cutoff, dead)

    def tick(self) -> int:
        """Fire what is due now: the newest due time of each workflow runs if it is within the
        grace period; older ones are recorded as ``missed``. Workflows are fired
        ``FIRE_CHUNK`` at a time, each chunk one transaction, and the workers wake after each,
        so the first runs start while later ones are still being written. Returns how many
        runs this process queued."""
        queued = 0
        for _ in range(MAX_CHUNKS):
            now = self.clock()
            due = self._store.due(now, limit=FIRE_CHUNK)
            fired = self._store.fire([self._plan(info, now) for info in due])
            if fired:
                self.wake(everyone=True)
            queued += fired
            if len(due) < FIRE_CHUNK:
                break
        return queued

    def _plan(self, info: WorkflowInfo, now: datetime) -> Firing:
        seen = info.next_run_at
        assert seen is not None
        times = [seen]
        following = next_time(info.trigger, seen)
        while following is not None and following <= now:
            times.append(following)
            following = next_time(info.trigger, following)
            if len(times) > MAX_MISSED_RECORDS:  # long downtime: skip ahead
                times = times[-1:]
        grace = timedelta(seconds=self._settings.workflow_grace_seconds)
        missed = {"code": "missed", "message": "The server was not running at this time"}
        runs: list[tuple[datetime, str, dict[str, Any] | None]] = [
            (when, "missed", missed) for when in times[:-1]
        ]
        newest = times[-1]
        runs.append(
            (newest, "queued", None) if now - newest <= grace else (newest, "missed", missed)
        )
        return Firing(info, seen, following, runs)

    # --- the workers -----------------------------------------------------------------------------

    def _work(self) -> None:
        # Woken by the scheduler and by a manual run; a worker polls by itself only when this
        # process has no scheduler.
        idle = 30.0 if self._scheduling else max(self._settings.scheduler_interval, 1.0)
        while not self._stopping.is_set():
            with self._wake:
                signal = self._signal
            try:
                claimed = self._store.claim_next(self.identity)
            except Exception:
                log.exception("workflow worker")
                claimed = None
            if claimed is None:
                with self._wake:
                    if self._signal == signal and not self._stopping.is_set():
                        self._wake.wait(timeout=idle)
                continue
            run = claimed.run
            with self._lock:
                self._running.add(run.id)
            try:
                self.execute(run, claimed)
            except Exception:
                log.exception("workflow run %s", run.id)
                self._finish(run, "failed", {"code": "internal_error", "message": "internal error"})
            finally:
                with self._lock:
                    self._running.discard(run.id)

    def run_here(self, run: RunInfo) -> str | None:
        """Claim a queued run and run it in this thread (the command line); None when a
        server's worker took it first."""
        claimed = self._store.claim(run.id, self.identity)
        if claimed is None:
            return None
        stop = threading.Event()
        beat = min(5.0, self._settings.workflow_stale_seconds / 3)

        def report() -> None:  # alive, for the servers' sweeps
            while not stop.wait(beat):
                self._store.heartbeat(self.identity, [run.id])

        thread = threading.Thread(target=report, name="sqlgate-workflow-beat", daemon=True)
        thread.start()
        try:
            return self.execute(claimed)
        finally:
            stop.set()
            thread.join()

    def execute(self, run: RunInfo, claimed: Claimed | None = None) -> str:
        """Run a claimed run's steps as the workflow's owner; its final status. ``claimed``
        brings the workflow and its owner as read when the run was taken (else they are read
        now)."""
        if claimed is None:
            info = self._store.find(run.workflow_id)
            owner = None if info is None else self._store.owner(info.org_id, info.member_id)
        else:
            info, owner = claimed.workflow, claimed.owner
        if info is None:
            return self._finish(run, "canceled", {"code": "not_found", "message": "deleted"})
        principal, refusal = self._owner(info, owner)
        if principal is None:
            return self._finish(run, "failed", {"code": "authorization_error", "message": refusal})
        ctx = Context(info, run, principal)
        records: list[dict[str, Any]] = []
        status, error = "succeeded", None
        steps = info.steps
        for index, step in enumerate(steps):
            record, go_on = self._steps.run(ctx, index, step)
            records.append(record)
            last = not go_on or index == len(steps) - 1
            # Progress is written before the next step, which does not start if the run was
            # canceled or declared dead meanwhile; the last step's is written by _finish.
            if not last and not self._store.save_run(run.id, self.identity, steps=records):
                return "interrupted"
            if not go_on:
                if record["status"] == "failed":
                    status, error = "failed", record.get("error")
                else:
                    status = "skipped"
                records += [
                    {"index": i, "type": s["type"], "status": "skipped"}
                    for i, s in enumerate(steps[index + 1 :], start=index + 1)
                ]
                break
        return self._finish(run, status, error, records)

    @staticmethod
    def _owner(info: WorkflowInfo, owner: ActiveMember | None) -> tuple[Principal | None, str]:
        if owner is None:
            return None, (
                f"The workflow's owner ({info.member_id}) is no longer a member of the "
                "organization (an admin must recreate the workflow), or the organization is "
                "suspended"
            )
        role = Role(owner.role)
        if Scope.QUERY_EXECUTE not in ROLE_SCOPES[role]:
            return None, (
                f"The workflow's owner ({info.member_id}) now has the {role.value} role, "
                "which may not run queries"
            )
        principal = Principal(
            org_id=info.org_id,
            org_slug=owner.org_slug,
            member_id=info.member_id,
            role=role,
            key_id=info.id,
            scopes=ROLE_SCOPES[role],
        )
        return principal, ""

    def _finish(
        self,
        run: RunInfo,
        status: str,
        error: dict[str, Any] | None,
        records: list[dict[str, Any]] | None = None,
    ) -> str:
        values: dict[str, Any] = {"status": status, "error": error, "finished_at": _now()}
        if records is not None:
            values["steps"] = records
        if not self._store.save_run(run.id, self.identity, **values):
            return "interrupted"
        if self._audit is not None:
            self._audit.record(
                AuditRecord(
                    org_id=run.org_id,
                    action="workflow.run",
                    status="ok" if status in ("succeeded", "skipped") else "error",
                    member_id=run.member_id,
                    error_code=(error or {}).get("code"),
                    target_id=run.workflow_id,
                    detail={"run_id": run.id, "trigger": run.trigger, "status": status},
                )
            )
        return status
