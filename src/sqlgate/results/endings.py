"""How a streamed export says how it ended: complete, cut at the row limit, or failed part-way.

An export's status and headers are sent before its last row is known, so a result cut at the
row limit or stopped by an error (a timeout) part-way cannot be told by the status alone. Where
a format has room for it, the writer ends the body with a *marker* (the README's "Cut and
stopped results" documents them for users):

- ndjson: a last line ``{"@sqlgate": {...}}``;
- json: a last array element ``{"@sqlgate": {...}}``; after an error the array is left open,
  so the body is not valid JSON;
- parquet: footer key-value metadata ``sqlgate.truncated`` and ``sqlgate.row_limit``; after an
  error the footer is never written, so no reader opens the file.

The marker's object is ``{"truncated": true, "row_limit": N, "rows": N}`` for a cut result and
``{"error": {"code", "message", ...}, "rows": K}`` for a failed one. A complete result has no
marker: its shape is the format's plain one. After an error the server also aborts the transfer
(no final chunk), so every HTTP client sees an error rather than a short file.

:func:`prefetch` lets the caller learn the ending before the first byte when the source ends
early (a small result, a small row limit, or Excel, spooled whole), so it can be said in a
response header too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from sqlgate.errors import SqlgateError

#: The one key of a marker object: a column cannot be mistaken for it by accident.
MARKER_KEY = "@sqlgate"
#: Parquet footer keys of a cut result.
PARQUET_TRUNCATED = b"sqlgate.truncated"
PARQUET_ROW_LIMIT = b"sqlgate.row_limit"
#: Bytes of output an export may hold back to learn how it ends before answering.
PREFETCH_BYTES = 1024 * 1024


class Limited(Protocol):
    """A source of batches that knows, once iterated, whether it stopped at its row limit
    (an engine's ResultStream)."""

    @property
    def truncated(self) -> bool: ...

    @property
    def row_limit(self) -> int | None: ...


def cut(source: Limited | None, rows: int) -> dict[str, Any] | None:
    """The marker of a result that stopped at its row limit, or None if it did not."""
    if source is None or not source.truncated:
        return None
    return {MARKER_KEY: {"truncated": True, "row_limit": source.row_limit, "rows": rows}}


def failed(error: SqlgateError, rows: int) -> dict[str, Any]:
    """The marker of a result an error stopped after ``rows`` rows."""
    return {MARKER_KEY: {**error.body(), "rows": rows}}


def parquet_footer(source: Limited | None) -> dict[bytes, bytes] | None:
    """Key-value metadata for the footer of a cut parquet file, or None."""
    if source is None or not source.truncated:
        return None
    return {PARQUET_TRUNCATED: b"true", PARQUET_ROW_LIMIT: str(source.row_limit).encode()}


@dataclass
class Prefetched:
    """The first chunks of an export's body, pulled before the response starts.

    ``ended`` says the source of the body had ended by then (so how it ended is known);
    iterating yields the whole body either way.
    """

    head: list[bytes | memoryview]
    rest: Iterator[bytes | memoryview]
    ended: bool

    def __iter__(self) -> Iterator[bytes | memoryview]:
        yield from self.head
        self.head = []
        yield from self.rest


def prefetch(
    body: Iterator[bytes | memoryview], ended: Callable[[], bool], max_bytes: int = PREFETCH_BYTES
) -> Prefetched:
    """Pull chunks of ``body`` until its source has ``ended``, the body ends, or ``max_bytes``
    are held. Errors raise here, while the caller can still answer with an error status."""
    head: list[bytes | memoryview] = []
    held = 0
    for chunk in body:
        head.append(chunk)
        held += len(chunk)
        if ended() or held >= max_bytes:
            return Prefetched(head, body, ended=ended())
    return Prefetched(head, iter(()), ended=True)
