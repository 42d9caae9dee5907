"""PostgreSQL engine: every query in its own READ ONLY transaction on a pooled session.

The server itself checks each query before it runs: the bound SQL is parsed and described as an
unnamed prepared statement, which PostgreSQL refuses for stacked statements, and a statement
described as returning no rows (SET, DDL, DML without RETURNING...) is refused without running.
The text then runs as ``COPY (SELECT * FROM (<sql>) AS q [LIMIT n]) TO STDOUT (FORMAT csv)``:
only a query can stand in that subquery, so DML (``RETURNING`` or in a ``WITH``) never reaches the
executor, and COPY's CSV is the fastest way to move rows out. A thread reads the COPY into
chunks that Arrow parses while the next ones arrive; a CSV export takes the chunks as they are
(``stream_csv``), with the string columns quoted. Afterwards ``ROLLBACK`` and ``DISCARD ALL``
leave the session as it was opened: no setting, advisory lock, prepared statement or temporary
object survives into the next query.

Here: sessions and the steps of one query. Beside it: ``_pg_copy`` (the COPY reader),
``_pg_errors`` (what a failed statement means), ``_pg_schema`` (introspection), ``_pg_types``
(PostgreSQL types as Arrow types, and the CSV parser).
"""

from __future__ import annotations

import math
import queue
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
import pyarrow as pa
from psycopg import pq
from psycopg import sql as pgsql
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import TokenType

from sqlgate.engines._params import bind_named, placeholders
from sqlgate.engines._pg_copy import CopyReader, copy_batches, copy_sql
from sqlgate.engines._pg_errors import ServerError, first_line, translate
from sqlgate.engines._pg_schema import (
    FOREIGN_KEYS,
    PRIMARY_KEYS,
    SCHEMA_COLUMNS,
    WRITE_CHECK,
    build_schema,
    write_reasons,
)
from sqlgate.engines._pg_types import CsvParser, arrow_type
from sqlgate.engines._stream import drained
from sqlgate.engines.base import (
    Engine,
    Query,
    ServerInfo,
    Started,
    columns_from_schema,
)
from sqlgate.engines.csv_stream import StartedCsv
from sqlgate.errors import (
    ConnectionFailed,
    ParameterError,
    QueryError,
    QueryTimeout,
    SqlNotAllowed,
)
from sqlgate.vocabulary.columns import Column
from sqlgate.vocabulary.schema import DatabaseSchema

if TYPE_CHECKING:
    from psycopg.pq.abc import PGconn, PGresult

    from sqlgate.engines.base import ConnectionSpec
    from sqlgate.settings import Settings

Conn = psycopg.Connection[Any]

_LOCK_TIMEOUT_MS = 5_000  # a table locked by a migration fails fast instead of queueing
_IDLE_GRACE_MS = 10_000  # server ends our transaction if we vanish mid-stream
_INTERNAL_TIMEOUT = 30.0  # introspection and probes
_TYPE_NAMES_CACHED = 10_000
# libpq would otherwise fall back to the service's own ~/.pgpass for a tenant's connection.
_NO_PASSFILE = "/nonexistent/sqlgate-no-passfile"
_TRAILING = " \t\r\n\f;"
_TOKENIZE = Dialect.get_or_raise("postgres").tokenize

_PG_SIZE = re.compile(r"\d+(kB|MB|GB|TB)")
_OK = frozenset({pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK})


