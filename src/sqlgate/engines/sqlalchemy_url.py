"""Generic engine for databases with no native engine (Trino, Snowflake, BigQuery, ClickHouse,
SQL Server...), reached through their SQLAlchemy dialects by URL.

Read-only is best effort here, under the SQL guard (which parses in the dialect's sqlglot dialect):

* every query runs in a transaction that is always rolled back, so on a database with
  transactions a write that slipped through is not kept;
* PostgreSQL transactions are read-only (``postgresql_readonly``), MySQL, MariaDB and Oracle ones
  start with ``SET TRANSACTION READ ONLY``, and SQLite files open with ``mode=ro``: writes fail;
* a statement that returns no rows is refused (after the rollback).

DDL that commits implicitly (MySQL, Oracle) is not undone by the rollback, and on databases
without read-only transactions only their own permissions forbid writes: register URLs with
credentials that can only read.

Statements run through ``sqlalchemy.text()``, so parameters are ``:name`` bound by the driver.
Rows come back as Python values and become Arrow batches typed from the first batch.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, CursorResult, make_url
from sqlalchemy.engine.reflection import Inspector, ObjectKind
from sqlalchemy.pool import NullPool
from sqlglot.errors import TokenError

from sqlgate.engines._params import placeholders
from sqlgate.engines._rows import fetch_rows, fetched_batches, infer_schema
from sqlgate.engines.base import Engine, Query, Started, columns_from_schema
from sqlgate.errors import ConnectionFailed, ParameterError, QueryError, SqlNotAllowed

if TYPE_CHECKING:
    from sqlgate.engines.base import ConnectionSpec
    from sqlgate.settings import Settings
from sqlgate.vocabulary.schema import DatabaseSchema, ForeignKey, SchemaColumn, SchemaTable

# SQLAlchemy dialect name -> sqlglot dialect; anything else parses in sqlglot's generic dialect.
SQLGLOT_DIALECTS = {
    "postgresql": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
    "duckdb": "duckdb",
    "mssql": "tsql",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "trino": "trino",
    "clickhouse": "clickhouse",
    "oracle": "oracle",
}
_PRODUCTS = {
    "postgresql": "PostgreSQL",
    "mysql": "MySQL",
    "sqlite": "SQLite",
    "mssql": "SQL Server",
    "oracle": "Oracle",
}
# The package that provides a dialect missing from this installation...
_DIALECT_PACKAGES = {
    "snowflake": "snowflake-sqlalchemy",
    "bigquery": "sqlalchemy-bigquery",
    "trino": "trino",
    "clickhouse": "clickhouse-sqlalchemy",
    "clickhousedb": "clickhouse-connect",
    "duckdb": "duckdb-engine",
    "databricks": "databricks-sqlalchemy",
    "redshift": "sqlalchemy-redshift",
    "awsathena": "pyathena",
    "cockroachdb": "sqlalchemy-cockroachdb",
}
# ... and the one that provides a missing driver module (by top-level module name).
_DRIVER_PACKAGES = {
    "psycopg2": "psycopg2-binary",
    "psycopg": "psycopg[binary]",
    "pg8000": "pg8000",
    "MySQLdb": "mysqlclient",
    "pymysql": "pymysql",
    "mysql": "mysql-connector-python",
    "mariadb": "mariadb",
    "pyodbc": "pyodbc",
    "pymssql": "pymssql",
    "oracledb": "oracledb",
    "cx_Oracle": "cx_Oracle",
}
# Connect-timeout argument of each driver that has one (SQLAlchemy driver name).
_TIMEOUT_ARGS = {
    "psycopg": "connect_timeout",
    "psycopg2": "connect_timeout",
    "pg8000": "timeout",
    "pymysql": "connect_timeout",
    "mysqldb": "connect_timeout",
    "mariadbconnector": "connect_timeout",
    "pymssql": "login_timeout",
    "pyodbc": "timeout",
    "oracledb": "tcp_connect_timeout",
    "snowflake": "login_timeout",
}
_READ_ONLY_STATEMENT = {
    "mysql": "SET TRANSACTION READ ONLY",
    "mariadb": "SET TRANSACTION READ ONLY",
    "oracle": "SET TRANSACTION READ ONLY",
}
# sqlite3's and PostgreSQL's (prepared statements) refusals of stacked statements.
_MULTIPLE_STATEMENTS = ("one statement at a time", "cannot insert multiple commands")
_MYSQL = frozenset({"mysql", "mariadb"})
_SYSTEM_SCHEMAS = frozenset(
    {"information_schema", "pg_catalog", "pg_toast", "mysql", "performance_schema", "sys"}
)
# SQLAlchemy's rule for a bind parameter in text(): any `:word`, even inside a string literal.
_TEXT_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")
_BACKGROUND = re.compile(r"\s*\(Background on this error at: \S+\)")


def sqlglot_dialect(url: str) -> str:
    """The sqlglot dialect for a SQLAlchemy URL, from its dialect name (no driver is loaded)."""
    try:
        backend = make_url(url).get_backend_name()
    except (sa.exc.ArgumentError, ValueError):
        return ""
    return SQLGLOT_DIALECTS.get(backend, "")


class SQLAlchemyEngine(Engine):
    type = "sqlalchemy"
    summary = (
        "anything with a SQLAlchemy dialect (Trino, Snowflake, BigQuery, ClickHouse, SQL Server, "
        "...)"
    )
    dialect = ""  # per connection: see dialect_of
    location = "url"
    parameter_style = ":name"

    @classmethod
    def from_spec(cls, spec: ConnectionSpec, settings: Settings) -> SQLAlchemyEngine:
        return cls(
            spec,
            pool_size=settings.server_pool_size,
            connect_timeout=settings.server_connect_timeout,
        )

    @classmethod
    def dialect_of(cls, database: str | None) -> str:
        """The sqlglot dialect its URL's database speaks ("" for sqlglot's generic one)."""
        return sqlglot_dialect(database or "")

    def __init__(
        self, spec: ConnectionSpec, *, pool_size: int = 5, connect_timeout: float = 5.0
    ) -> None:
        super().__init__()
        if not spec.database:
            raise ConnectionFailed("The connection has no SQLAlchemy URL")
        try:
            url = make_url(spec.database)
        except (sa.exc.ArgumentError, ValueError) as exc:
            raise ConnectionFailed("The SQLAlchemy URL is not valid") from exc
        if spec.password:
            url = url.set(password=spec.password)
        self._shown = url.render_as_string(hide_password=True)
        self._url = _read_only_url(url)
        self._engine = self._create(self._url, connect_timeout, pool_size)
        name = self._engine.dialect.name
        # Per instance (the base class has it per class): it depends on the URL's database.
        self.dialect = self.dialect_of(spec.database)  # type: ignore[misc]
        self._read_only_statement = _READ_ONLY_STATEMENT.get(name)
        self._options = {"postgresql_readonly": True} if name == "postgresql" else {}
        self._connect_timeout = connect_timeout

    def _create(self, url: URL, connect_timeout: float, pool_size: int) -> sa.Engine:
        """An engine for ``url`` that has connected once, or :class:`ConnectionFailed`."""
        engine: sa.Engine | None = None
        try:
            engine = sa.create_engine(
                url,
                pool_size=pool_size,
                pool_pre_ping=True,
                connect_args=_timeout_args(url, connect_timeout),
            )
            if url.get_driver_name() == "pysqlite":
                _sqlite_session(engine)
            with engine.connect():
                pass
        except sa.exc.NoSuchModuleError as exc:
            raise ConnectionFailed(_missing_dialect(url)) from exc
        except ModuleNotFoundError as exc:
            raise ConnectionFailed(_missing_driver(url, exc.name or "")) from exc
        except (sa.exc.SQLAlchemyError, ImportError, ValueError, TypeError, OSError) as exc:
            if engine is not None:
                engine.dispose()
            raise ConnectionFailed(f"Could not connect to {self._shown}: {_message(exc)}") from exc
        return engine

    def _start(self, query: Query) -> Started:
        conn = self._connect()
        results: list[CursorResult[Any]] = []

        def release() -> None:
            try:
                for result in results:
                    result.close()
                conn.rollback()
            except Exception:
                conn.invalidate()  # interrupted by closing, or broken: not for reuse
            finally:
                conn.close()

        def fetch(rows: int) -> Sequence[Any]:
            fetched = result.fetchmany(rows)
            query.check()  # a killed MySQL SLEEP() returns normally
            return fetched

        query.hold(interrupt=self._interrupter(conn), release=release, translate=self._translate)
        if self._options:
            conn.execution_options(**self._options)
        if self._read_only_statement:
            conn.exec_driver_sql(self._read_only_statement)
        result = conn.execute(
            _statement(query.sql, self.dialect),
            dict(query.params or {}),
            execution_options={"yield_per": query.batch_rows},
        )
        results.append(result)
        if not result.returns_rows:
            raise SqlNotAllowed("The statement returns no rows", reason="not_read_only")
        names = list(result.keys())
        first = fetch_rows(fetch, query.batch_rows)
        schema = infer_schema(names, first[0])
        batches = fetched_batches(fetch, first, schema, query.batch_rows)
        return Started(columns_from_schema(schema), schema, batches)

    def _connect(self) -> Connection:
        try:
            return self._engine.connect()
        except sa.exc.SQLAlchemyError as exc:
            raise ConnectionFailed(f"Could not connect to {self._shown}: {_message(exc)}") from exc

    def _interrupter(self, conn: Connection) -> Callable[[], None]:
        """How to stop the query running on ``conn`` from the watchdog thread: the driver's own
        cancel where it has one, MySQL's KILL QUERY, else closing the connection."""
        dbapi: Any = conn.connection.dbapi_connection
        method: Callable[[], object] = dbapi.close
        thread_id = getattr(dbapi, "thread_id", None)
        if callable(getattr(dbapi, "cancel", None)):
            method = dbapi.cancel
        elif callable(getattr(dbapi, "interrupt", None)):
            method = dbapi.interrupt
        elif callable(thread_id) and self._engine.dialect.name in _MYSQL:
            method = functools.partial(self._kill_later, int(thread_id()))

        def interrupt() -> None:
            # The shared watchdog thread calls this: it must not raise.
            with contextlib.suppress(Exception):
                method()

        return interrupt

    def _kill_later(self, server_thread: int) -> None:
        threading.Thread(
            target=self._kill, args=(server_thread,), name="sqlgate-kill", daemon=True
        ).start()

    def _kill(self, server_thread: int) -> None:
        """MySQL drivers cannot cancel: ask the server, on a connection outside the pool (which
        may be exhausted)."""
        with contextlib.suppress(Exception):
            killer = sa.create_engine(
                self._url,
                poolclass=NullPool,
                connect_args=_timeout_args(self._url, self._connect_timeout),
            )
            try:
                with killer.connect() as conn:
                    conn.exec_driver_sql(f"KILL QUERY {server_thread:d}")
            finally:
                killer.dispose()

    def _translate(self, exc: BaseException) -> BaseException:
        if isinstance(exc, sa.exc.DBAPIError):
            if _refused_write(exc.orig):
                return SqlNotAllowed(
                    f"Refused by the read-only session: {_message(exc)}",
                    reason="engine_refused",
                )
            if any(text in str(exc.orig) for text in _MULTIPLE_STATEMENTS):
                return SqlNotAllowed(
                    "Exactly one statement is allowed", reason="multiple_statements"
                )
            return QueryError(_message(exc))
        if isinstance(exc, sa.exc.StatementError) and "bind parameter" in str(exc.orig):
            return ParameterError(_message(exc), field="params")
        if isinstance(exc, sa.exc.SQLAlchemyError | pa.ArrowException | OverflowError):
            return QueryError(_message(exc))
        return exc

    def _read_schema(self) -> DatabaseSchema:
        with self._connect() as conn:
            try:
                return _introspect(sa.inspect(conn), self._engine.dialect)
            except sa.exc.SQLAlchemyError as exc:
                raise QueryError(f"Could not read the schema: {_message(exc)}") from exc
            finally:
                conn.rollback()

    def version(self) -> str:
        dialect = self._engine.dialect
        product = _PRODUCTS.get(dialect.name, dialect.name)
        if getattr(dialect, "is_mariadb", False):
            product = "MariaDB"
        info = dialect.server_version_info
        return f"{product} {'.'.join(str(part) for part in info)}" if info else product

    def close(self) -> None:
        self._engine.dispose()


