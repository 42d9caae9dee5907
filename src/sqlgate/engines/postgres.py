"""PostgreSQL engine: every query in its own READ ONLY transaction on a pooled session.

The server itself checks each query before it runs: the bound SQL is parsed and described as an
unnamed prepared statement, which PostgreSQL refuses for stacked statements, and a statement
described as returning no rows (SET, DDL, DML without RETURNING...) is refused without running.
The text then runs as ``COPY (SELECT * FROM (<sql>) AS q [LIMIT n]) TO STDOUT (FORMAT csv)``:
only a query can stand in that subquery, so DML (``RETURNING`` or in a ``WITH``) never reaches the
executor, and COPY's CSV is the fastest way to move rows out. A thread reads the COPY into
chunks that Arrow parses while the next ones arrive. Afterwards ``ROLLBACK`` and ``DISCARD ALL``
leave the session as it was opened: no setting, advisory lock, prepared statement or temporary
object survives into the next query.
"""

from __future__ import annotations

import math
import os
import queue
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

import psycopg
import pyarrow as pa
from psycopg import pq
from psycopg import sql as pgsql
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import TokenType

from sqlgate.engines._params import bind_named, placeholders
from sqlgate.engines._pg_types import CsvParser, arrow_type
from sqlgate.engines._stream import drained, primed
from sqlgate.engines.base import (
    BATCH_ROWS,
    DatabaseSchema,
    Deadline,
    Engine,
    ForeignKey,
    ResultStream,
    SchemaColumn,
    SchemaTable,
    ServerInfo,
    columns_from_schema,
)
from sqlgate.errors import (
    ConnectionFailed,
    ParameterError,
    QueryError,
    QueryTimeout,
    SqlgateError,
    SqlNotAllowed,
)

if TYPE_CHECKING:
    from psycopg.pq.abc import PGconn, PGresult

    from sqlgate.engines.registry import ConnectionSpec

Conn = psycopg.Connection[Any]

_CHUNK_BYTES = 4 << 20  # COPY rows handed to Arrow at a time
_QUEUED_CHUNKS = 4  # read ahead of the consumer: bounds memory per stream
_FLUSH_AFTER = 0.1  # s: a slow query's rows are handed on at least this often
_POLL = 0.1  # s between checks for a stop request while waiting
_STOP_WAIT = 5.0  # s to wait for a cancelled COPY to end before dropping the socket
_CANCEL_GRACE = 2.0  # s past the deadline before giving up on the server's answer
_LOCK_TIMEOUT_MS = 5_000  # a table locked by a migration fails fast instead of queueing
_IDLE_GRACE_MS = 10_000  # server ends our transaction if we vanish mid-stream
_INTERNAL_TIMEOUT = 30.0  # introspection and probes
_TYPE_NAMES_CACHED = 10_000
_COPY_HEAD = "COPY (SELECT * FROM (\n"
# libpq would otherwise fall back to the service's own ~/.pgpass for a tenant's connection.
_NO_PASSFILE = "/nonexistent/sqlgate-no-passfile"
_TRAILING = " \t\r\n\f;"
_TOKENIZE = Dialect.get_or_raise("postgres").tokenize

_OK = frozenset({pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK})
_QUERY_CANCELED = "57014"  # statement_timeout, or our cancel request
_REFUSED = frozenset({"25006", "42501"})  # read_only_sql_transaction, insufficient_privilege
_SYNTAX = "42601"
_NOT_SUPPORTED = "0A000"


