"""The engine protocol: what every database backend offers the query service.

An engine is opened once per registered connection and shared by requests. Each query gets its own
read-only session at the engine level (so nothing one query sets survives it), runs with a deadline
that interrupts the engine, and hands back Arrow record batches.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import pyarrow as pa

from sqlgate.errors import QueryTimeout
from sqlgate.results.types import sql_type_name

BATCH_ROWS = 65_536


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    not_null: bool = False


@dataclass(frozen=True)
class CatalogColumn:
    name: str
    type: str
    not_null: bool


@dataclass(frozen=True, eq=False)
class Catalog:
    """Tables (and views) a connection exposes, keyed by lower-case name. Hashed by identity:
    a refreshed catalog is a new object, so caches keyed on it never serve stale answers."""

    tables: dict[str, dict[str, CatalogColumn]]

    @classmethod
    def from_schema(cls, schema: DatabaseSchema) -> Catalog:
        """Every table of the introspected schema; a name in several schemas keeps the first
        (engines list their default schema first)."""
        tables: dict[str, dict[str, CatalogColumn]] = {}
        for table in schema.tables:
            columns = {
                c.name.lower(): CatalogColumn(c.name, c.type, not c.nullable) for c in table.columns
            }
            tables.setdefault(table.name.lower(), columns)
            if table.schema:
                tables.setdefault(f"{table.schema}.{table.name}".lower(), columns)
        return cls(tables)

    def columns(self, table: str) -> dict[str, CatalogColumn] | None:
        return self.tables.get(table.lower())


# --- schema introspection (GET /v1/connections/{id}/schema) ---------------------------------


@dataclass(frozen=True)
class SchemaColumn:
    name: str
    type: str  # the engine's own type name, e.g. "character varying(160)", "INTEGER"
    nullable: bool
    comment: str | None = None


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    references_schema: str | None
    references_table: str
    references_columns: tuple[str, ...]
    name: str | None = None


@dataclass(frozen=True)
class SchemaTable:
    schema: str | None  # None where the engine has no schemas (SQLite's "main" is reported)
    name: str
    kind: str  # "table" or "view"
    columns: tuple[SchemaColumn, ...]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    comment: str | None = None


@dataclass(frozen=True, eq=False)
class DatabaseSchema:
    """What a connection exposes, read once and cached by the engine until refreshed.
    Tables are ordered: default schema first, then by schema and name."""

    tables: tuple[SchemaTable, ...]
    read_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def schemas(self) -> list[str]:
        seen: dict[str, None] = {}
        for table in self.tables:
            if table.schema is not None:
                seen.setdefault(table.schema, None)
        return list(seen)


@dataclass(frozen=True)
class ServerInfo:
    """What ``POST /v1/connections/{id}/test`` reports."""

    version: str
    latency_ms: float
    can_write: bool
    #: Why the credentials look able to write (a privilege, a role attribute), when they do.
    write_detail: str | None = None


@dataclass
class QueryResult:
    """A bounded result: at most ``row_limit`` rows, and whether more were available."""

    columns: list[Column]
    table: pa.Table
    truncated: bool
    execution_time_ms: float

    @property
    def row_count(self) -> int:
        return int(self.table.num_rows)


@dataclass
class ResultStream:
    """An unbounded-in-size, bounded-in-memory result: batches pulled lazily from the engine.

    ``truncated`` becomes true once iteration stops at the row limit with rows still left.
    Always ``close()`` it (or iterate to the end); closing releases the engine session.
    """

    columns: list[Column]
    schema: pa.Schema
    _batches: Iterator[pa.RecordBatch]
    _close: Callable[[], None]
    row_limit: int | None = None
    truncated: bool = False
    rows: int = 0
    _closed: bool = field(default=False, repr=False)
    _on_close: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        try:
            for batch in self._batches:
                if self.row_limit is not None and self.rows + batch.num_rows > self.row_limit:
                    batch = batch.slice(0, self.row_limit - self.rows)
                    self.truncated = True
                if batch.num_rows:
                    self.rows += batch.num_rows
                    yield batch
                if self.truncated:
                    break
        finally:
            self.close()

    def on_close(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the stream is closed and its engine session released (also
        when releasing it fails), after those added before it."""
        self._on_close.append(callback)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self._close()
            finally:
                for callback in self._on_close:
                    callback()


