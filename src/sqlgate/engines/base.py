"""The engine protocol: what every database backend offers the query service.

An engine is opened once per registered connection and shared by requests. Each query gets its own
read-only session at the engine level (so nothing one query sets survives it), runs with a deadline
that interrupts the engine, and hands back Arrow record batches.

Each engine class also *declares* what its connection type is (:class:`Engine`'s class variables:
type name, sqlglot dialect, file or server or URL, default port, TLS modes, and
:meth:`Engine.from_spec`). Everything else that knows engine types derives from those
declarations: the registry (:mod:`sqlgate.engines.registry`, which lists the classes), the API's
accepted ``type`` values, the connection service's validation and the docs' table of types.
The SQL guard's deny-list is not declared here: it belongs to the dialect (a PostgreSQL URL through
the generic SQLAlchemy engine gets PostgreSQL's), so :mod:`sqlgate.sql.guard` owns the
dialect → policy table and engines name only their dialect.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

import pyarrow as pa

from sqlgate.engines._runner import Unwinding, within_deadline
from sqlgate.engines._stream import primed
from sqlgate.errors import ConnectionFailed, QueryTimeout, ResultTooLarge, SqlgateError
from sqlgate.vocabulary.columns import Column, sql_type_name
from sqlgate.vocabulary.schema import Catalog, DatabaseSchema

if TYPE_CHECKING:
    from sqlgate.settings import Settings

BATCH_ROWS = 65_536
#: What a concealed connection's failure to connect says instead of the driver's words.
CONCEALED_FAILURE = (
    "The shared connection cannot be reached now; the operator of this deployment manages it"
)
T = TypeVar("T")

#: Where a connection's database is: a file under a data root; a server reached by host, port,
#: database name, user and TLS mode; or anything a SQLAlchemy URL names.
Location = Literal["file", "server", "url"]


@dataclass(frozen=True)
class ConnectionSpec:
    """What an engine needs to open a registered connection (no HTTP or ORM types)."""

    id: str
    type: str
    database: str | None  # file path, database name, or (sqlalchemy) URL without password
    updated_at: datetime
    host: str | None = None
    port: int | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # decrypted; never logged
    ssl_mode: str | None = None


@dataclass(frozen=True)
class ServerInfo:
    """What ``POST /v1/connections/{id}/test`` reports."""

    version: str
    latency_ms: float
    can_write: bool
    #: When the credentials look able to write: the whole advice, in sentences (which privilege
    #: or role attribute, and what to use instead).
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

    ``truncated`` becomes true once iteration stops at the row limit with rows still left;
    ``error`` holds the SqlgateError that ended it early (a timeout mid-stream), if one did.
    Always ``close()`` it (or iterate to the end); closing releases the engine session.
    """

    columns: list[Column]
    schema: pa.Schema
    _batches: Iterator[pa.RecordBatch]
    _close: Callable[[], None]
    row_limit: int | None = None
    #: The largest batch (or, collected, the largest result) in bytes; None for no cap.
    max_bytes: int | None = None
    truncated: bool = False
    rows: int = 0
    error: SqlgateError | None = None
    _closed: bool = field(default=False, repr=False)
    _on_close: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        try:
            for batch in self._batches:
                if self.row_limit is not None and self.rows + batch.num_rows > self.row_limit:
                    batch = batch.slice(0, self.row_limit - self.rows)
                    self.truncated = True
                if batch.num_rows:
                    if self.max_bytes is not None and batch.nbytes > self.max_bytes:
                        raise too_large(self.max_bytes, f"{batch.num_rows:,} rows")
                    self.rows += batch.num_rows
                    yield batch
                if self.truncated:
                    break
        except SqlgateError as exc:
            self.error = exc
            raise
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


def _unchanged(exc: BaseException) -> BaseException:
    return exc