class PostgresEngine(Engine):
    type = "postgresql"
    dialect = "postgres"
    parameter_style = ":name"

    def __init__(
        self, spec: ConnectionSpec, *, pool_size: int = 5, connect_timeout: float = 5.0
    ) -> None:
        if not spec.host or any(h.strip().startswith(("/", "@")) for h in spec.host.split(",")):
            # A socket path would reach a local server as the service's own OS user (peer auth).
            raise ConnectionFailed(
                "A PostgreSQL connection needs a host name or address; "
                "Unix-domain sockets are not allowed"
            )
        if not spec.database or not spec.username:
            raise ConnectionFailed("A PostgreSQL connection needs a database name and a user name")
        self._spec = spec
        self._port = spec.port or 5432
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
        reason = _first_line(exc).rsplit(" failed: ", 1)[-1]
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

    def _start(self, timeout: float) -> Conn:
        """A session inside a fresh READ ONLY transaction. A pooled session the server dropped
        meanwhile (restart, idle timeout) is replaced, with the rest of the pool."""
        conn, pooled = self._acquire(timeout)
        try:
            _run(conn.pgconn, _begin_sql(timeout))
        except _ServerError as exc:
            self._release(conn, reusable=not exc.lost)
            if not (exc.lost and pooled):
                raise _translate(exc) from None
            self._drain()
            return self._start(timeout)
        return conn

    @contextmanager
    def _session(self) -> Iterator[Conn]:
        conn = self._start(_INTERNAL_TIMEOUT)
        try:
            yield conn
        except psycopg.Error as exc:
            raise _translate(_ServerError.of_psycopg(exc, conn.pgconn)) from None
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

    def stream(
        self,
        sql: str,
        params: Mapping[str, Any] | None,
        *,
        timeout: float,
        row_limit: int | None,
        batch_rows: int = BATCH_ROWS,
    ) -> ResultStream:
        # The deadline also covers waiting for a free session (nothing to cancel then).
        held: list[Conn] = []

        def interrupt() -> None:
            if held:
                self._cancel_soon(held[0])

        deadline = Deadline(timeout, interrupt)
        try:
            conn = self._start(timeout)
        except BaseException as exc:
            deadline.cancel()
            if deadline.expired and not isinstance(exc, QueryTimeout):
                raise deadline.error() from exc
            raise
        held.append(conn)
        source = _Source(sql, params, conn)
        reader: _CopyReader | None = None

        def close() -> None:
            deadline.cancel()
            at_rest = reader is None or reader.stop(lambda: self._cancel(conn))
            # After a fired deadline a cancel request may still be on its way: never reuse.
            self._release(conn, reusable=at_rest and not deadline.expired)

        try:
            if deadline.expired:
                raise deadline.error()
            text = source.bind()
            fields = _describe(conn.pgconn, text)
            schema, engine_types = self._result_schema(conn, fields)
            if deadline.expired:
                raise deadline.error()
            reader = _CopyReader(conn.pgconn, text, row_limit)
            parser = CsvParser(schema, engine_types)
            batches = primed(_batches(reader, parser, deadline, batch_rows, source))
        except BaseException as exc:
            error = _translate(exc, deadline, source)
            close()
            if error is exc:
                raise
            raise error from exc
        return ResultStream(
            columns=columns_from_schema(schema, engine_types),
            schema=schema,
            _batches=batches,
            _close=close,
            row_limit=row_limit,
        )

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
                raise _ServerError.of_psycopg(exc, conn.pgconn) from None
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
            rows = conn.execute(_SCHEMA_COLUMNS).fetchall()
            primary = {(s, t): tuple(c) for s, t, c in conn.execute(_PRIMARY_KEYS).fetchall()}
            foreign: dict[tuple[str, str], list[ForeignKey]] = {}
            for s, t, name, cols, ref_s, ref_t, ref_cols in conn.execute(_FOREIGN_KEYS):
                foreign.setdefault((s, t), []).append(
                    ForeignKey(tuple(cols), ref_s, ref_t, tuple(ref_cols), name)
                )
        tables: dict[tuple[str, str], tuple[str, str | None, list[SchemaColumn]]] = {}
        for schema, table, relkind, comment, column, type_name, nullable, note in rows:
            kind = "view" if relkind in ("v", "m") else "table"
            _, _, columns = tables.setdefault((schema, table), (kind, comment, []))
            if column is not None:
                columns.append(SchemaColumn(column, type_name, nullable, note))
        return DatabaseSchema(
            tuple(
                SchemaTable(
                    schema=schema,
                    name=table,
                    kind=kind,
                    columns=tuple(columns),
                    primary_key=primary.get((schema, table), ()),
                    foreign_keys=tuple(foreign.get((schema, table), ())),
                    comment=comment,
                )
                for (schema, table), (kind, comment, columns) in tables.items()
            )
        )

    def probe(self) -> ServerInfo:
        with self._session() as conn:
            started = time.perf_counter()
            conn.execute("SELECT 1").fetchone()
            latency = (time.perf_counter() - started) * 1000
            superuser, table, schema = conn.execute(_WRITE_CHECK).fetchone() or (False, None, None)
        reasons = []
        if superuser:
            reasons.append("the role is a superuser")
        if table:
            reasons.append(f"it can INSERT, UPDATE, DELETE or TRUNCATE {table}")
        if schema:
            reasons.append(f"it can CREATE objects in schema {schema}")
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
    except _ServerError:
        return False
    return pg.transaction_status == pq.TransactionStatus.IDLE


