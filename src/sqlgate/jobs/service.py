"""Async queries as a use case: submit (idempotently), look at, cancel, link and download jobs.

The :class:`~sqlgate.jobs.runner.JobRunner` runs them; this module only reads and writes job
records and result links, so the CLI or another process can use it without running workers.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio.to_thread
import pyarrow as pa
from sqlalchemy import func, null, select, update
from sqlalchemy.exc import IntegrityError

from sqlgate.auth.principal import ORG_ACTIVE, Principal
from sqlgate.auth.scopes import Role, Scope
from sqlgate.errors import (
    AuthenticationError,
    AuthorizationError,
    Conflict,
    Gone,
    NotFound,
    RateLimitExceeded,
    SqlgateError,
    SqlNotAllowed,
    SqlSyntaxError,
    ValidationError,
)
from sqlgate.jobs.model import WORKFLOW_EXPORT, JobState, JobView
from sqlgate.results.formats import ASYNC_DEFAULT, ASYNC_FORMATS
from sqlgate.results.signing import LinkSigner, check_fresh, check_signed
from sqlgate.results.storage import ResultStore
from sqlgate.services.audit import AuditLog, AuditRecord
from sqlgate.services.connections import ConnectionService
from sqlgate.services.limits import ASYNC, QUERY
from sqlgate.settings import Settings
from sqlgate.sql.cache import analyze_sql
from sqlgate.sql.guard import over_limit, refusal
from sqlgate.store.db import Store
from sqlgate.store.models import ApiKey, Member, Organization, QueryJob, new_id, utcnow

MAX_IDEMPOTENCY_KEY = 200
#: Longest a client may wait for a job to finish in one request (``wait``, ``wait_timeout``).
MAX_WAIT_SECONDS = 50


@dataclass(frozen=True)
class JobSpec:
    """What a client asks to run asynchronously."""

    sql: str
    params: Mapping[str, Any] | None = None
    format: str = ASYNC_DEFAULT
    row_limit: int | None = None
    timeout: float | None = None
    idempotency_key: str | None = None
    action: str = "query.async"
    client: str | None = None


@dataclass(frozen=True)
class Submitted:
    job: JobView
    created: bool  # False when an earlier submission with the same idempotency key is returned


@dataclass(frozen=True)
class ChunkLink:
    index: int
    file: str
    row_count: int
    byte_count: int
    url: str  # relative: /v1/results/...
    expires_at: datetime


@dataclass(frozen=True)
class Download:
    path: Path
    media_type: str
    filename: str


class JobService:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        connections: ConnectionService,
        audit: AuditLog,
        results: ResultStore,
        signer: LinkSigner,
    ) -> None:
        self._settings = settings
        self._store = store
        self._connections = connections
        self._audit = audit
        self.results = results
        self._signer = signer
        #: Set by a running JobRunner: wake a worker; stop a job this process runs.
        self.on_submit: Callable[[], None] = lambda: None
        self.on_cancel: Callable[[str], None] = lambda _job_id: None

    # --- submit ---------------------------------------------------------------------------

    def submit(self, principal: Principal, connection_ref: str | None, spec: JobSpec) -> Submitted:
        """Queue ``spec`` as a job, or return the job an earlier submission with the same
        idempotency key made (409 if that one asked for something else)."""
        settings = self._settings
        if spec.format not in ASYNC_FORMATS:
            raise ValidationError(
                f"format must be one of {', '.join(ASYNC_FORMATS)}", field="format"
            )
        row_limit, timeout = ASYNC.limits(settings).apply(spec.row_limit, spec.timeout)
        key = spec.idempotency_key
        if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
            raise ValidationError(
                f"The idempotency key must be 1 to {MAX_IDEMPOTENCY_KEY} characters",
                field="idempotency_key",
            )
        conn = self._connections.get(principal.org_id, connection_ref)
        fingerprint = _fingerprint(conn.id, spec, row_limit, timeout)
        if key is not None:
            existing = self._by_idempotency_key(principal, key, fingerprint)
            if existing is not None:
                return Submitted(existing, created=False)
        self._check_sql(principal, conn.id, conn.dialect, spec)
        self._check_queue(principal.org_id)
        row = QueryJob(
            id=new_id("job"),
            org_id=principal.org_id,
            member_id=principal.member_id,
            key_id=principal.key_id,
            connection_id=conn.id,
            action=spec.action,
            sql=spec.sql,
            params=dict(spec.params) if spec.params else None,
            format=spec.format,
            row_limit=row_limit,
            timeout=float(timeout),
            state=JobState.QUEUED.value,
            idempotency_key=key,
            request_hash=fingerprint,
            cancel_requested=False,
            row_count=0,
            byte_count=0,
            truncated=False,
            client=spec.client,
            created_at=utcnow(),
        )
        try:
            with self._store.session() as session:
                session.add(row)
        except IntegrityError:
            # Two retries raced with the same key: the other one won; answer with its job.
            existing = self._by_idempotency_key(principal, key or "", fingerprint)
            if existing is None:
                raise
            return Submitted(existing, created=False)
        self.on_submit()
        return Submitted(JobView.of(row), created=True)

    def _by_idempotency_key(
        self, principal: Principal, key: str, fingerprint: str
    ) -> JobView | None:
        with self._store.session() as session:
            row = session.scalars(
                select(QueryJob).where(
                    QueryJob.member_id == principal.member_id, QueryJob.idempotency_key == key
                )
            ).one_or_none()
            if row is None:
                return None
            if row.request_hash != fingerprint:
                raise Conflict(
                    "This idempotency key was already used for a different request; use a "
                    "new key for a new query",
                    job_id=row.id,
                )
            return JobView.of(row)

    def _check_sql(
        self, principal: Principal, connection_id: str, dialect: str, spec: JobSpec
    ) -> None:
        """Refuse SQL the guard refuses now, rather than queueing a job that must fail. (The
        job itself runs through the query service, guard and all, again.)"""
        too_long = over_limit(spec.sql, self._settings.max_sql_chars)
        if too_long:
            raise refusal(too_long)
        analysis = analyze_sql(spec.sql, dialect)
        if not self._settings.sql_guard or analysis.is_valid:
            return
        error = refusal(analysis)
        self._audit.record(
            AuditRecord(
                org_id=principal.org_id,
                action=spec.action,
                status="rejected" if isinstance(error, SqlNotAllowed | SqlSyntaxError) else "error",
                member_id=principal.member_id,
                key_id=principal.key_id,
                connection_id=connection_id,
                sql=spec.sql,
                error_code=error.code,
                client=spec.client,
            )
        )
        raise error

    def _check_queue(self, org_id: str) -> None:
        with self._store.session() as session:
            queued = session.scalar(
                select(func.count())
                .select_from(QueryJob)
                .where(QueryJob.org_id == org_id, QueryJob.state == JobState.QUEUED.value)
            )
        if (queued or 0) >= self._settings.async_queue_limit:
            raise RateLimitExceeded(
                f"The organization already has {queued} queued async queries (the limit is "
                f"{self._settings.async_queue_limit}); retry when some have finished",
                retry_after=5,
            )

    # --- look, cancel ---------------------------------------------------------------------

    def get(self, principal: Principal, job_id: str) -> JobView:
        """The job, if the caller may see it: their own, or any of their org's with ``admin``.
        Anything else is a 404, as if it did not exist."""
        with self._store.session() as session:
            row = session.get(QueryJob, job_id)
            if row is None or not _visible(principal, row):
                raise NotFound(f"Job {job_id!r} not found")
            return JobView.of(row)

    async def wait(self, principal: Principal, job: JobView, seconds: float) -> JobView:
        """Poll the job until it finishes or ``seconds`` pass (the runner may be another
        process, so the store is the one place to look). Reads run in worker threads."""
        until = time.monotonic() + seconds
        pause = 0.02
        while not job.finished:
            left = until - time.monotonic()
            if left <= 0:
                break
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 1.5, 0.1)
            job = await anyio.to_thread.run_sync(self.get, principal, job.id)
        return job

    def peek(self, job_id: str) -> JobView | None:
        with self._store.session() as session:
            row = session.get(QueryJob, job_id)
            return JobView.of(row) if row is not None else None

    def cancel(self, principal: Principal, job_id: str) -> JobView:
        """Cancel a queued job at once, or ask the process running it to stop the query on
        the engine. Cancelling a finished job changes nothing."""
        job = self.get(principal, job_id)
        if job.finished:
            return job
        now = utcnow()
        with self._store.session() as session:
            session.execute(
                update(QueryJob)
                .where(QueryJob.id == job_id, QueryJob.state == JobState.QUEUED.value)
                .values(
                    state=JobState.CANCELED.value,
                    cancel_requested=True,
                    finished_at=now,
                    error_code="canceled",
                    error_message="Canceled before it started",
                )
            )
            session.execute(
                update(QueryJob)
                .where(QueryJob.id == job_id, QueryJob.state == JobState.RUNNING.value)
                .values(cancel_requested=True)
            )
        self.on_cancel(job_id)
        return self.get(principal, job_id)

    # --- links and downloads --------------------------------------------------------------

    def links(self, job: JobView, seconds: int | None = None) -> list[ChunkLink]:
        """Fresh signed links to every chunk of a succeeded job's result."""
        if job.state is not JobState.SUCCEEDED or job.manifest is None:
            raise Conflict(
                f"Job {job.id} has no result to download (it is {job.state.value})",
                state=job.state.value,
            )
        self._check_retained(job)
        assert job.result_expires_at is not None
        ttl = seconds or self._settings.async_link_seconds
        expires = min(int(time.time()) + ttl, int(job.result_expires_at.timestamp()))
        links = []
        for index, chunk in enumerate(job.manifest.chunks):
            signed = self._signer.sign(job.id, chunk.file, expires)
            links.append(
                ChunkLink(
                    index=index,
                    file=chunk.file,
                    row_count=chunk.row_count,
                    byte_count=chunk.byte_count,
                    url=signed.url,
                    expires_at=datetime.fromtimestamp(expires, UTC),
                )
            )
        return links

    def submitter(self, job: QueryJob) -> Principal:
        """Who submitted the job, as the query service records them, when a worker runs it:
        refused if their key has been revoked since, or their organization suspended. A
        workflow's export has no key: its owner, while a member."""
        export = job.action == WORKFLOW_EXPORT
        query = (
            select(null().label("revoked_at"), Member.role, Organization.slug, Organization.status)
            .join(Organization, Organization.id == Member.org_id)
            .where(Member.id == job.member_id, Member.status == "active")
            if export
            else select(ApiKey.revoked_at, Member.role, Organization.slug, Organization.status)
            .join(Member, Member.id == ApiKey.member_id)
            .join(Organization, Organization.id == ApiKey.org_id)
            .where(ApiKey.id == job.key_id)
        )
        with self._store.session() as session:
            row = session.execute(query).one_or_none()
        if row is None or row.revoked_at is not None:
            who = (
                "workflow's owner left" if export else "API key that submitted this job was revoked"
            )
            raise AuthenticationError(f"The {who} before the job ran")
        if row.status != ORG_ACTIVE:
            raise AuthorizationError("The organization was suspended before the job ran")
        return Principal(
            org_id=job.org_id,
            org_slug=row.slug,
            member_id=job.member_id,
            role=Role(row.role),
            key_id=job.key_id,
            scopes=frozenset(),
        )

    def download(
        self, job_id: str, file: str, expires: int | None, signature: str | None
    ) -> Download:
        """Resolve a signed link: 403 if tampered or expired, 410 past retention."""
        check_signed(self._signer, job_id, file, expires, signature)
        assert expires is not None
        job = self.peek(job_id)
        if job is None or job.manifest is None:
            raise Gone("This result is no longer kept")
        with self._store.session() as session:
            status = session.scalar(
                select(Organization.status).where(Organization.id == job.org_id)
            )
        if status != ORG_ACTIVE:
            raise AuthorizationError("This organization is suspended: its result links are paused")
        self._check_retained(job)
        check_fresh(expires)
        chunk = next((c for c in job.manifest.chunks if c.file == file), None)
        path = self.results.file(job_id, file) if chunk is not None else None
        if path is None:
            raise Gone("This result file is no longer kept")
        return Download(path, job.manifest.media_type, f"{job_id}-{file}")

    def inline_table(self, job: JobView) -> pa.Table | None:
        """A succeeded parquet result read back whole, for the hybrid wait of
        ``POST /api/v1/query``, which answers inline as that query would: None when the result
        has more rows than its surface's maximum, or is not there."""
        m = job.manifest
        if job.state is not JobState.SUCCEEDED or m is None or m.format != "parquet":
            return None
        max_rows = QUERY.limits(self._settings).row_max
        if m.row_count > max_rows or job.result_deleted_at is not None:
            return None
        import pyarrow.parquet as pq  # only here: the server does not load it before it is needed

        tables = []
        for chunk in m.chunks:
            path = self.results.file(job.id, chunk.file)
            if path is None:
                return None
            tables.append(pq.read_table(path))
        return pa.concat_tables(tables) if tables else None

    def _check_retained(self, job: JobView) -> None:
        expired = job.result_expires_at is not None and job.result_expires_at <= utcnow()
        if job.result_deleted_at is not None or expired:
            raise Gone(
                f"The result of job {job.id} is past its retention "
                f"({self._settings.async_result_retention_hours:g} h) and was deleted; run the "
                "query again",
                job_id=job.id,
            )