def _read_only_url(url: URL) -> URL:
    """A SQLite file URL opened with ``mode=ro`` (through SQLite's URI filenames)."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return url
    if str(url.query.get("uri", "")).lower() not in ("true", "1"):
        url = url.set(database="file:" + quote(os.path.abspath(str(url.database))))
    return url.update_query_dict({"mode": "ro", "uri": "true"})


def _sqlite_session(engine: sa.Engine) -> None:
    """Python's sqlite3 begins a transaction only before INSERT, UPDATE or DELETE, so anything
    else (a temp table) would outlive the rollback: SQLAlchemy's recipe, it says BEGIN itself.
    And no ATTACH, whose effect no rollback undoes."""

    @sa.event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")


def _timeout_args(url: URL, seconds: float) -> dict[str, Any]:
    arg = _TIMEOUT_ARGS.get(url.get_driver_name())
    if arg is None or arg in url.query:
        return {}
    return {arg: max(1, math.ceil(seconds))}


def _missing_dialect(url: URL) -> str:
    name = url.get_backend_name()
    package = _DIALECT_PACKAGES.get(name)
    how = f"pip install {package}" if package else "install the package that provides it"
    return f"The SQLAlchemy dialect {name!r} is not installed: {how}"


def _missing_driver(url: URL, module: str) -> str:
    top = module.split(".")[0]
    package = _DRIVER_PACKAGES.get(top)
    how = f"pip install {package}" if package else f"install the package of module {top!r}"
    return f"The driver for SQLAlchemy dialect {url.drivername!r} is not installed: {how}"


def _statement(sql: str, dialect: str) -> sa.TextClause:
    """``text(sql)`` binding exactly the real ``:name`` placeholders (found by sqlglot's
    tokenizer). SQLAlchemy takes any ``:word`` for one, even in ``'{"a":1}'`` or a comment, so
    those colons are escaped; and it misses ``:n::int``, so a space goes before the cast."""
    if ":" not in sql:
        return sa.text(sql)
    try:
        real = {start: end for start, end, _ in placeholders(sql, dialect) if sql[start] == ":"}
    except TokenError:
        return sa.text(sql)  # unterminated string or comment: the database will say so
    edits = {m.start(): "\\" for m in _TEXT_BIND.finditer(sql) if m.start() not in real}
    edits.update({end: " " for end in real.values() if sql.startswith(":", end)})
    parts, stop = [], len(sql)
    for at in sorted(edits, reverse=True):
        parts += [sql[at:stop], edits[at]]
        stop = at
    parts.append(sql[:stop])
    return sa.text("".join(reversed(parts)))


def _refused_write(orig: BaseException | None) -> bool:
    """The database refused a write in the read-only transaction (or file)."""
    if getattr(orig, "sqlstate", None) == "25006" or getattr(orig, "pgcode", None) == "25006":
        return True  # PostgreSQL read_only_sql_transaction
    if str(getattr(orig, "sqlite_errorname", "")).startswith("SQLITE_READONLY"):
        return True
    args: tuple[Any, ...] = getattr(orig, "args", ())
    return bool(args) and args[0] == 1792  # MySQL: cannot execute in a READ ONLY transaction


def _message(exc: BaseException) -> str:
    """The driver's message without SQLAlchemy's decorations (SQL, parameters, links), up to a
    PostgreSQL ``LINE n:`` excerpt."""
    if isinstance(exc, sa.exc.StatementError) and exc.orig is not None:
        exc = exc.orig
    kept = []
    for line in _BACKGROUND.sub("", str(exc)).strip().splitlines():
        if line.startswith("LINE "):
            break
        if line.strip():
            kept.append(line.strip())
    return " ".join(kept) or type(exc).__name__


# --- introspection ------------------------------------------------------------------------------


def _introspect(inspector: Inspector, dialect: sa.Dialect) -> DatabaseSchema:
    default = inspector.default_schema_name
    names: list[str] = _optional(inspector.get_schema_names) or []
    others = sorted(
        s
        for s in names
        if s != default and s.lower() not in _SYSTEM_SCHEMAS and not s.lower().startswith("pg_")
    )
    tables: list[SchemaTable] = []
    for schema in [None, *others]:
        tables.extend(_schema_tables(inspector, dialect, schema, default))
    return DatabaseSchema(tuple(tables))


def _schema_tables(
    inspector: Inspector, dialect: sa.Dialect, schema: str | None, default: str | None
) -> list[SchemaTable]:
    """The tables and views of one schema (``None``: the default one). SQLAlchemy leaves out
    the default schema's name, also in foreign keys."""
    kinds = dict.fromkeys(inspector.get_table_names(schema), "table")
    for views in (inspector.get_view_names, inspector.get_materialized_view_names):
        kinds.update(dict.fromkeys(_optional(lambda: views(schema)) or [], "view"))  # noqa: B023
    if not kinds:
        return []
    columns = inspector.get_multi_columns(schema, kind=ObjectKind.ANY)
    pks: dict[Any, Any] = _optional(lambda: inspector.get_multi_pk_constraint(schema)) or {}
    fks: dict[Any, Any] = _optional(lambda: inspector.get_multi_foreign_keys(schema)) or {}
    comments: dict[Any, Any] = (
        _optional(lambda: inspector.get_multi_table_comment(schema, kind=ObjectKind.ANY)) or {}
    )
    return [
        SchemaTable(
            schema=schema or default,
            name=name,
            kind=kinds[name],
            columns=tuple(
                SchemaColumn(
                    c["name"],
                    _type_name(c["type"], dialect),
                    bool(c.get("nullable", True)),
                    c.get("comment"),
                )
                for c in columns.get((schema, name), [])
            ),
            primary_key=tuple((pks.get((schema, name)) or {}).get("constrained_columns") or ()),
            foreign_keys=tuple(
                ForeignKey(
                    tuple(fk["constrained_columns"]),
                    fk.get("referred_schema") or default,
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                    fk.get("name"),
                )
                for fk in fks.get((schema, name), [])
            ),
            comment=(comments.get((schema, name)) or {}).get("text"),
        )
        for name in sorted(kinds)
    ]


def _optional(read: Callable[[], Any]) -> Any:
    """What a dialect does not implement (views, comments, keys) is absent: None."""
    try:
        return read()
    except NotImplementedError:
        return None


def _type_name(column_type: Any, dialect: sa.Dialect) -> str:
    """The type as the database spells it (``TIMESTAMP WITH TIME ZONE``), else SQLAlchemy's."""
    for spell in (lambda: column_type.compile(dialect=dialect), lambda: str(column_type)):
        with contextlib.suppress(Exception):
            return str(spell())
    return type(column_type).__name__