class PostgresEngine(Engine):
    type = "postgresql"
    summary = "a PostgreSQL server"
    dialect = "postgres"
    location = "server"
    default_port = 5432
    ssl_modes = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
    parameter_style = ":name"
    native_csv = True
    session_settings = True

    @classmethod
    def from_spec(cls, spec: ConnectionSpec, settings: Settings) -> PostgresEngine:
        return cls(
            spec,
            pool_size=settings.server_pool_size,
            connect_timeout=settings.server_connect_timeout,
            work_mem=settings.postgres_work_mem,
            temp_file_limit=settings.postgres_temp_file_limit,
        )

    def __init__(
        self,
        spec: ConnectionSpec,
        *,
        pool_size: int = 5,
        connect_timeout: float = 5.0,
        work_mem: str | None = "64MB",
        temp_file_limit: str | None = "1GB",
    ) -> None:
        super().__init__()
        if not spec.host or any(h.strip().startswith(("/", "@")) for h in spec.host.split(",")):
            # A socket path would reach a local server as the service's own OS user (peer auth).
            raise ConnectionFailed(
                "A PostgreSQL connection needs a host name or address; "
                "Unix-domain sockets are not allowed"
            )
        if not spec.database or not spec.username:
            raise ConnectionFailed("A PostgreSQL connection needs a database name and a user name")
        self._spec = spec
        self._port = spec.port or self.default_port
        self._connect_timeout = connect_timeout
        self._pool_size = pool_size
        # At most pool_size sessions at once, so a burst of queries cannot exhaust the server's
        # max_connections; idle ones wait in the pool.
        self._slots = threading.BoundedSemaphore(pool_size)
        self._pool: queue.LifoQueue[Conn] = queue.LifoQueue(pool_size)
        self._type_names: dict[tuple[int, int], str] = {}
        self._closed = False
        conn = self._connect()  # fail now, at registration, if the server cannot be reached
        self._version = _version_text(conn.info.server_version)
        # Per-query memory caps, in each query's transaction. temp_file_limit is a superuser
        # setting: for other roles it is skipped (the server would refuse the SET).
        superuser = conn.pgconn.parameter_status(b"is_superuser") == b"on"
        self._limits = _limits_sql(work_mem, temp_file_limit if superuser else None)
        self._pool.put_nowait(conn)

    # --- sessions -------------------------------------------------------------------------

    def _connect(self) -> Conn:
        spec = self._spec
        try:
            return psycopg.connect(
                host=spec.host,
                port=self._port,
                dbname=spec.database,
                user=spec.username,
                # Given explicitly, so libpq never uses the service's PGPASSWORD or ~/.pgpass.
                password=spec.password or "",
                passfile=_NO_PASSFILE,
                sslmode=spec.ssl_mode or "prefer",
                connect_timeout=max(2, math.ceil(self._connect_timeout)),
                application_name="sqlgate",
                client_encoding="UTF8",
                keepalives=1,
                keepalives_idle=30,
                keepalives_interval=10,
                keepalives_count=3,
                autocommit=True,
                # DISCARD ALL drops server-side prepared statements behind psycopg's back.
                prepare_threshold=None,
            )
        except psycopg.Error as exc:
            raise ConnectionFailed(self._connect_error(exc)) from None

    def _connect_error(self, exc: psycopg.Error) -> str:
        reason = first_line(exc).rsplit(" failed: ", 1)[-1]
        for prefix in ("connection failed: ", "connection is bad: ", "FATAL:  ", "ERROR:  "):
            reason = reason.removeprefix(prefix)
        if reason[:1].isupper() and reason[1:2].islower():
            reason = reason[0].lower() + reason[1:]
        where = f"{self._spec.host}:{self._port}"
        # libpq's reason names the host, database or user, never the password: nothing to mask.
        return f"Could not connect to PostgreSQL at {where}: {reason}"

    def _acquire(self, wait: float) -> tuple[Conn, bool]:
        """A session (pooled, else new) and whether it came from the pool."""
        if not self._slots.acquire(timeout=max(wait, 0.0)):
            raise QueryTimeout(
                f"All {self._pool_size} sessions of this connection stayed busy for the "
                f"query's whole timeout of {wait:g} s",
                timeout=wait,
            )
        try:
            return self._pool.get_nowait(), True
        except queue.Empty:
            pass
        try:
            return self._connect(), False
        except BaseException:
            self._slots.release()
            raise

    def _release(self, conn: Conn, *, reusable: bool) -> None:
        """Reset a session and pool it; a session in any doubtful state is closed instead."""
        try:
            if reusable and not self._closed and _reset(conn.pgconn):
                with suppress(queue.Full):
                    self._pool.put_nowait(conn)
                    if self._closed:
                        self._drain()
                    return
            conn.close()
        finally:
            self._slots.release()

    def _begin(self, timeout: float, settings: Mapping[str, str] | None = None) -> Conn:
        """A session inside a fresh READ ONLY transaction (with ``settings`` as ``SET LOCAL``).
        A pooled session the server dropped meanwhile (restart, idle timeout) is replaced, with
        the rest of the pool."""
        conn, pooled = self._acquire(timeout)
        try:
            _run(conn.pgconn, _begin_sql(timeout) + self._limits + _settings_sql(conn, settings))
        except ServerError as exc:
            self._release(conn, reusable=not exc.lost)
            if not (exc.lost and pooled):
                raise translate(exc) from None
            self._drain()
            return self._begin(timeout, settings)
        return conn

    @contextmanager
    def _session(self) -> Iterator[Conn]:
        conn = self._begin(_INTERNAL_TIMEOUT)
        try:
            yield conn
        except psycopg.Error as exc:
            raise translate(ServerError.of_psycopg(exc, conn.pgconn)) from None
        finally:
            self._release(conn, reusable=True)

    def _cancel(self, conn: Conn) -> None:
        with suppress(psycopg.Error):
            conn.cancel_safe(timeout=self._connect_timeout)

    def _cancel_soon(self, conn: Conn) -> None:
        # Deadlines fire on one shared watchdog thread; a cancel request is a network round trip.
        threading.Thread(
            target=self._cancel, args=(conn,), name="sqlgate-pg-cancel", daemon=True
        ).start()

    def _drain(self) -> None:
        for conn in drained(self._pool):
            conn.close()

    # --- queries --------------------------------------------------------------------------

    def _start(self, query: Query) -> Started:
        opened = self._open_copy(query, as_text=False)
        parser = CsvParser(opened.schema, opened.engine_types)
        batches = copy_batches(opened.reader, parser, query.deadline, query.batch_rows)
        return Started(opened.columns, opened.schema, batches)

    def _start_csv(self, query: Query) -> StartedCsv:
        opened = self._open_copy(query, as_text=True)
        chunks = opened.reader.chunks(query.deadline)
        return StartedCsv(opened.columns, opened.schema, chunks, opened.reader)

    def _open_copy(self, query: Query, *, as_text: bool) -> _Copy:
        """Take a session, hold it for ``query``, describe the statement and start its COPY:
        for CSV text (``as_text``) with the string columns quoted and the rows past the row
        limit dropped, else for Arrow to parse."""
        query.start()  # the deadline also covers waiting for a free session (nothing to cancel)
        conn = self._begin(query.timeout, query.settings)
        source = _Source(query.sql, query.params, conn)
        reader: CopyReader | None = None

        def release() -> None:
            at_rest = reader is None or reader.stop(lambda: self._cancel(conn))
            # After a fired deadline a cancel request may still be on its way: never reuse.
            self._release(conn, reusable=at_rest and not query.deadline.expired)

        query.hold(
            interrupt=lambda: self._cancel_soon(conn),
            release=release,
            translate=lambda exc: translate(exc, query.deadline, source),
        )
        text = source.bind()
        fields = _describe(conn.pgconn, text)
        schema, engine_types = self._result_schema(conn, fields)
        query.check()
        if as_text:
            quoted = [i for i, f in enumerate(schema) if pa.types.is_string(f.type)]
            sql = copy_sql(text, query.row_limit, columns=len(fields), quoted=quoted)
            reader = CopyReader(conn.pgconn, text, sql, keep=query.row_limit)
        else:
            reader = CopyReader(conn.pgconn, text, copy_sql(text, query.row_limit))
        return _Copy(columns_from_schema(schema, engine_types), schema, engine_types, reader)

    def _result_schema(
        self, conn: Conn, fields: list[tuple[str, int, int]]
    ) -> tuple[pa.Schema, list[str]]:
        """Arrow schema and PostgreSQL type names (``numeric(10,2)``) of the described columns."""
        keys = [(oid, typmod) for _, oid, typmod in fields]
        known = self._type_names
        names = {k: n for k in set(keys) if (n := known.get(k)) is not None}
        missing = sorted(set(keys) - names.keys())
        if missing:
            try:
                rows = conn.execute(
                    "SELECT format_type(t.oid, t.typmod) FROM unnest(%s::oid[], %s::int4[]) "
                    "WITH ORDINALITY AS t(oid, typmod, i) ORDER BY t.i",
                    ([oid for oid, _ in missing], [typmod for _, typmod in missing]),
                ).fetchall()
            except psycopg.Error as exc:
                raise ServerError.of_psycopg(exc, conn.pgconn) from None
            found = dict(zip(missing, (row[0] for row in rows), strict=True))
            if len(known) > _TYPE_NAMES_CACHED:
                known.clear()
            known.update(found)
            names.update(found)
        schema = pa.schema([pa.field(name, arrow_type(oid, mod)) for name, oid, mod in fields])
        return schema, [names[k] for k in keys]

    # --- metadata -------------------------------------------------------------------------

    def _read_schema(self) -> DatabaseSchema:
        with self._session() as conn:
            columns = conn.execute(SCHEMA_COLUMNS).fetchall()
            primary_keys = conn.execute(PRIMARY_KEYS).fetchall()
            foreign_keys = conn.execute(FOREIGN_KEYS).fetchall()
        return build_schema(columns, primary_keys, foreign_keys)

    def probe(self) -> ServerInfo:
        with self._session() as conn:
            started = time.perf_counter()
            conn.execute("SELECT 1").fetchone()
            latency = (time.perf_counter() - started) * 1000
            reasons = write_reasons(*(conn.execute(WRITE_CHECK).fetchone() or (False, None, None)))
        detail = None
        if reasons:
            detail = (
                f"These credentials can write: {'; '.join(reasons)}. sqlgate runs every query "
                "in a read-only transaction, but a role with only SELECT grants is safer."
            )
        return ServerInfo(
            version=self._version,
            latency_ms=round(latency, 3),
            can_write=bool(reasons),
            write_detail=detail,
        )

    def version(self) -> str:
        return self._version

    def close(self) -> None:
        self._closed = True
        self._drain()