class _Watchdog:
    """One thread that fires every pending deadline, instead of a thread per query (starting a
    thread costs more than a small query)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._wake = threading.Condition()
        self._counter = itertools.count()
        self._thread: threading.Thread | None = None

    def schedule(self, deadline: Deadline) -> None:
        with self._wake:
            heapq.heappush(self._heap, (deadline.at, next(self._counter), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="sqlgate-watchdog", daemon=True
                )
                self._thread.start()
            # Only an earlier deadline changes how long the thread sleeps; waking it for every
            # query would cost a context switch each.
            if self._heap[0][2] is deadline:
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._wake.wait(timeout)
                _, _, deadline = heapq.heappop(self._heap)
            deadline.fire()


_WATCHDOG = _Watchdog()


class Deadline:
    """Calls ``interrupt`` when ``seconds`` pass, unless cancelled first.

    ``expired`` tells afterwards whether the interrupt fired, so an engine error caused by the
    interrupt can be reported as a timeout rather than a query error.
    """

    def __init__(self, seconds: float, interrupt: Callable[[], None]) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self._interrupt: Callable[[], None] | None = interrupt
        self._lock = threading.Lock()
        _WATCHDOG.schedule(self)
        observer = _DEADLINE_OBSERVER.get()
        if observer is not None:
            observer(self)

    def fire(self) -> None:
        with self._lock:
            interrupt, self._interrupt = self._interrupt, None
            if interrupt is None:
                return
            self.expired = True
        interrupt()

    def cancel(self) -> None:
        # Drop the callback at once: the heap keeps this object until its time comes, and the
        # callback holds the engine session.
        with self._lock:
            self._interrupt = None

    def error(self) -> QueryTimeout:
        return QueryTimeout(
            f"The query ran longer than its timeout of {self.seconds:g} s and was stopped",
            timeout=self.seconds,
        )


_DEADLINE_OBSERVER: ContextVar[Callable[[Deadline], None] | None] = ContextVar(
    "sqlgate_deadline_observer", default=None
)


@contextmanager
def observe_deadlines(observer: Callable[[Deadline], None]) -> Iterator[None]:
    """Hand ``observer`` every Deadline started in this context (thread), so the caller can
    stop its query early with ``deadline.fire()``: async jobs cancel on the engine this way."""
    token = _DEADLINE_OBSERVER.set(observer)
    try:
        yield
    finally:
        _DEADLINE_OBSERVER.reset(token)


def columns_from_schema(schema: pa.Schema, engine_types: list[str] | None = None) -> list[Column]:
    types = engine_types or [sql_type_name(f.type) for f in schema]
    return [
        Column(name=f.name, type=t, not_null=not f.nullable)
        for f, t in zip(schema, types, strict=True)
    ]


def collect(stream: ResultStream, started: float) -> QueryResult:
    """Drain a stream (already bounded by its row limit) into a QueryResult."""
    batches = list(stream)
    table = pa.Table.from_batches(batches, schema=stream.schema)
    return QueryResult(
        columns=stream.columns,
        table=table,
        truncated=stream.truncated,
        execution_time_ms=(time.perf_counter() - started) * 1000,
    )


class Engine(ABC):
    """A database backend. Subclasses are small and declarative where they can be."""

    #: Name used in connection records (``type`` field) and to pick the sqlglot dialect.
    type: ClassVar[str]
    #: sqlglot dialect the SQL guard parses in.
    dialect: ClassVar[str]
    #: How a named parameter is written in this engine's SQL, for docs and errors.
    parameter_style: ClassVar[str]

    _schema: DatabaseSchema | None = None
    _catalog: Catalog | None = None
    _catalog_lock = threading.Lock()

    @abstractmethod
    def stream(
        self,
        sql: str,
        params: Mapping[str, Any] | None,
        *,
        timeout: float,
        row_limit: int | None,
        batch_rows: int = BATCH_ROWS,
    ) -> ResultStream:
        """Start ``sql`` in a fresh read-only session and return its result stream.

        Errors before the first batch (syntax, binding, missing tables, timeouts) raise here.
        """

    def execute(
        self, sql: str, params: Mapping[str, Any] | None, *, timeout: float, row_limit: int
    ) -> QueryResult:
        """Run ``sql`` and return at most ``row_limit`` rows, fetching one more to report
        truncation."""
        started = time.perf_counter()
        stream = self.stream(
            sql,
            params,
            timeout=timeout,
            row_limit=row_limit,
            batch_rows=min(row_limit + 1, BATCH_ROWS),
        )
        return collect(stream, started)

    def schema(self, *, refresh: bool = False) -> DatabaseSchema:
        """Schemas, tables, columns and keys this connection exposes; cached until ``refresh``."""
        with self._catalog_lock:
            if refresh or self._schema is None:
                self._schema = self._read_schema()
                self._catalog = None
            return self._schema

    def catalog(self, *, refresh: bool = False) -> Catalog:
        """Tables and columns by name, for the guard's warnings and ``notNull``; derived from
        (and cached with) :meth:`schema`."""
        schema = self.schema(refresh=refresh)
        with self._catalog_lock:
            if self._catalog is None or self._schema is not schema:
                self._catalog = Catalog.from_schema(schema)
            return self._catalog

    @abstractmethod
    def _read_schema(self) -> DatabaseSchema:
        """Introspect the database (outside the user's read-only session rules)."""

    def probe(self) -> ServerInfo:
        """Connect, time a round trip, and say whether the credentials could write."""
        started = time.perf_counter()
        self.execute("SELECT 1", None, timeout=10, row_limit=1)
        latency = (time.perf_counter() - started) * 1000
        return ServerInfo(version=self.version(), latency_ms=round(latency, 3), can_write=False)

    def version(self) -> str:
        """The database engine's name and version, e.g. ``PostgreSQL 15.19``."""
        return self.type

    @abstractmethod
    def close(self) -> None:
        """Release every resource the engine holds."""
