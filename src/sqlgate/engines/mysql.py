"""MySQL and MariaDB engine (PyMySQL): one read-only transaction per query, on pooled connections.

The server is the second line of defence, so each query is checked by the server's own view:

1. the text must start with SELECT, WITH, VALUES or TABLE once comments are skipped, and the
   server must *prepare* it (parse without running) as a statement that returns columns. DDL
   would otherwise commit the read-only transaction and run; SET, DO, LOCK, CALL,
   ``SELECT ... INTO`` and stacked statements are refused before anything runs too;
2. it runs inside ``START TRANSACTION READ ONLY`` with a server-side time limit, parameters bound
   on the client with the connection's own escaping, on an unbuffered cursor (bounded memory);
3. the deadline runs ``KILL QUERY`` from a side connection, and afterwards the connection is reset
   (rollback, user and session variables, temporary tables, table and named locks) before it goes
   back to the pool, or closed when that fails.
"""

from __future__ import annotations

import contextlib
import math
import queue
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import pyarrow as pa
import pymysql
from pymysql.constants import ER, FIELD_TYPE
from pymysql.converters import conversions, through
from pymysql.cursors import SSCursor
from sqlglot.errors import SqlglotError

from sqlgate.engines._mysql_schema import COLUMNS, KEYS, TABLES, build_schema, write_grants
from sqlgate.engines._mysql_statement import (
    has_rollup,
    prepared_columns,
    refuse_non_query,
    stacked,
)
from sqlgate.engines._mysql_types import ArrowPlan, arrow_plan
from sqlgate.engines._params import bind_named
from sqlgate.engines._rows import fetch_rows, plain_values
from sqlgate.engines._stream import drained
from sqlgate.engines.base import Deadline, Engine, Query, ServerInfo, Started
from sqlgate.errors import (
    ConnectionFailed,
    ParameterError,
    QueryError,
    SqlNotAllowed,
)
from sqlgate.vocabulary.schema import DatabaseSchema

if TYPE_CHECKING:
    from sqlgate.engines.base import ConnectionSpec
    from sqlgate.settings import Settings

# PyMySQL calls command 0x1F COM_END and does not wrap it; the protocol names it
# COM_RESET_CONNECTION (MySQL 5.7+, MariaDB 10.2+).
_COM_RESET_CONNECTION = 0x1F
# TIME values stay the server's text ("-01:02:03", "838:59:59"): a timedelta has no such spelling.
_DECODERS = {**conversions, FIELD_TYPE.TIME: through}
# The server-side limit is a backstop: it ends the statement if KILL QUERY cannot be delivered.
_SERVER_GRACE_S = 1.0
_TIMEOUT_CODES = frozenset({ER.QUERY_INTERRUPTED, ER.STATEMENT_TIMEOUT, ER.QUERY_TIMEOUT})
# Read-only transaction, missing privilege, not the owner of a thread, local infile disabled.
_REFUSED_CODES = frozenset({1792, 1044, 1045, 1142, 1143, 1227, 1370, 1095, 4166})