# --- one query, step by step -----------------------------------------------------------------


def _begin_sql(timeout: float) -> bytes:
    ms = max(1, math.ceil(timeout * 1000))
    return (
        "BEGIN TRANSACTION READ ONLY;"
        f"SET LOCAL statement_timeout = {ms};"
        f"SET LOCAL lock_timeout = {min(ms, _LOCK_TIMEOUT_MS)};"
        f"SET LOCAL idle_in_transaction_session_timeout = {ms + _IDLE_GRACE_MS};"
        # Output forms only (input parsing keeps the session's field order): ISO dates and
        # timestamps, and floats that read back exactly.
        "SET LOCAL DateStyle = ISO;"
        "SET LOCAL extra_float_digits = 3"
    ).encode()


#: Names of the settings a query may carry (``sqlgate.<scope>_<attribute>``).
_SETTING_NAME = re.compile(r"sqlgate\.[a-z][a-z0-9_]{0,80}\Z")


def _settings_sql(conn: Conn, settings: Mapping[str, str] | None) -> bytes:
    """``SET LOCAL`` of a query's settings, values quoted by libpq (never by hand)."""
    if not settings:
        return b""
    escaping = pq.Escaping(conn.pgconn)
    text = b""
    for name, value in settings.items():
        if not _SETTING_NAME.match(name):
            raise ValueError(f"Not a sqlgate setting name: {name!r}")
        text += b";SET LOCAL " + name.encode() + b" = " + escaping.escape_literal(value.encode())
    return text


