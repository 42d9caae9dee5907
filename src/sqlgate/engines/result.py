"""A bounded query result (what ``Engine.execute`` returns), and how one is collected.

A result is held one of two ways, chosen by what the engine handed over:

* an Arrow table, collected from the engine's batches (DuckDB and PostgreSQL always, and any
  result too large or too varied to be answered as it is);
* the driver's own rows, when an engine read a small result whole as plain Python values
  (numbers, text, blobs, booleans: the values Arrow would give back for them). A JSON answer
  writes them as they are; the Arrow table is built only if something asks for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import pyarrow as pa

from sqlgate.engines._rows import to_batch
from sqlgate.engines._stream import Closing
from sqlgate.errors import ResultTooLarge, SqlgateError
from sqlgate.results.jsonable import json_rows
from sqlgate.vocabulary.columns import Column


class QueryResult:
    """A bounded result: at most ``row_limit`` rows, and whether more were available."""

    def __init__(
        self,
        columns: list[Column],
        table: pa.Table | None = None,
        truncated: bool = False,
        execution_time_ms: float = 0.0,
        *,
        rows: list[tuple[Any, ...]] | None = None,
        schema: pa.Schema | None = None,
    ) -> None:
        if table is None and (rows is None or schema is None):
            raise ValueError("A result needs its table, or its rows and their schema")
        self.columns = columns
        self.truncated = truncated
        self.execution_time_ms = execution_time_ms
        self._table = table
        self._rows = rows
        self._schema = schema

    @property
    def table(self) -> pa.Table:
        if self._table is None:  # built from the rows (the constructor saw both given)
            schema = cast(pa.Schema, self._schema)
            rows = self._rows or []
            self._table = (
                pa.Table.from_batches([to_batch(rows, schema)]) if rows else schema.empty_table()
            )
        return self._table

    @property
    def row_count(self) -> int:
        if self._rows is not None:
            return len(self._rows)
        return int(self.table.num_rows)

    def json_rows(self) -> list[tuple[Any, ...]]:
        """The rows for a JSON answer (arrays): the driver's rows as they are, else converted
        from Arrow (in bulk for larger results, see ``results.jsonable.json_rows``)."""
        if self._rows is not None:
            return self._rows
        return json_rows(self.table)


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


@dataclass
class ResultStream(Closing):
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
