"""SQLite engine: read-only connections (``mode=ro``, ``query_only``, an authorizer, limits).

Connections are pooled: the authorizer refuses every action but reading tables and calling
allowed functions, so no query can leave state (temp tables, pragmas, attached files) behind.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote

from sqlgate.engines._rows import fetch_rows, fetched_batches, infer
from sqlgate.engines.base import Engine, Query, Started, columns_from_schema
from sqlgate.errors import ConnectionFailed, QueryError, SqlNotAllowed
from sqlgate.sql.guard import denied_functions
from sqlgate.vocabulary.schema import DatabaseSchema, ForeignKey, SchemaColumn, SchemaTable

if TYPE_CHECKING:
    from sqlgate.engines.base import ConnectionSpec
    from sqlgate.settings import Settings

# Schema tables disclose every table (policy: tenants see only what the catalog API shows).
_SCHEMA_TABLES = frozenset(
    {"sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema"}
)
_POOL_SIZE = 8

#: Held while rows are read (one ``fetchmany`` at a time, in the whole process). Python's
#: sqlite3 lets go of the interpreter lock around every row it steps to, and takes it back to
#: make the row: with several threads reading rows at once, each row became a hand-over of
#: the lock between threads (eight clients reading 1000-row answers: 7.8 ms of CPU per answer
#: against 1.8 ms for one client, a third of the answers per second). Read one after another,
#: a thread keeps the lock from row to row. Only the reading of rows is held: a statement's
#: first step, where SQLite sorts or aggregates, runs in ``execute``, beside the others. A read
#: that has waited :data:`_READING_WAIT` seconds goes ahead beside the one holding it (a large
#: export's batch, or a scan that finds its rows slowly, does not hold the others up longer).
_READING = threading.Lock()
_READING_WAIT = 0.05

_USER_OBJECTS = r"m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\'"
_TABLES = f"SELECT m.name, m.type FROM sqlite_master AS m WHERE {_USER_OBJECTS} ORDER BY m.name"
_COLUMNS = (
    # An INTEGER PRIMARY KEY is the rowid: never NULL even without NOT NULL.
    'SELECT m.name, p.name, p.type, p."notnull" OR (p.pk > 0 AND '
    "upper(p.type) = 'INTEGER' AND m.type = 'table'), p.pk "
    f"FROM sqlite_master AS m, pragma_table_info(m.name) AS p WHERE {_USER_OBJECTS} "
    "ORDER BY m.name, p.cid"
)
_FOREIGN_KEYS = (
    'SELECT m.name, f.id, f."table", f."from", f."to" '
    "FROM sqlite_master AS m, pragma_foreign_key_list(m.name) AS f "
    # SQLite numbers foreign keys from the last declared: DESC lists them as written.
    f"WHERE {_USER_OBJECTS} ORDER BY m.name, f.id DESC, f.seq"
)


class SQLiteEngine(Engine):
    type = "sqlite"
    summary = "a SQLite file"
    dialect = "sqlite"
    location = "file"
    parameter_style = ":name"
    # SQLite checks for an interrupt between steps of its bytecode, and no value can pass
    # SQLITE_LIMIT_LENGTH: the interrupt stops a query at once, so it runs on the caller's thread.
    isolated = False
    file_signature = (0, b"SQLite format 3\x00")

    @classmethod
    def from_spec(cls, spec: ConnectionSpec, settings: Settings) -> SQLiteEngine:
        return cls(spec.database or "", max_value_bytes=settings.sqlite_max_value_bytes)

    def __init__(self, path: str | Path, *, max_value_bytes: int = 100_000_000) -> None:
        super().__init__()
        self._path = Path(path)
        self._max_value_bytes = max_value_bytes
        self._denied = denied_functions(self.dialect)
        # Idle connections, the most recently used last (a list and a lock: a queue.LifoQueue
        # costs a few microseconds more per query for waiting this pool never does).
        self._pool: list[sqlite3.Connection] = []
        self._pool_lock = threading.Lock()
        self._release(self._open())  # fail now, at registration, if the file cannot be opened

    def _open(self) -> sqlite3.Connection:
        if not self._path.is_file():
            raise ConnectionFailed("The SQLite database file does not exist")
        uri = f"file:{quote(str(self._path.resolve()))}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA query_only = ON")
            # Load the schema before the authorizer is installed: parsing it is not a user action.
            conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
        except sqlite3.Error as exc:
            raise ConnectionFailed(f"Could not open the SQLite database: {exc}") from exc
        if hasattr(conn, "enable_load_extension"):
            conn.enable_load_extension(False)
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, self._max_value_bytes)
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        conn.set_authorizer(self._authorize)
        return conn

    def _authorize(
        self, action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None
    ) -> int:
        if action == sqlite3.SQLITE_SELECT or action == sqlite3.SQLITE_RECURSIVE:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_READ:
            ok = (arg1 or "").lower() not in _SCHEMA_TABLES
            return sqlite3.SQLITE_OK if ok else sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_FUNCTION:
            ok = (arg2 or "").lower() not in self._denied
            return sqlite3.SQLITE_OK if ok else sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_UPDATE and (arg1 or "").lower() in _SCHEMA_TABLES:
            # SQLite re-reads its schema this way when another process changed it; the
            # connection is read-only (mode=ro, query_only), so nothing can be written.
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY

    def _acquire(self) -> sqlite3.Connection:
        with self._pool_lock:
            if self._pool:
                return self._pool.pop()
        return self._open()

    def _release(self, conn: sqlite3.Connection) -> None:
        with self._pool_lock:
            if len(self._pool) < _POOL_SIZE:
                self._pool.append(conn)
                return
        conn.close()

    def _start(self, query: Query) -> Started:
        conn = self._acquire()
        cursor = conn.cursor()

        def release() -> None:
            cursor.close()
            if query.failed:  # e.g. interrupted mid-statement: not for the pool
                conn.close()
            else:
                self._release(conn)

        query.hold(interrupt=conn.interrupt, release=release, translate=_translate)
        cursor.execute(query.sql, dict(query.params) if query.params else {})
        names = [d[0] for d in cursor.description or ()]
        if not names:
            raise SqlNotAllowed("The statement returns no rows", reason="not_read_only")
        fetch = _one_reader(cursor)
        first = fetch_rows(fetch, query.batch_rows)
        schema, plain = infer(names, first[0])
        batches = fetched_batches(fetch, first, schema, query.batch_rows)
        whole = first[1] or (query.row_limit is not None and len(first[0]) > query.row_limit)
        # Plain rows are tuples (infer checks): the driver's own, answered as they are.
        rows = cast(list[tuple[Any, ...]], first[0]) if plain and whole else None
        return Started(columns_from_schema(schema), schema, batches, rows)

    def _read_schema(self) -> DatabaseSchema:
        # A plain connection: the pooled ones' authorizer refuses sqlite_master.
        uri = f"file:{quote(str(self._path.resolve()))}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True)
        except sqlite3.Error as exc:
            raise ConnectionFailed(f"Could not open the SQLite database: {exc}") from exc
        try:
            conn.execute("PRAGMA query_only = ON")
            tables = conn.execute(_TABLES).fetchall()
            columns = conn.execute(_COLUMNS).fetchall()
            foreign_keys = conn.execute(_FOREIGN_KEYS).fetchall()
        finally:
            conn.close()
        return _schema(tables, columns, foreign_keys)

    def version(self) -> str:
        return f"SQLite {sqlite3.sqlite_version}"

    def close(self) -> None:
        with self._pool_lock:
            idle, self._pool = self._pool, []
        for conn in idle:
            conn.close()


def _schema(
    tables: list[tuple[Any, ...]],
    columns: list[tuple[Any, ...]],
    foreign_keys: list[tuple[Any, ...]],
) -> DatabaseSchema:
    """Assemble the introspection rows (each in its final order) into tables."""
    cols: dict[str, list[SchemaColumn]] = {}
    pk_positions: dict[str, list[tuple[int, str]]] = {}
    for table, name, data_type, not_null, pk in columns:
        cols.setdefault(table, []).append(SchemaColumn(name, data_type or "", not not_null))
        if pk:
            pk_positions.setdefault(table, []).append((pk, name))
    pks = {table: tuple(name for _, name in sorted(found)) for table, found in pk_positions.items()}
    grouped: dict[tuple[str, int], list[tuple[str, str, str | None]]] = {}
    for table, fk_id, parent, column, parent_column in foreign_keys:
        grouped.setdefault((table, fk_id), []).append((parent, column, parent_column))
    fks: dict[str, list[ForeignKey]] = {}
    for (table, _), pairs in grouped.items():
        parent = pairs[0][0]
        named = tuple(p for _, _, p in pairs if p is not None)
        # `REFERENCES parent` without columns means the parent's primary key.
        parent_columns = named if len(named) == len(pairs) else _case_insensitive(pks, parent)
        fks.setdefault(table, []).append(
            ForeignKey(tuple(c for _, c, _ in pairs), "main", parent, parent_columns)
        )
    return DatabaseSchema(
        tuple(
            SchemaTable(
                schema="main",
                name=name,
                kind=kind,
                columns=tuple(cols.get(name, ())),
                primary_key=pks.get(name, ()),
                foreign_keys=tuple(fks.get(name, ())),
            )
            for name, kind in tables
        )
    )


def _case_insensitive(pks: dict[str, tuple[str, ...]], table: str) -> tuple[str, ...]:
    """SQLite table names match case-insensitively, and a foreign key may spell them otherwise."""
    return next((pk for name, pk in pks.items() if name.lower() == table.lower()), ())


def _one_reader(cursor: sqlite3.Cursor) -> Callable[[int], list[Any]]:
    """``cursor.fetchmany``, under :data:`_READING` when it comes free in time."""
    fetchmany = cursor.fetchmany

    def fetch(size: int) -> list[Any]:
        if not _READING.acquire(timeout=_READING_WAIT):
            return fetchmany(size)
        try:
            return fetchmany(size)
        finally:
            _READING.release()

    return fetch


def _translate(exc: BaseException) -> BaseException:
    if isinstance(exc, sqlite3.DatabaseError) and "not authorized" in str(exc):
        return SqlNotAllowed(f"Refused by the read-only session: {exc}", reason="engine_refused")
    if isinstance(exc, sqlite3.ProgrammingError) and "one statement at a time" in str(exc):
        return SqlNotAllowed("Exactly one statement is allowed", reason="multiple_statements")
    if isinstance(exc, sqlite3.Error):
        return QueryError(str(exc))
    if isinstance(exc, OverflowError):
        return QueryError(f"A parameter value is out of SQLite's range: {exc}")
    return exc