def _limits_sql(work_mem: str | None, temp_file_limit: str | None) -> bytes:
    """``SET LOCAL`` of the per-query memory caps."""
    for size in (work_mem, temp_file_limit):
        if size and not _PG_SIZE.fullmatch(size):
            raise ValueError(f"Not a PostgreSQL size: {size!r} (e.g. 64MB)")
    text = ""
    if work_mem:
        text += f";SET LOCAL work_mem = '{work_mem}'"
    if temp_file_limit:
        text += f";SET LOCAL temp_file_limit = '{temp_file_limit}'"
    return text.encode()


def _describe(pg: PGconn, text: str) -> list[tuple[str, int, int]]:
    """Name, type OID and typmod of each result column, from the server's parse of ``text``.
    Nothing runs: Parse and Describe only."""
    _check(pg, pg.prepare(b"", text.encode()))
    result = _check(pg, pg.describe_prepared(b""))
    if result.nfields == 0:
        if _is_blank(text):
            raise SqlNotAllowed("The query is empty", reason="empty")
        raise SqlNotAllowed(
            "Only queries that return rows can run; PostgreSQL describes this statement as "
            "returning none",
            reason="not_read_only",
        )
    return [
        (
            (result.fname(i) or b"?column?").decode("utf-8", "replace"),
            result.ftype(i),
            result.fmod(i),
        )
        for i in range(result.nfields)
    ]