def idempotency_key(header: str | None, body: str | None) -> str | None:
    """The one idempotency key of a submission that may carry it twice (a header and the
    body's ``request_id``): they must agree."""
    if header is not None and body is not None and header != body:
        raise ValidationError(
            "The Idempotency-Key header and the body's request_id differ; send one",
            field="request_id",
        )
    return header if header is not None else body


def _visible(principal: Principal, row: QueryJob) -> bool:
    if row.org_id != principal.org_id:
        return False
    return row.member_id == principal.member_id or Scope.ADMIN in principal.scopes


def _fingerprint(connection_id: str, spec: JobSpec, row_limit: int, timeout: float) -> str:
    payload = {
        "connection_id": connection_id,
        "sql": spec.sql,
        "params": dict(spec.params) if spec.params else None,
        "format": spec.format,
        "row_limit": row_limit,
        "timeout": float(timeout),
        "action": spec.action,
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _error_classes(cls: type[SqlgateError]) -> dict[str, type[SqlgateError]]:
    found = {cls.code: cls}
    for sub in cls.__subclasses__():
        for code, klass in _error_classes(sub).items():
            found.setdefault(code, klass)
    return found


def job_error(job: JobView) -> SqlgateError:
    """A failed job's error, as the synchronous call would have raised it (same code and
    status), plus the ``job_id``."""
    klass = _error_classes(SqlgateError).get(job.error_code or "", SqlgateError)
    error = SqlgateError(job.error_message or "The job failed", status=klass.status, job_id=job.id)
    error.code = job.error_code or error.code
    return error


def error_of(exc: BaseException) -> tuple[str, str]:
    """The code and message a failed job reports."""
    if isinstance(exc, SqlgateError):
        return exc.code, exc.message
    return "internal_error", "The job failed unexpectedly; the server log has details"