def _run(pg: PGconn, command: bytes) -> None:
    _check(pg, pg.exec_(command))


def _check(pg: PGconn, result: PGresult) -> PGresult:
    if result.status not in _OK:
        raise _ServerError.of_result(result, pg)
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


def _batches(
    reader: _CopyReader,
    parser: CsvParser,
    deadline: Deadline,
    batch_rows: int,
    source: _Source,
) -> Iterator[pa.RecordBatch]:
    try:
        for chunk in reader.chunks(deadline):
            yield from parser.parse(chunk).to_batches(max_chunksize=batch_rows)
    except Exception as exc:
        error = _translate(exc, deadline, source)
        if error is exc:
            raise
        raise error from exc


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


class _CopyReader:
    """Runs ``COPY (SELECT * FROM (<text>) ...) TO STDOUT`` and hands its rows on in chunks.

    A thread reads (libpq hands over one row per call, so that loop is kept tight) while the
    consumer parses; the bounded queue caps memory at a few chunks. :meth:`stop` ends it early:
    the server is asked to cancel and the rest of the COPY is read and dropped, so the session
    is left between statements, never mid-COPY.
    """

    def __init__(self, pg: PGconn, text: str, row_limit: int | None) -> None:
        # One more row than the limit tells the stream it was truncated; the server stops there.
        limit = "" if row_limit is None else f" LIMIT {row_limit + 1}"
        # The newlines end any trailing -- comment. The text parsed as exactly one statement,
        # so it cannot close the parentheses early or add a statement of its own.
        self._sql = f"{_COPY_HEAD}{text}\n) AS sqlgate_q{limit}) TO STDOUT (FORMAT csv)".encode()
        self._text_length = len(text)
        self._pg = pg
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(_QUEUED_CHUNKS)
        self._stopping = threading.Event()
        self._selector = selectors.DefaultSelector()
        self._selector.register(pg.socket, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._run, name="sqlgate-pg-copy", daemon=True)
        self._thread.start()

    def chunks(self, deadline: Deadline) -> Iterator[bytes]:
        while True:
            try:
                item = self._queue.get(timeout=_POLL)
            except queue.Empty:
                if deadline.expired and time.monotonic() > deadline.at + _CANCEL_GRACE:
                    raise deadline.error() from None
                continue
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            if deadline.expired:
                raise deadline.error()
            yield item

    def stop(self, cancel: Callable[[], None]) -> bool:
        """End the COPY if it still runs; whether the session is now between statements."""
        if self._thread.is_alive():
            self._stopping.set()
            cancel()
            self._thread.join(_STOP_WAIT)
            if self._thread.is_alive():  # the server does not answer: cut the connection
                with suppress(OSError), socket.socket(fileno=os.dup(self._pg.socket)) as sock:
                    sock.shutdown(socket.SHUT_RDWR)
                self._thread.join(_POLL * 10)
                return False
        return True

    def _run(self) -> None:
        try:
            self._copy()
        except BaseException as exc:
            self._put(exc)
        else:
            self._put(None)
        finally:
            self._selector.close()

    def _copy(self) -> None:
        pg = self._pg
        try:
            pg.send_query(self._sql)
            first = self._result()
            if first is None or first.status != pq.ExecStatus.COPY_OUT:
                self._finish()
                raise self._error(first)
            self._read_rows()
            last = self._result()
            self._finish()
        except psycopg.Error as exc:
            raise _ServerError.of_psycopg(exc, pg) from None
        if last is None or last.status != pq.ExecStatus.COMMAND_OK:
            raise self._error(last)

    def _read_rows(self) -> None:
        limit = _CHUNK_BYTES
        get, consume, wait, put = (
            self._pg.get_copy_data,
            self._pg.consume_input,
            self._wait,
            self._put,
        )
        buffer = bytearray()
        extend = buffer.extend
        flushed = time.monotonic()
        while True:
            size, row = get(1)
            # The hot loop (once per row): only the rows libpq already holds whole. The size
            # check runs once per socket read instead, so a chunk may pass the limit by what
            # one read brought in.
            while size > 0:
                extend(row)
                size, row = get(1)
            if len(buffer) >= limit:
                put(bytes(buffer))
                buffer.clear()
                flushed = time.monotonic()
            if size == 0:  # libpq has no whole row buffered: wait for the server
                timeout = _POLL
                if buffer:  # a slow query: hand on what there is every so often
                    timeout = flushed + _FLUSH_AFTER - time.monotonic()
                    if timeout <= 0:
                        put(bytes(buffer))
                        buffer.clear()
                        flushed, timeout = time.monotonic(), _POLL
                wait(timeout)
                consume()
            else:
                break
        if buffer:
            put(bytes(buffer))
        if size == -2:
            raise _ServerError.of_connection(self._pg)

    def _result(self) -> PGresult | None:
        pg = self._pg
        while pg.is_busy():
            self._wait(_POLL)
            pg.consume_input()
        return pg.get_result()

    def _finish(self) -> None:
        while self._result() is not None:
            pass

    def _wait(self, timeout: float) -> bool:
        return bool(self._selector.select(timeout))

    def _put(self, item: bytes | BaseException | None) -> None:
        # Once stopping, nobody reads the queue: rows are dropped until the COPY ends.
        while not self._stopping.is_set():
            try:
                self._queue.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue

    def _error(self, result: PGresult | None) -> _ServerError:
        if result is None:
            return _ServerError.of_connection(self._pg)
        error = _ServerError.of_result(result, self._pg)
        error.wrapped = True
        if error.position is not None:  # positions count from the COPY text: make them ours
            position = error.position - len(_COPY_HEAD)
            error.position = position if 1 <= position <= self._text_length else None
        return error