def _reset(pg: PGconn) -> bool:
    """End the query's transaction and forget everything it set; whether that worked."""
    if pg.status != pq.ConnStatus.OK or pg.transaction_status == pq.TransactionStatus.ACTIVE:
        return False
    try:
        if pg.transaction_status != pq.TransactionStatus.IDLE:
            _run(pg, b"ROLLBACK")
        _run(pg, b"DISCARD ALL")
    except ServerError:
        return False
    return pg.transaction_status == pq.TransactionStatus.IDLE


def _run(pg: PGconn, command: bytes) -> None:
    _check(pg, pg.exec_(command))


def _check(pg: PGconn, result: PGresult) -> PGresult:
    if result.status not in _OK:
        raise ServerError.of_result(result, pg)
    return result


def _trim(text: str) -> str:
    """Drop trailing semicolons, and comments after them: the text is wrapped in a COPY."""
    text = text.rstrip(_TRAILING)
    if ";" not in text:
        return text
    try:
        tokens = _TOKENIZE(text)
    except TokenError:
        return text
    while tokens and tokens[-1].token_type == TokenType.SEMICOLON:
        text = text[: tokens.pop().start].rstrip(_TRAILING)
    return text


def _is_blank(text: str) -> bool:
    try:
        return not _TOKENIZE(text)
    except TokenError:
        return False


@dataclass
class _Copy:
    """A started COPY and the result's columns."""

    columns: list[Column]
    schema: pa.Schema
    engine_types: list[str]
    reader: CopyReader


class _Source:
    """The SQL as sent, its bound text, and where a server error position falls in the SQL."""

    def __init__(self, sql: str, params: Mapping[str, Any] | None, conn: Conn) -> None:
        self.sql = sql
        self.params = params
        self._conn = conn

    def literal(self, value: Any) -> str:
        """``value`` quoted by psycopg for this session (encoding, standard_conforming_strings)."""
        try:
            return pgsql.Literal(value).as_string(self._conn)
        except psycopg.DataError as exc:
            raise ParameterError(f"A parameter value is invalid: {exc}", field="params") from None
        except psycopg.ProgrammingError:
            raise ParameterError(
                f"Parameter values of type {type(value).__name__} are not supported",
                field="params",
            ) from None

    def bind(self) -> str:
        text = _trim(bind_named(self.sql, self.params, "postgres", self.literal))
        if "\x00" in text:
            raise QueryError("The query contains a NUL character")
        return text

    def locate(self, position: int | None) -> tuple[int | None, int | None]:
        """1-based line and column in the SQL sent for a 1-based position in the bound text."""
        if position is None:
            return None, None
        index = min(max(self._original(position - 1), 0), len(self.sql))
        before = self.sql[:index]
        return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1

    def _original(self, index: int) -> int:
        if not self.params:
            return index
        shift = 0
        for start, stop, name in placeholders(self.sql, "postgres"):
            width = len(self.literal(self.params[name]))
            if index < start + shift:
                break
            if index < start + shift + width:
                return start
            shift += width - (stop - start)
        return index - shift


def _version_text(number: int) -> str:
    major, minor = divmod(number, 10_000)
    if major >= 10:
        return f"PostgreSQL {major}.{minor}"
    return f"PostgreSQL {major}.{minor // 100}.{minor % 100}"
