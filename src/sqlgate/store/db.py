"""Opening the metadata store and bringing its schema up to date."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Insert, Select, Table, create_engine, event, insert, make_url
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.compiler import SQLCompiler

from sqlgate.store._head import at_newest

MIGRATIONS = Path(__file__).parent / "migrations"
#: A SQLite store's pool: connections kept open, and opened beyond those at busy moments.
POOL_SIZE = 16
MAX_OVERFLOW = 24


class Store:
    """The metadata store: one SQLAlchemy engine and a session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = _make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._compiled: dict[Select[Any], SQLCompiler] = {}
        #: A SQLite store's connections for :meth:`rows`, most recently used last.
        self._readers: list[Any] = []
        self._closed = False
        self._inserts: dict[tuple[str, tuple[str, ...]], _InsertPlan] = {}
        # A SQLite file (a memory database is one per connection: the pool's only).
        self._own_readers = isinstance(self.engine.pool, QueuePool) and url.startswith("sqlite")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        with self._sessions() as session, session.begin():
            yield session

    def rows(self, statement: Select[Any], params: Mapping[str, str]) -> list[tuple[Any, ...]]:
        """The rows of ``statement`` (a select whose parameters are all text) with ``params``:
        the same SQL as ``engine.connect().execute`` sends, compiled once and run on a DBAPI
        connection without Core's execution and result machinery (a few times cheaper, for a
        look-up made on every query). A SQLite store keeps a few connections of its own for
        this, reused last-in first-out so their page cache stays warm."""
        compiled = self._compiled.get(statement)
        if compiled is None:
            made = statement.compile(dialect=self.engine.dialect)
            assert isinstance(made, SQLCompiler)
            compiled = self._compiled[statement] = made
        values: Any = compiled.construct_params(params)
        if compiled.positiontup is not None:
            values = tuple(values[name] for name in compiled.positiontup)
        if not self._own_readers:
            raw = self.engine.raw_connection()
            try:
                cursor = raw.cursor()
                try:
                    cursor.execute(compiled.string, values)
                    return list(cursor.fetchall())
                finally:
                    cursor.close()
            finally:
                raw.close()  # back to the pool, rolled back as Core's connections are
        try:
            conn = self._readers.pop()  # list.pop and append: atomic, no lock
        except IndexError:
            conn = self._reader()
        try:
            found: list[tuple[Any, ...]] = conn.execute(compiled.string, values).fetchall()
            if conn.in_transaction:
                conn.rollback()
        except BaseException:
            conn.close()
            raise
        if self._closed or len(self._readers) >= POOL_SIZE:
            conn.close()
        else:
            self._readers.append(conn)
        return found

    def insert_many(
        self, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        """Insert ``rows`` (values in the order of ``columns``) into ``table`` in one
        transaction. On a SQLite store the DBAPI's ``executemany`` takes the statement Core
        compiles and the values Core's bind processors make of them (the same rows, without
        Core's per-row parameter handling); elsewhere Core inserts them."""
        statement = insert(table)
        if not self._own_readers:
            keyed = [dict(zip(columns, row, strict=True)) for row in rows]
            if keyed:
                with self.engine.begin() as db:
                    db.execute(statement, keyed)
            return
        key = (table.name, tuple(columns))
        plan = self._inserts.get(key)
        if plan is None:
            plan = self._inserts[key] = _InsertPlan(statement, columns, self.engine.dialect)
        values = plan.values(rows)
        if not values:
            return
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                cursor.executemany(plan.sql, values)
            finally:
                cursor.close()
            raw.commit()
        except BaseException:
            raw.rollback()
            raise
        finally:
            raw.close()

    def _reader(self) -> Any:
        """A DBAPI connection of a SQLite store opened as the pool opens them (its pragmas
        run), then detached from the pool: :meth:`rows` keeps it."""
        raw = self.engine.raw_connection()
        raw.detach()
        return raw.dbapi_connection

    def migrate(self) -> None:
        """Apply every Alembic revision not yet applied (idempotent). A store already at the
        newest revision is left as it is without loading Alembic (see :mod:`._head`)."""
        if at_newest(self.engine, MIGRATIONS / "versions"):
            return
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def close(self) -> None:
        self._closed = True
        while self._readers:
            self._readers.pop().close()
        self.engine.dispose()


class _InsertPlan:
    """An insert of given columns as Core compiles it for a dialect, and each column's bind
    processor (what Core makes of a value: JSON text, a datetime's text)."""

    def __init__(self, statement: Insert, columns: Sequence[str], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(columns))
        assert isinstance(compiled, SQLCompiler)
        assert compiled.positiontup is not None
        self.sql = compiled.string
        position = {name: i for i, name in enumerate(columns)}
        order = [position[name] for name in compiled.positiontup]
        pick = itemgetter(*order)
        self._ordered = pick if len(order) > 1 else lambda row: (pick(row),)
        table = statement.table
        processors = [
            table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in compiled.positiontup
        ]
        self._processed = [(i, p) for i, p in enumerate(processors) if p is not None]

    def values(self, rows: Iterable[Sequence[Any]]) -> list[Sequence[Any]]:
        out = []
        for row in rows:
            values = list(self._ordered(row))
            for i, process in self._processed:
                values[i] = process(values[i])
            out.append(values)
        return out


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # A file's pool keeps as many connections as request threads may use at once (40):
        # past the default 5 (+10), each connection was opened (its pragmas run) per use.
        database = make_url(url).database
        in_memory = database in (None, "", ":memory:") or "mode=memory" in url
        sizes = {} if in_memory else {"pool_size": POOL_SIZE, "max_overflow": MAX_OVERFLOW}
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **sizes
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # WAL lets `sqlgate init` and a running server share the file.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True)