class Query:
    """One query (its SQL, parameters and limits), and the scaffolding around it that every
    engine needs, kept in one place.

    The deadline starts when the engine holds a session and says, with :meth:`hold`, how to
    interrupt the statement (called on the watchdog thread: it must not block), how to give the
    session back and how the driver's errors read as domain errors; an engine that wants the
    wait for a session counted too calls :meth:`start` first. From then on:

    * once the deadline fired, any error is the timeout (the interrupt caused it);
    * the session is released once, when the stream closes or the query fails, and only after
      the deadline is cancelled, so ``deadline.expired`` is final when the release looks at it;
    * ``failed`` tells the release that an error ended the query (SQLite then closes the
      connection instead of pooling it).
    """

    def __init__(
        self,
        sql: str = "",
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float,
        row_limit: int | None = None,
        batch_rows: int = BATCH_ROWS,
    ) -> None:
        self.sql = sql
        self.params = params
        self.timeout = timeout
        self.row_limit = row_limit
        self.batch_rows = batch_rows
        self.failed = False
        self._interrupt: Callable[[], None] | None = None
        self._release: Callable[[], None] | None = None
        self._translate: Callable[[BaseException], BaseException] = _unchanged
        self._deadline: Deadline | None = None
        self._starting = threading.Lock()

    @property
    def deadline(self) -> Deadline:
        if self._deadline is None:
            raise RuntimeError("The query's deadline has not started")
        return self._deadline

    def start(self) -> None:
        """Start the deadline now (once)."""
        with self._starting:
            if self._deadline is None:
                self._deadline = Deadline(self.timeout, self._fire)

    def abandon(self) -> QueryTimeout:
        """The caller stops waiting (the engine did not stop in time): the deadline fires if
        it has not, the session will be closed rather than reused, and the caller gets the
        timeout."""
        self.failed = True
        self.start()
        self.deadline.fire()
        return self.deadline.error()

    def hold(
        self,
        *,
        interrupt: Callable[[], None],
        release: Callable[[], None],
        translate: Callable[[BaseException], BaseException],
    ) -> None:
        """The session this query now runs on; the timeout if the deadline already passed
        while it was being taken."""
        self._interrupt, self._release, self._translate = interrupt, release, translate
        self.start()
        self.check()

    def check(self) -> None:
        """The timeout, if the deadline fired: some drivers return normally from an
        interrupted statement (a killed MySQL ``SLEEP()``), and that result is not an answer."""
        if self._deadline is not None and self._deadline.expired:
            raise self._deadline.error()

    def _fire(self) -> None:
        interrupt = self._interrupt
        if interrupt is not None:
            interrupt()

    def error(self, exc: BaseException) -> BaseException:
        """What ``exc`` means to the client."""
        deadline = self._deadline
        if deadline is not None and deadline.expired and not isinstance(exc, QueryTimeout):
            return deadline.error()
        if isinstance(exc, SqlgateError):
            return exc
        return self._translate(exc)

    def translating(self, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """``batches``, with errors while reading them translated (see :meth:`error`)."""
        try:
            yield from batches
        except BaseException as exc:
            self.failed = True
            if not isinstance(exc, Exception):
                raise
            error = self.error(exc)
            if error is exc:
                raise
            raise error from exc

    def fail(self, exc: BaseException) -> BaseException:
        """End the query after ``exc``: the session is released, and the error to raise is
        returned (translated while the session is still held)."""
        self.failed = True
        if self._deadline is not None:
            self._deadline.cancel()
        try:
            return self.error(exc)
        finally:
            self.close()

    def close(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()  # after this, ``expired`` is final
        release, self._release = self._release, None
        if release is not None:
            release()


@dataclass
class Started:
    """A query an engine started (:meth:`Engine._start`): its columns, their Arrow schema, and
    its batches, read lazily (the base class pulls the first one at once)."""

    columns: list[Column]
    schema: pa.Schema
    batches: Iterable[pa.RecordBatch]


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


def too_large(limit: int, what: str) -> ResultTooLarge:
    return ResultTooLarge(
        f"The result is larger than the {limit:,} bytes this server hands back at once "
        f"({what}); select fewer or narrower columns, or fewer rows",
        limit_bytes=limit,
    )


def collect(stream: ResultStream, started: float) -> QueryResult:
    """Drain a stream (already bounded by its row limit) into a QueryResult."""
    batches = []
    size = 0
    for batch in stream:
        size += batch.nbytes
        if stream.max_bytes is not None and size > stream.max_bytes:
            stream.close()
            raise too_large(stream.max_bytes, f"at least {size:,} bytes")
        batches.append(batch)
    table = pa.Table.from_batches(batches, schema=stream.schema)
    return QueryResult(
        columns=stream.columns,
        table=table,
        truncated=stream.truncated,
        execution_time_ms=(time.perf_counter() - started) * 1000,
    )


class Engine(ABC):
    """A database backend. Subclasses are small and declarative where they can be."""

    #: The connection ``type`` that opens this engine (``postgresql``), in records and the API.
    type: ClassVar[str]
    #: What a connection of this type is, in the docs' words ("a PostgreSQL server").
    summary: ClassVar[str]
    #: sqlglot dialect the SQL guard parses in (and so the guard's deny-list).
    dialect: ClassVar[str]
    #: Where the database is: the fields a connection of this type takes follow from it.
    location: ClassVar[Location]
    #: The port a ``server`` connection uses when none is given.
    default_port: ClassVar[int | None] = None
    #: The ``ssl_mode`` values a ``server`` connection accepts (the driver's own spelling).
    ssl_modes: ClassVar[tuple[str, ...]] = ()
    #: How a named parameter is written in this engine's SQL, for docs and errors.
    parameter_style: ClassVar[str]
    #: Whether queries run on a worker thread that the caller stops waiting for at the
    #: deadline (:mod:`sqlgate.engines._runner`). An engine whose interrupt always stops the
    #: statement at once may run them on the caller's thread instead, saving the hand-off.
    isolated: ClassVar[bool] = True

    #: For a ``file`` engine: the bytes its database files hold at a fixed offset (offset,
    #: bytes), so a file registered under the wrong type can be named for what it is.
    file_signature: ClassVar[tuple[int, bytes] | None] = None

    @classmethod
    def recognizes(cls, path: str | Path) -> bool:
        """Whether ``path`` is, by its :attr:`file_signature`, a database file of this type."""
        if cls.file_signature is None:
            return False
        offset, magic = cls.file_signature
        try:
            with open(path, "rb") as file:
                file.seek(offset)
                return file.read(len(magic)) == magic
        except OSError:
            return False

    @classmethod
    @abstractmethod
    def from_spec(cls, spec: ConnectionSpec, settings: Settings) -> Engine:
        """Open a registered connection (``spec.database`` is set) with the operator's
        settings; :class:`~sqlgate.errors.ConnectionFailed` if it cannot be opened."""

    @classmethod
    def dialect_of(cls, database: str | None) -> str:
        """The sqlglot dialect of a connection of this type, known without opening it."""
        return cls.dialect

    def __init__(self) -> None:
        self._schema: DatabaseSchema | None = None
        self._catalog: Catalog | None = None
        # Per engine: it is held across introspection's round trips to the database, so a slow
        # schema read must stall only this connection's catalog, not every other connection's.
        self._catalog_lock = threading.Lock()
        #: The result-size cap (``SQLGATE_MAX_RESULT_BYTES``), set by the registry.
        self.max_result_bytes: int | None = None
        #: Queries still running past their deadline (an engine that did not stop in time).
        self._unwinding = Unwinding()
        #: Set for a connection whose users may not see where it points (a shared connection,
        #: seen from the organizations it is granted to): see ``_concealing``.
        self.conceal_location = False

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
        query = Query(sql, params, timeout=timeout, row_limit=row_limit, batch_rows=batch_rows)
        return self._within(query, lambda: self._open_stream(query))

    def _open_stream(self, query: Query) -> ResultStream:
        try:
            started = self._start(query)
            batches = primed(query.translating(started.batches))
        except BaseException as exc:
            error = query.fail(exc)
            if error is exc:
                raise
            raise error from exc
        return ResultStream(
            columns=started.columns,
            schema=started.schema,
            _batches=batches,
            _close=query.close,
            row_limit=query.row_limit,
            max_bytes=self.max_result_bytes,
        )

    @abstractmethod
    def _start(self, query: Query) -> Started:
        """Take a session, :meth:`Query.hold` it, and start ``query.sql`` on it. The engine may
        stop the server at ``query.row_limit`` + 1 rows (the stream stops at ``row_limit``)."""

    def execute(
        self, sql: str, params: Mapping[str, Any] | None, *, timeout: float, row_limit: int
    ) -> QueryResult:
        """Run ``sql`` and return at most ``row_limit`` rows, fetching one more to report
        truncation."""
        started = time.perf_counter()
        query = Query(
            sql,
            params,
            timeout=timeout,
            row_limit=row_limit,
            batch_rows=min(row_limit + 1, BATCH_ROWS),
        )
        return self._within(query, lambda: collect(self._open_stream(query), started))

    def _within(self, query: Query, work: Callable[[], T]) -> T:
        with self._concealing():
            if not self.isolated:
                return work()
            return within_deadline(query, work, self._unwinding)

    @contextmanager
    def _concealing(self) -> Iterator[None]:
        """With ``conceal_location`` set, a failure to reach the database says only that: the
        driver's words may name its host, port, file or user."""
        try:
            yield
        except ConnectionFailed:
            if not self.conceal_location:
                raise
            raise ConnectionFailed(CONCEALED_FAILURE) from None

    def schema(self, *, refresh: bool = False) -> DatabaseSchema:
        """Schemas, tables, columns and keys this connection exposes; cached until ``refresh``."""
        with self._catalog_lock, self._concealing():
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