class MySQLEngine(Engine):
    type = "mysql"
    summary = "a MySQL or MariaDB server"
    dialect = "mysql"
    location = "server"
    default_port = 3306
    ssl_modes = ("disabled", "preferred", "required", "verify_ca", "verify_identity")
    parameter_style = ":name"

    @classmethod
    def from_spec(cls, spec: ConnectionSpec, settings: Settings) -> MySQLEngine:
        return cls(
            spec,
            pool_size=settings.server_pool_size,
            connect_timeout=settings.server_connect_timeout,
            tmp_table_bytes=settings.mysql_tmp_table_bytes,
        )

    def __init__(
        self,
        spec: ConnectionSpec,
        *,
        pool_size: int = 5,
        connect_timeout: float = 5.0,
        tmp_table_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        super().__init__()
        # In-memory temporary tables (GROUP BY, DISTINCT, derived tables) past this go to disk.
        self._tmp_table_bytes = int(tmp_table_bytes)
        self._tls_required = spec.ssl_mode in {"required", "verify_ca", "verify_identity"}
        self._options: dict[str, Any] = {
            "host": spec.host or "localhost",
            "port": spec.port or self.default_port,
            "user": spec.username or "",
            "password": spec.password or "",
            "database": spec.database,
            "connect_timeout": connect_timeout,
            "charset": "utf8mb4",
            "conv": _DECODERS,
            "client_flag": 0,  # never CLIENT.MULTI_STATEMENTS
            "local_infile": False,
            "autocommit": None,  # the server's default; every statement opens its transaction
            "program_name": "sqlgate",
            **_ssl_options(spec.ssl_mode),
        }
        self._pool: queue.LifoQueue[Any] = queue.LifoQueue(pool_size)
        self._killer: Any = None
        self._killer_lock = threading.Lock()
        self._closed = False
        conn = self._connect()
        self._mariadb, self._version = _flavour(conn.get_server_info())
        self._release(conn)

    # --- connections --------------------------------------------------------------------------

    def _connect(self) -> Any:
        try:
            conn = pymysql.connect(**self._options)
        except (pymysql.MySQLError, ValueError) as exc:
            raise ConnectionFailed(
                f"Could not connect to the MySQL server: {_message(exc)}"
            ) from exc
        if self._tls_required and not isinstance(conn._sock, ssl.SSLSocket):
            _close_quietly(conn)
            raise ConnectionFailed("The MySQL server did not accept TLS, which ssl_mode requires")
        return conn

    def _release(self, conn: Any) -> None:
        if self._closed:
            _close_quietly(conn)
            return
        try:
            self._pool.put_nowait(conn)
        except queue.Full:
            _close_quietly(conn)

    def _lease(self, query: Query) -> _Lease:
        """A connection held by ``query``, with its time limit set. When ``query`` ends the
        connection goes back reset, or is closed."""
        try:
            conn, pooled = self._pool.get_nowait(), True
        except queue.Empty:
            conn, pooled = self._connect(), False
        query.start()
        lease = _Lease(self, conn, query.deadline)
        query.hold(
            interrupt=lease.interrupt,
            release=lambda: self._give_back(lease),
            translate=partial(_translate, deadline=query.deadline, sql=query.sql),
        )
        try:
            _run(conn, self._limit_sql(query.timeout))
        except pymysql.MySQLError as exc:
            if not (pooled and _lost(exc)):
                raise
            _close_quietly(conn)  # the server dropped an idle pooled connection
            lease.conn = conn = self._connect()
            lease.thread_id = conn.thread_id()
            _run(conn, self._limit_sql(query.timeout))
        return lease

    def _limit_sql(self, timeout: float) -> str:
        backstop = timeout + _SERVER_GRACE_S
        size = self._tmp_table_bytes
        memory = f", tmp_table_size = {size}, max_heap_table_size = {size}"
        if self._mariadb:
            return f"SET SESSION max_statement_time = {backstop:.3f}{memory}"
        return f"SET SESSION max_execution_time = {math.ceil(backstop * 1000)}{memory}"

    def _give_back(self, lease: _Lease) -> None:
        """Reset the session and pool the connection; close it if anything is uncertain."""
        conn = lease.conn
        if lease.deadline.expired or not conn.open:
            _discard(lease)
            return
        try:
            if _unread(conn):
                # Rows are left: stop the statement rather than read (maybe) millions of them.
                self._kill(lease.thread_id)
                _drain(conn)
            if lease.cursor is not None:
                lease.cursor.close()
            # Also rolls back the read-only transaction, so no separate ROLLBACK is sent.
            conn._execute_command(_COM_RESET_CONNECTION, b"")
            conn._read_ok_packet()
        except Exception:  # whatever failed, the session's state is unknown
            _discard(lease)
            return
        self._release(conn)

    def _kill(self, thread_id: int) -> None:
        """``KILL QUERY`` on a side connection (a user may always kill its own statements)."""
        with self._killer_lock:
            for attempt in (1, 2):
                if self._killer is None:
                    self._killer = self._connect()
                try:
                    _run(self._killer, f"KILL QUERY {int(thread_id)}")
                    return
                except pymysql.MySQLError as exc:
                    if _code(exc) == ER.NO_SUCH_THREAD:
                        return
                    _close_quietly(self._killer)
                    self._killer = None
                    if attempt == 2 or not _lost(exc):
                        raise

    def _stop(self, lease: _Lease) -> None:
        """The deadline's action, off the watchdog thread (connecting may take a while)."""
        try:
            self._kill(lease.thread_id)
        except Exception:
            # The server cannot be told: unblock the reader; the server-side limit ends the
            # statement.
            sock = lease.conn._sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    # --- queries ------------------------------------------------------------------------------

    def _start(self, query: Query) -> Started:
        refuse_non_query(query.sql)
        lease = self._lease(query)
        text = bind_named(query.sql, query.params, self.dialect, partial(_literal, lease.conn))
        if prepared_columns(lease.conn, text) == 0:
            raise SqlNotAllowed("The statement returns no rows", reason="not_read_only")
        _run(lease.conn, "START TRANSACTION READ ONLY")
        cursor = lease.cursor = lease.conn.cursor(SSCursor)
        cursor.execute(text)  # no args: a % in the SQL is not a placeholder
        if cursor.description is None:
            raise SqlNotAllowed("The statement returns no rows", reason="not_read_only")
        # PyMySQL keeps the column flags and character sets only on its result's fields.
        plan = arrow_plan(cursor._result.fields, nullable_all=has_rollup(query.sql))
        first = fetch_rows(cursor.fetchmany, query.batch_rows)
        query.check()  # SLEEP() and BENCHMARK() return normally when killed
        rows, ended = first
        whole = ended or (query.row_limit is not None and len(rows) > query.row_limit)
        # The whole result, as plain values: the driver's rows are the answer (no Arrow).
        plain = None
        if whole and plain_values(rows, plan.schema):
            plain = cast(list[tuple[Any, ...]], rows)
        return Started(plan.columns, plan.schema, _batches(query, cursor, plan, first), plain)

    def _admin(self, *queries: str, timeout: float = 30.0) -> list[tuple[tuple[Any, ...], ...]]:
        """The engine's own small queries (introspection, grants), read-only and reset after."""
        query = Query(timeout=timeout)
        try:
            lease = self._lease(query)
            _run(lease.conn, "START TRANSACTION READ ONLY")
            with lease.conn.cursor() as cursor:
                results = []
                for sql in queries:
                    cursor.execute(sql)
                    results.append(cursor.fetchall())
        except BaseException as exc:
            error = query.fail(exc)
            if error is exc:
                raise
            raise error from exc
        query.close()
        return results

    def _read_schema(self) -> DatabaseSchema:
        database, tables, columns, keys = self._admin(
            "SELECT DATABASE()", TABLES, COLUMNS, KEYS, timeout=60.0
        )
        return build_schema(str(database[0][0]), tables, columns, keys)

    def probe(self) -> ServerInfo:
        started = time.perf_counter()
        self.execute("SELECT 1", None, timeout=10, row_limit=1)
        latency = (time.perf_counter() - started) * 1000
        database, grants = self._admin("SELECT DATABASE()", "SHOW GRANTS")
        risky = write_grants([str(row[0]) for row in grants], str(database[0][0]))
        detail = None
        if risky:
            detail = (
                f"The user holds {'; '.join(risky)}. Only the read-only session stops writes; "
                "register a user granted only SELECT on this database."
            )
        return ServerInfo(
            version=self.version(),
            latency_ms=round(latency, 3),
            can_write=bool(risky),
            write_detail=detail,
        )

    def version(self) -> str:
        return f"{'MariaDB' if self._mariadb else 'MySQL'} {self._version}"

    def close(self) -> None:
        self._closed = True  # connections still lent out are closed when given back
        for conn in drained(self._pool):
            _close_quietly(conn)
        with self._killer_lock:
            if self._killer is not None:
                _close_quietly(self._killer)
                self._killer = None


class _Lease:
    """A pooled connection lent to one statement, under its query's deadline."""

    def __init__(self, engine: MySQLEngine, conn: Any, deadline: Deadline) -> None:
        self.engine = engine
        self.conn = conn
        self.thread_id: int = conn.thread_id()
        self.cursor: Any = None
        self.deadline = deadline

    def interrupt(self) -> None:
        threading.Thread(
            target=self.engine._stop, args=(self,), name="sqlgate-mysql-kill", daemon=True
        ).start()


def _batches(
    query: Query, cursor: Any, plan: ArrowPlan, first: tuple[list[Any], bool]
) -> Iterator[pa.RecordBatch]:
    """Batches of the ``first`` rows read, then of the rest."""
    rows, ended = first
    while True:
        if not rows:
            return
        yield plan.batch(rows)
        if ended:
            return
        rows, ended = fetch_rows(cursor.fetchmany, query.batch_rows)
        query.check()  # SLEEP() and BENCHMARK() return normally when killed


# --- connection helpers ------------------------------------------------------------------------


def _run(conn: Any, sql: str) -> None:
    with conn.cursor() as cursor:
        cursor.execute(sql)


def _unread(conn: Any) -> bool:
    result = conn._result
    return result is not None and bool(result.unbuffered_active)


def _drain(conn: Any) -> None:
    """Read what the killed statement already sent, up to its end or its 'interrupted' error."""
    try:
        conn._result._finish_unbuffered_query()
    except pymysql.err.OperationalError as exc:
        if _code(exc) != ER.QUERY_INTERRUPTED:
            raise


def _discard(lease: _Lease) -> None:
    conn = lease.conn
    if conn._result is not None:
        conn._result.unbuffered_active = False  # nothing reads the rest: the socket closes
    if lease.cursor is not None:
        lease.cursor.connection = None
    _close_quietly(conn)


def _close_quietly(conn: Any) -> None:
    with contextlib.suppress(Exception):
        conn.close()


def _lost(exc: BaseException) -> bool:
    """A client-side error: the connection is gone, not the statement wrong."""
    return isinstance(exc, pymysql.InterfaceError) or 2000 <= _code(exc) < 3000


def _literal(conn: Any, value: Any) -> str:
    """A parameter as a literal, quoted by the connection (which follows NO_BACKSLASH_ESCAPES).
    A list becomes ``(a, b, ...)`` for ``IN :ids``."""
    if isinstance(value, list | tuple):
        if value and all(_scalar(v) for v in value):
            return str(conn.escape(tuple(value)))
        raise ParameterError(
            "A list parameter must be a non-empty list of plain values (for IN :name)",
            field="params",
        )
    if not _scalar(value):
        raise ParameterError(
            f"A parameter value of type {type(value).__name__} is not supported", field="params"
        )
    return str(conn.escape(value))


def _scalar(value: Any) -> bool:
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return value is None or isinstance(value, bool | int | float | Decimal | str | bytes | date)


def _ssl_options(mode: str | None) -> dict[str, Any]:
    if mode in (None, "", "preferred"):
        return {}  # PyMySQL's default: TLS when the server offers it
    modes = MySQLEngine.ssl_modes
    if mode not in modes:
        raise ConnectionFailed(f"Unknown ssl_mode {mode!r}; use one of {', '.join(sorted(modes))}")
    if mode == "disabled":
        return {"ssl_disabled": True}
    context = ssl.create_default_context()
    if mode != "verify_identity":
        context.check_hostname = False
    if mode == "required":
        context.verify_mode = ssl.CERT_NONE
    return {"ssl": context}


def _flavour(server_info: str) -> tuple[bool, str]:
    """(is MariaDB, version number). MariaDB may prefix ``5.5.5-`` for old replication clients."""
    mariadb = "mariadb" in server_info.lower()
    if mariadb and server_info.startswith("5.5.5-"):
        server_info = server_info[len("5.5.5-") :]
    return mariadb, server_info.split("-", 1)[0]


# --- errors ------------------------------------------------------------------------------------


def _code(exc: BaseException) -> int:
    """The server's (or PyMySQL's client-side) error number, 0 when there is none."""
    return exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0


def _message(exc: BaseException) -> str:
    args = exc.args
    text = str(args[1]) if len(args) > 1 else str(exc)
    text = text.strip().splitlines()[0] if text.strip() else ""
    return text or type(exc).__name__


def _translate(exc: BaseException, deadline: Deadline, sql: str) -> BaseException:
    if isinstance(exc, UnicodeDecodeError):
        return QueryError(
            "A column's values cannot be read as text (spatial types: select ST_AsText(column))"
        )
    if isinstance(exc, SqlglotError):  # binding parameters needs the SQL tokenized
        return QueryError(f"The query could not be read to bind its parameters: {_message(exc)}")
    if not isinstance(exc, pymysql.MySQLError):
        return exc
    code, message = _code(exc), _message(exc)
    if code in _TIMEOUT_CODES:
        return deadline.error()
    if code in _REFUSED_CODES:
        return SqlNotAllowed(
            f"Refused by the read-only session: {message}", reason="engine_refused"
        )
    if code == ER.PARSE_ERROR and stacked(sql):
        return SqlNotAllowed("Exactly one statement is allowed", reason="multiple_statements")
    if _lost(exc):
        return ConnectionFailed(f"Lost the connection to the MySQL server: {message}")
    return QueryError(message)