# --- errors ----------------------------------------------------------------------------------


class _ServerError(Exception):
    """A failed statement: the server's message, SQLSTATE and error position (1-based, in
    characters of the text sent), whether the text was wrapped in our COPY, and whether the
    connection itself is gone."""

    def __init__(
        self,
        message: str,
        sqlstate: str | None = None,
        position: int | None = None,
        *,
        lost: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.sqlstate = sqlstate
        self.position = position
        self.lost = lost
        self.wrapped = False

    @classmethod
    def of_result(cls, result: PGresult, pg: PGconn) -> _ServerError:
        def field(code: pq.DiagnosticField) -> str | None:
            value = result.error_field(code)
            return value.decode("utf-8", "replace") if value else None

        message = field(pq.DiagnosticField.MESSAGE_PRIMARY) or _text(result.error_message)
        position = field(pq.DiagnosticField.STATEMENT_POSITION)
        return cls(
            message or "The statement failed",
            field(pq.DiagnosticField.SQLSTATE),
            int(position) if position and position.isdigit() else None,
            lost=pg.status != pq.ConnStatus.OK,
        )

    @classmethod
    def of_psycopg(cls, exc: psycopg.Error, pg: PGconn) -> _ServerError:
        position = exc.diag.statement_position
        return cls(
            exc.diag.message_primary or _first_line(exc),
            exc.sqlstate,
            int(position) if position and position.isdigit() else None,
            lost=pg.status != pq.ConnStatus.OK,
        )

    @classmethod
    def of_connection(cls, pg: PGconn) -> _ServerError:
        return cls(_text(pg.error_message) or "The connection failed", lost=True)


def _translate(
    exc: BaseException, deadline: Deadline | None = None, source: _Source | None = None
) -> BaseException:
    if deadline is not None and deadline.expired:
        return deadline.error()
    if isinstance(exc, UnicodeError):
        return QueryError("The query is not valid UTF-8 text")
    if isinstance(exc, SqlgateError) or not isinstance(exc, _ServerError):
        return exc
    state, message = exc.sqlstate, exc.message
    if exc.lost:
        return ConnectionFailed(f"Lost the connection to PostgreSQL: {message}")
    if state == _QUERY_CANCELED and deadline is not None and time.monotonic() >= deadline.at:
        return deadline.error()  # statement_timeout, a moment before our own deadline fired
    if state in _REFUSED:
        return SqlNotAllowed(
            f"Refused by the read-only session: {message}", reason="engine_refused"
        )
    if state == _SYNTAX and not exc.wrapped and "multiple commands" in message:
        return SqlNotAllowed(
            "Exactly one statement is allowed; PostgreSQL found several",
            reason="multiple_statements",
        )
    if exc.wrapped and (
        state == _SYNTAX or (state == _NOT_SUPPORTED and "data-modifying" in message)
    ):
        # The text parsed on its own, so it is a statement PostgreSQL cannot run as a query
        # (EXPLAIN, SHOW, CALL, DML with RETURNING, a data-modifying WITH).
        return SqlNotAllowed(
            f"Only read-only queries (SELECT, VALUES, TABLE) can run: {message}",
            reason="not_read_only",
        )
    line, column = source.locate(exc.position) if source is not None else (None, None)
    return QueryError(message, line=line, column=column)


def _text(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text else ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _version_text(number: int) -> str:
    major, minor = divmod(number, 10_000)
    if major >= 10:
        return f"PostgreSQL {major}.{minor}"
    return f"PostgreSQL {major}.{minor // 100}.{minor % 100}"


# --- catalog queries (run in a READ ONLY transaction) ----------------------------------------

_RELATIONS = """
WITH rel AS (
    SELECT c.oid, n.nspname, c.relname, c.relkind
    FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm') AND NOT c.relispartition
      AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
)
"""

_SCHEMA_COLUMNS = (
    _RELATIONS
    + """
SELECT rel.nspname, rel.relname, rel.relkind, obj_description(rel.oid, 'pg_class'),
       a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       col_description(rel.oid, a.attnum)
FROM rel LEFT JOIN pg_attribute AS a
  ON a.attrelid = rel.oid AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY rel.nspname IS DISTINCT FROM current_schema(), rel.nspname, rel.relname, a.attnum
"""
)

_PRIMARY_KEYS = (
    _RELATIONS
    + """
SELECT rel.nspname, rel.relname, array_agg(a.attname ORDER BY k.i)
FROM rel
JOIN pg_constraint AS con ON con.conrelid = rel.oid AND con.contype = 'p'
CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(num, i)
JOIN pg_attribute AS a ON a.attrelid = rel.oid AND a.attnum = k.num
GROUP BY rel.nspname, rel.relname
"""
)

_FOREIGN_KEYS = (
    _RELATIONS
    + """
SELECT rel.nspname, rel.relname, con.conname,
       array_agg(a.attname ORDER BY k.i), fn.nspname, fc.relname, array_agg(fa.attname ORDER BY k.i)
FROM rel
JOIN pg_constraint AS con ON con.conrelid = rel.oid AND con.contype = 'f'
CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(num, fnum, i)
JOIN pg_attribute AS a ON a.attrelid = con.conrelid AND a.attnum = k.num
JOIN pg_attribute AS fa ON fa.attrelid = con.confrelid AND fa.attnum = k.fnum
JOIN pg_class AS fc ON fc.oid = con.confrelid
JOIN pg_namespace AS fn ON fn.oid = fc.relnamespace
GROUP BY rel.nspname, rel.relname, con.conname, fn.nspname, fc.relname
ORDER BY con.conname
"""
)

# Superuser; any table the role may change (owners included); any schema it may create in.
_WRITE_CHECK = """
SELECT r.rolsuper,
       (SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
        FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm')
          AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
          AND has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')
        ORDER BY 1 LIMIT 1),
       (SELECT quote_ident(n.nspname) FROM pg_namespace AS n
        WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
          AND has_schema_privilege(n.oid, 'CREATE')
        ORDER BY 1 LIMIT 1)
FROM pg_roles AS r WHERE r.rolname = current_user
"""
