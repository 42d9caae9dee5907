"""Running, validating and exporting SQL: the one path every query surface goes through.

guard (parser-level allow-list) -> parameters -> access policy (the connection's row and column
policies for the caller, when one is deployed) -> engine (read-only session, deadline) -> audit.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa

from sqlgate.auth.concurrency import ConcurrencyLimiter, close_with_request
from sqlgate.auth.principal import Principal
from sqlgate.engines.base import Engine, ResultStream
from sqlgate.engines.csv_stream import CsvStream
from sqlgate.engines.result import QueryResult
from sqlgate.errors import (
    NotFound,
    ParameterError,
    SqlgateError,
    SqlNotAllowed,
    SqlSyntaxError,
)
from sqlgate.results.cells import neutralise_csv
from sqlgate.results.formats import OutputFormat, csv_header
from sqlgate.services.access_policies import AccessPolicies
from sqlgate.services.audit import AuditLog, AuditRecord
from sqlgate.services.connections import ConnectionInfo, ConnectionService
from sqlgate.services.limits import EXPORT, QUERY, Surface
from sqlgate.services.policy_enforcement import Enforcement, scrubbed
from sqlgate.settings import Settings
from sqlgate.sql.access_rewrite import enforce
from sqlgate.sql.cache import CACHEABLE_SQL_CHARS, analyze_sql, not_null_cached
from sqlgate.sql.guard import Analysis, over_limit, refusal
from sqlgate.sql.unknown import unknown_columns
from sqlgate.vocabulary.columns import Column


@dataclass(frozen=True)
class QueryRequest:
    sql: str
    params: Mapping[str, Any] | None = None
    row_limit: int | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class Ran:
    connection: ConnectionInfo
    result: QueryResult


#: Turns the SQL a client sent into what the connection runs (semantic SQL → native SQL).
Rewrite = Callable[[str, ConnectionInfo, str], str]


class QueryService:
    def __init__(
        self,
        settings: Settings,
        connections: ConnectionService,
        audit: AuditLog,
        slots: ConcurrencyLimiter | None = None,
        rewrite: Rewrite | None = None,
        policies: AccessPolicies | None = None,
    ) -> None:
        self._settings = settings
        self._policy = Enforcement(policies)
        self._connections = connections
        self._audit = audit
        self._slots = slots or ConcurrencyLimiter(settings)
        self._rewrite = rewrite

    def policy_key(self, principal: Principal, conn: ConnectionInfo) -> str:
        """What a cache of this caller's results on ``conn`` must key on: the fingerprint of
        the access policy as it binds them (versions, role, attributes); "" without one."""
        policies = self._policy.policies
        policy = policies.effective(principal, conn) if policies else None
        return policy.fingerprint if policy else ""

    def preview(
        self,
        admin: Principal,
        connection_ref: str | None,
        member_id: str,
        request: QueryRequest,
        *,
        client: str | None = None,
    ) -> tuple[Ran, dict[str, Any] | None]:
        """An administrator runs ``request`` as member ``member_id`` sees it under the access
        policy (audited as ``access_policy.preview``, with the admin's key): the result, and
        what the policy did, the rewritten SQL included (None without a policy)."""
        policies = self._policy.policies
        if policies is None:
            raise NotFound("Access policies are not available")
        member = policies.as_member(admin, member_id)
        ran = self.execute(
            member, connection_ref, request, action="access_policy.preview", client=client
        )
        policy = policies.effective(member, ran.connection)
        if policy is None:
            return ran, None
        native = self._native(member, ran.connection, request)
        enforced = enforce(native.sql, policy)
        return ran, {
            "versions": dict(policy.versions),
            "sql": enforced.sql,
            "tables": list(enforced.tables),
            "policies": list(enforced.policies),
            "hidden": list(enforced.hidden),
            "masked": list(enforced.masked),
        }

    def validate(self, principal: Principal, connection_ref: str | None, sql: str) -> Analysis:
        """Analyse without running. Never raises for bad SQL: the analysis says what is wrong.
        Audited like a run (``query.validate``): ``ok``, or ``rejected`` with the refusal's
        code."""
        run = self._begin(principal, connection_ref, QueryRequest(sql), "query.validate", None)
        try:
            analysis = self._validate(principal, run, sql)
        except Exception as exc:
            run.record(error=_as_error(exc))
            raise
        run.record(error=None if analysis.is_valid else refusal(analysis))
        return analysis

    def _validate(self, principal: Principal, run: _AuditedRun, sql: str) -> Analysis:
        conn = run.connection
        too_long = over_limit(sql, self._settings.max_sql_chars)
        analysis = too_long or analyze_sql(sql, conn.dialect)
        if not analysis.is_valid or analysis.warning:
            return analysis
        try:
            catalog = self._policy.catalog(principal, run, sql)
            if catalog is None:
                catalog = self._connections.engine(conn).catalog()
        except SqlNotAllowed as refused:
            return self._policy.refused_analysis(analysis, refused)
        except SqlgateError:
            return analysis
        unknown = [t for t in analysis.tables if catalog.columns(t) is None]
        if unknown:
            warning = "Unknown table" + ("s: " if len(unknown) > 1 else ": ") + ", ".join(unknown)
            return replace(analysis, warning=warning)
        if any("." in t for t in analysis.tables):
            return analysis  # schema-qualified names: table check only
        tables = {t: [c.name for c in (catalog.columns(t) or {}).values()] for t in analysis.tables}
        columns = unknown_columns(sql, conn.dialect, tables)
        if columns:
            warning = "Unknown column" + ("s: " if len(columns) > 1 else ": ") + ", ".join(columns)
            return replace(analysis, warning=warning)
        return analysis

    def execute(
        self,
        principal: Principal,
        connection_ref: str | None,
        request: QueryRequest,
        *,
        surface: Surface = QUERY,
        action: str = "query.execute",
        client: str | None = None,
    ) -> Ran:
        """Run a query and return at most ``row_limit`` rows (and whether there were more),
        within the limits of ``surface``."""
        limits = surface.limits(self._settings)
        row_limit, timeout = limits.apply(request.row_limit, request.timeout)
        run = self._begin(principal, connection_ref, request, action, client)
        try:
            request = self._native(principal, run.connection, request)
            engine = self._admit(run.connection, request)
            request = self._policy.apply(principal, run, request)
            with self._slots.acquire(principal.org_id, principal.org_slug):
                result = engine.execute(
                    request.sql,
                    request.params,
                    timeout=timeout,
                    row_limit=row_limit,
                    settings=run.settings,
                )
            _mark_not_null(result, request.sql, engine)
        except Exception as exc:  # whatever went wrong, the run has its audit row
            run.record(error=_as_error(exc))
            clean = scrubbed(exc, run.policy)
            if clean is exc:
                raise
            raise clean from None
        run.record(rows=result.row_count, cut_at=row_limit if result.truncated else None)
        return Ran(run.connection, result)

    def export(
        self,
        principal: Principal,
        connection_ref: str | None,
        request: QueryRequest,
        *,
        surface: Surface = EXPORT,
        client: str | None = None,
        action: str = "query.export",
        capped: bool = True,
        output: OutputFormat | None = None,
    ) -> Export:
        """Start a query whose rows stream out in batches (bounded memory, any size up to the
        row limit of ``surface``: exports and async jobs each have their own). The audit row is
        written when the export is closed (see :class:`Export`): ``error`` with the error's code
        when it failed part-way (a timeout, a writer's failure), with ``detail.truncated`` when
        it stopped at the row limit. The run holds one of the org's concurrent-query slots until
        then, unless ``capped`` is false (callers with a cap of their own). With ``output``,
        :meth:`Export.body` writes the export in that format, its row limit lowered to what the
        format can hold (an Excel sheet), and a CSV export from an engine that writes CSV
        itself (PostgreSQL) sends the engine's own text on."""
        limits = surface.limits(self._settings)
        row_limit, timeout = limits.apply(request.row_limit, request.timeout)
        if output is not None and output.max_rows is not None:
            row_limit = min(row_limit, output.max_rows)
        run = self._begin(principal, connection_ref, request, action, client)
        try:
            request = self._native(principal, run.connection, request)
            engine = self._admit(run.connection, request)
            request = self._policy.apply(principal, run, request)
            slot = self._slots.acquire(principal.org_id, principal.org_slug, capped=capped)
            native = output is not None and output.name == "csv" and engine.native_csv
            open_stream = engine.stream_csv if native else engine.stream
            try:
                stream: ResultStream | CsvStream = open_stream(
                    request.sql,
                    request.params,
                    timeout=timeout,
                    row_limit=row_limit,
                    settings=run.settings,
                )
            except BaseException:
                slot.release()
                raise
        except Exception as exc:
            run.record(error=_as_error(exc))
            clean = scrubbed(exc, run.policy)
            if clean is exc:
                raise
            raise clean from None
        stream.on_close(slot.release)
        export = Export(stream, run, row_limit, output)
        close_with_request(export.close)  # client gone mid-stream: close now, not at gc
        return export

    def _begin(
        self,
        principal: Principal,
        connection_ref: str | None,
        request: QueryRequest,
        action: str,
        client: str | None,
    ) -> _AuditedRun:
        try:
            connection = self._connections.get(principal.org_id, connection_ref)
        except Exception as exc:  # no such connection: audited all the same
            error = _as_error(exc)
            self._audit.record(
                AuditRecord(
                    org_id=principal.org_id,
                    member_id=principal.member_id,
                    key_id=principal.key_id,
                    action=action,
                    sql=request.sql,
                    status="error",
                    error_code=error.code,
                    client=client,
                )
            )
            raise
        return _AuditedRun(self._audit, principal, connection, request, action, client)

    def _native(
        self, principal: Principal, conn: ConnectionInfo, request: QueryRequest
    ) -> QueryRequest:
        """The request as the connection runs it (its SQL expanded from the semantic model)."""
        if self._rewrite is None or len(request.sql) > self._settings.max_sql_chars:
            return request
        native = self._rewrite(principal.org_id, conn, request.sql)
        return request if native == request.sql else replace(request, sql=native)

    def _check_length(self, sql: str) -> None:
        too_long = over_limit(sql, self._settings.max_sql_chars)
        if too_long:
            raise refusal(too_long)

    def _admit(self, conn: ConnectionInfo, request: QueryRequest) -> Engine:
        """The parser-level checks (guard, parameters), then the connection's engine. Raises
        if the query may not run."""
        self._check_length(request.sql)
        analysis = analyze_sql(request.sql, conn.dialect)
        if self._settings.sql_guard and not analysis.is_valid:
            raise refusal(analysis)
        expected = {p.lstrip("$:@") for p in analysis.parameters}
        given = set(request.params or {})
        if analysis.is_valid:
            missing, unknown = sorted(expected - given), sorted(given - expected)
            if missing or unknown:
                parts = []
                if missing:
                    parts.append("missing values for " + ", ".join(missing))
                if unknown:
                    parts.append("unknown parameters " + ", ".join(unknown))
                raise ParameterError(
                    "Parameters do not match the query: " + "; ".join(parts),
                    field="params",
                    missing=missing or None,
                    unknown=unknown or None,
                )
        return self._connections.engine(conn)


@dataclass
class _AuditedRun:
    """One query on its way through the service; ``record`` writes its audit row, once, with
    the first failure reported (``fail``) if there was one."""

    audit: AuditLog
    principal: Principal
    connection: ConnectionInfo
    request: QueryRequest
    action: str
    client: str | None
    started: float = field(default_factory=time.perf_counter)
    failure: SqlgateError | None = None
    recorded: bool = False
    #: What the access policy did to the query (``detail.access_policy``), if one applied.
    policy: dict[str, Any] | None = None
    #: Session settings the policy's native layer reads (PostgreSQL ``SET LOCAL``), if any.
    settings: dict[str, str] | None = None

    def fail(self, exc: BaseException) -> None:
        if self.failure is None:
            self.failure = _as_error(exc)

    def record(
        self,
        *,
        rows: int | None = None,
        error: SqlgateError | None = None,
        cut_at: int | None = None,
    ) -> None:
        """Write the audit row: ``cut_at`` is the row limit the result stopped at, if it did
        (``detail: {"truncated": true, "row_limit": N}``)."""
        if self.recorded:
            return
        self.recorded = True
        error = error or self.failure
        status = "ok"
        if error is not None:
            status = "rejected" if isinstance(error, SqlNotAllowed | SqlSyntaxError) else "error"
        self.audit.record(
            AuditRecord(
                org_id=self.principal.org_id,
                member_id=self.principal.member_id,
                key_id=self.principal.key_id,
                action=self.action,
                connection_id=self.connection.id,
                sql=self.request.sql,
                status=status,
                error_code=error.code if error else None,
                row_count=rows,
                duration_ms=round((time.perf_counter() - self.started) * 1000, 3),
                client=self.client,
                detail=self._detail(cut_at),
            )
        )

    def _detail(self, cut_at: int | None) -> dict[str, Any] | None:
        detail: dict[str, Any] = {}
        if cut_at is not None:
            detail.update(truncated=True, row_limit=cut_at)
        if self.policy is not None:
            detail["access_policy"] = self.policy
        return detail or None


class Export:
    """The rows of an export or async job on their way out, and the query's audit row: written
    once, when the export is closed, with the rows read and the outcome. An error while the
    rows are read (the engine's), while they are written (:meth:`written`, or a caller's
    :meth:`fail`) makes it an ``error`` row; an unexpected one is ``internal_error``."""

    def __init__(
        self,
        stream: ResultStream | CsvStream,
        run: _AuditedRun,
        row_limit: int,
        output: OutputFormat | None = None,
    ) -> None:
        self._stream = stream
        self._run = run
        self._output = output
        self.columns = stream.columns
        self.schema = stream.schema
        self.row_limit: int | None = row_limit

    @property
    def truncated(self) -> bool:
        """Whether the rows stopped at the row limit with more left."""
        return self._stream.truncated

    @property
    def rows(self) -> int:
        return self._stream.rows

    def on_close(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the engine's session is released."""
        self._stream.on_close(callback)

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        if isinstance(self._stream, CsvStream):
            raise TypeError("This export is CSV text: read it with body()")
        try:
            yield from self._stream
        except Exception as exc:
            self._run.fail(exc)
            raise

    @property
    def text(self) -> bool:
        """Whether the rows come as CSV text the engine wrote (read them with :meth:`body`
        or :meth:`text_chunks`), not as batches."""
        return isinstance(self._stream, CsvStream)

    def header(self) -> bytes:
        """The CSV header line of this export, as the CSV writer writes it."""
        return csv_header(self.schema)

    def text_chunks(self) -> Iterator[tuple[bytes, int]]:
        """The engine's CSV text without a header, in chunks of whole rows, each with how many
        rows it holds; formula-like string cells neutralised as the CSV writer does. An error
        while they are read makes the audit row an ``error`` one."""
        if not isinstance(self._stream, CsvStream):
            raise TypeError("This export is batches: iterate it")
        stream = self._stream
        before = 0  # the engine may have read the first chunk (and counted it) already
        try:
            for chunk in stream:
                rows, before = stream.rows - before, stream.rows
                yield neutralise_csv(chunk), rows
        except Exception as exc:
            self._run.fail(exc)
            raise

    def body(self) -> Iterator[bytes | memoryview]:
        """The export written in the format it was started with; closes the export after.
        CSV text from the engine goes out as the engine wrote it, after the header, with
        formula-like string cells neutralised as the CSV writer does."""
        if self._output is None:
            raise ValueError("The export was started without an output format")
        if isinstance(self._stream, CsvStream):
            chunks = map(neutralise_csv, self._stream)
            return self.written(itertools.chain((self.header(),), chunks))
        return self.written(self._output.write(self.schema, self, self))

    def written(self, chunks: Iterable[bytes | memoryview]) -> Iterator[bytes | memoryview]:
        """``chunks`` (a format writing this export) passed on; closes the export after."""
        try:
            yield from chunks
        except Exception as exc:
            self._run.fail(exc)
            raise
        finally:
            self.close()

    def fail(self, exc: BaseException) -> None:
        """The export failed with ``exc`` (the first failure reported is the one recorded)."""
        self._run.fail(exc)

    def close(self) -> None:
        """Release the engine session and write the audit row (idempotent)."""
        try:
            self._stream.close()
        finally:
            cut = self._stream.truncated
            self._run.record(rows=self._stream.rows, cut_at=self.row_limit if cut else None)


def _as_error(exc: BaseException) -> SqlgateError:
    """The error an audit row records: the SqlgateError itself, else ``internal_error``."""
    return exc if isinstance(exc, SqlgateError) else SqlgateError("internal error")


def _mark_not_null(result: QueryResult, sql: str, engine: Engine) -> None:
    """Engines report every result column as nullable; the catalog knows better for columns
    read straight from NOT NULL table columns."""
    if any(c.not_null for c in result.columns) or len(sql) > CACHEABLE_SQL_CHARS:
        return
    names = tuple(c.name for c in result.columns)
    flags = not_null_cached(sql, engine.dialect, engine.catalog(), names)
    if any(flags):
        result.columns = [
            Column(c.name, c.type, flag) for c, flag in zip(result.columns, flags, strict=True)
        ]
