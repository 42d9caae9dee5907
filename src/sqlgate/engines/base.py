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

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

import pyarrow as pa

from sqlgate.engines._deadline import Deadline as Deadline
from sqlgate.engines._deadline import observe_deadlines as observe_deadlines
from sqlgate.engines._rows import plain_rows
from sqlgate.engines._runner import Unwinding, within_deadline
from sqlgate.engines._stream import opening, primed
from sqlgate.engines.csv_stream import CsvStream, StartedCsv
from sqlgate.engines.query import BATCH_ROWS as BATCH_ROWS
from sqlgate.engines.query import Query as Query
from sqlgate.engines.result import QueryResult, ResultStream, collect
from sqlgate.errors import ConnectionFailed, SqlgateError
from sqlgate.vocabulary.columns import Column, sql_type_name
from sqlgate.vocabulary.schema import Catalog, DatabaseSchema

if TYPE_CHECKING:
    from sqlgate.settings import Settings

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
class Started:
    """A query an engine started (:meth:`Engine._start`): its columns, their Arrow schema, and
    its batches, read lazily (the base class pulls the first one at once)."""

    columns: list[Column]
    schema: pa.Schema
    batches: Iterable[pa.RecordBatch]
    #: The whole result up to ``row_limit`` + 1 rows, when the engine read it as plain Python
    #: values (see ``_rows.infer``): a small result is answered from these, without Arrow.
    rows: list[tuple[Any, ...]] | None = None


def columns_from_schema(schema: pa.Schema, engine_types: list[str] | None = None) -> list[Column]:
    if not engine_types:
        hit = _COLUMNS.get(id(schema))
        if hit is not None and hit[0] is schema:  # the schema is kept: its id is its own
            return list(hit[1])
    fields = list(schema)
    types = engine_types or [sql_type_name(f.type) for f in fields]
    columns = [Column(f.name, t, not f.nullable) for f, t in zip(fields, types, strict=True)]
    if not engine_types:
        if len(_COLUMNS) >= _COLUMNS_MAX:
            _COLUMNS.clear()
        _COLUMNS[id(schema)] = (schema, tuple(columns))
    return columns


#: The columns of recent schemas (a schema infer remembers comes back as the same object).
_COLUMNS: dict[int, tuple[pa.Schema, tuple[Column, ...]]] = {}
_COLUMNS_MAX = 512


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
    #: Whether a query may carry transaction-local session settings (``Query.settings``).
    session_settings: ClassVar[bool] = False

    #: Whether the engine writes CSV itself (:meth:`stream_csv`), faster than through Arrow.
    native_csv: ClassVar[bool] = False

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
        settings: Mapping[str, str] | None = None,
    ) -> ResultStream:
        """Start ``sql`` in a fresh read-only session and return its result stream.

        Errors before the first batch (syntax, binding, missing tables, timeouts) raise here.
        """
        query = Query(sql, params, timeout=timeout, row_limit=row_limit, batch_rows=batch_rows)
        query.settings = settings
        return self._within(query, lambda: self._open_stream(query))

    def _open_stream(self, query: Query) -> ResultStream:
        self._check_settings(query)
        return self._stream_of(query, opening(query, lambda: self._start(query)))

    def _check_settings(self, query: Query) -> None:
        if query.settings and not self.session_settings:
            raise SqlgateError(f"{self.summary} cannot carry session settings")

    def _stream_of(self, query: Query, started: Started) -> ResultStream:
        batches = opening(query, lambda: primed(query.translating(started.batches)))
        return ResultStream(
            columns=started.columns,
            schema=started.schema,
            _batches=batches,
            _close=query.close,
            row_limit=query.row_limit,
            max_bytes=self.max_result_bytes,
        )

    def _collect(self, query: Query, started_at: float) -> QueryResult:
        """The result of ``query``: the engine's plain rows as they are when it read them all
        (a small result), else collected from its batches."""
        self._check_settings(query)
        started = opening(query, lambda: self._start(query))
        limit = query.row_limit
        if started.rows is not None and limit is not None:
            rows = plain_rows(started.rows[:limit], started.schema, self.max_result_bytes)
            if rows is not None:
                query.close()
                return QueryResult(
                    started.columns,
                    truncated=len(started.rows) > limit,
                    execution_time_ms=(time.perf_counter() - started_at) * 1000,
                    rows=rows,
                    schema=started.schema,
                )
        return collect(self._stream_of(query, started), started_at)

    def stream_csv(
        self,
        sql: str,
        params: Mapping[str, Any] | None,
        *,
        timeout: float,
        row_limit: int | None,
        settings: Mapping[str, str] | None = None,
    ) -> CsvStream:
        """Like :meth:`stream`, with the rows as CSV text the engine wrote (only where
        :attr:`native_csv`): see :class:`~sqlgate.engines.csv_stream.CsvStream`."""
        query = Query(sql, params, timeout=timeout, row_limit=row_limit)
        query.settings = settings
        return self._within(query, lambda: self._open_csv(query))

    def _open_csv(self, query: Query) -> CsvStream:
        self._check_settings(query)
        started = opening(query, lambda: self._start_csv(query))
        chunks = opening(query, lambda: primed(query.translating(started.chunks)))
        return CsvStream(
            started.columns, started.schema, chunks, started.counted, query.close, query.row_limit
        )

    def _start_csv(self, query: Query) -> StartedCsv:
        """:meth:`_start`, for CSV text (it keeps at most ``query.row_limit`` rows)."""
        raise NotImplementedError(f"{self.type} does not write CSV itself")

    @abstractmethod
    def _start(self, query: Query) -> Started:
        """Take a session, :meth:`Query.hold` it, and start ``query.sql`` on it. The engine may
        stop the server at ``query.row_limit`` + 1 rows (the stream stops at ``row_limit``)."""

    def execute(
        self,
        sql: str,
        params: Mapping[str, Any] | None,
        *,
        timeout: float,
        row_limit: int,
        settings: Mapping[str, str] | None = None,
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
        query.settings = settings
        return self._within(query, lambda: self._collect(query, started))

    def _within(self, query: Query, work: Callable[[], T]) -> T:
        try:  # what _concealing does, without a generator per query
            if not self.isolated:
                return work()
            return within_deadline(query, work, self._unwinding)
        except ConnectionFailed:
            if not self.conceal_location:
                raise
            raise ConnectionFailed(CONCEALED_FAILURE) from None

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
        catalog = self._catalog
        if catalog is not None and not refresh:
            return catalog  # derived from the current schema (a refresh clears it first)
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
