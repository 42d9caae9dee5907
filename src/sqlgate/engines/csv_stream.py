"""A result as CSV text that the database wrote itself (PostgreSQL's ``COPY ... TO STDOUT``):
for a CSV export, the fastest way out is to send the server's own bytes on.

The text has no header. Every non-NULL value of a string column is quoted, and no other value
is: so a writer can find each string cell by its opening quote (to neutralise spreadsheet
formulas) without parsing the CSV. Values are spelled as the database spells them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa

from sqlgate.engines._stream import Closing
from sqlgate.errors import SqlgateError
from sqlgate.vocabulary.columns import Column


class Counted(Protocol):
    """What read the rows: how many went into the chunks so far, and whether rows past the
    row limit came (final once the chunks end)."""

    rows: int
    truncated: bool


@dataclass
class StartedCsv:
    """A query an engine started as CSV text (``Engine._start_csv``)."""

    columns: list[Column]
    schema: pa.Schema
    chunks: Iterator[bytes]
    counted: Counted


class CsvStream(Closing):
    """Chunks of whole CSV rows, pulled lazily from the engine; the same lifecycle as a
    :class:`~sqlgate.engines.base.ResultStream`: ``truncated`` once it stopped at the row limit
    with rows left, ``error`` the SqlgateError that ended it early, and ``close()`` (or reading
    to the end) releases the engine session."""

    def __init__(
        self,
        columns: list[Column],
        schema: pa.Schema,
        chunks: Iterator[bytes],
        counted: Counted,
        close: Callable[[], None],
        row_limit: int | None,
    ) -> None:
        self.columns = columns
        #: The columns' Arrow types, as the engine's batches would have them.
        self.schema = schema
        self.row_limit = row_limit
        self.error: SqlgateError | None = None
        self._chunks = chunks
        self._counted = counted
        self._close = close
        self._closed = False
        self._on_close: list[Callable[[], None]] = []

    @property
    def rows(self) -> int:
        return self._counted.rows

    @property
    def truncated(self) -> bool:
        return self._counted.truncated

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._chunks
        except SqlgateError as exc:
            self.error = exc
            raise
        finally:
            self.close()
