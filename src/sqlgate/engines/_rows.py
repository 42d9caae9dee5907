"""Arrow batches from driver rows (tuples of Python values), for drivers with no Arrow output.

A stream's schema is fixed before its first batch is sent, so each column's type is taken from
the values of the first batch. Text columns take any later value as text; other columns fail with
a clear error on a later value of another type.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import chain, compress
from operator import itemgetter
from types import NoneType
from typing import Any

import pyarrow as pa

from sqlgate.errors import QueryError

_SINGLE: dict[type, pa.DataType] = {
    int: pa.int64(),
    bool: pa.bool_(),
    date: pa.date32(),
    time: pa.time64("us"),
    timedelta: pa.duration("us"),
}
_BINARY = frozenset({bytes, bytearray, memoryview})  # psycopg2 gives bytea as memoryview
_DECIMAL_DIGITS = 38  # decimal128


def infer_schema(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> pa.Schema:
    """Each column's Arrow type from its non-null values in ``rows`` (text when unsure)."""
    return infer(names, rows)[0]


def infer(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> tuple[pa.Schema, bool]:
    """:func:`infer_schema`, and whether ``rows`` are *plain*: every column's values are the
    Python values Arrow would hand back for its type, which is an integer, float, text, blob
    or boolean type (so the rows can be answered as they are, see :func:`plain_rows`)."""
    tuples = type(rows[0]) is tuple if rows else True
    kinds_of = []
    for i in range(len(names)):
        # In C, without copying the rows into columns first (a driver's rows have as many
        # values as its description has names).
        kinds = set(map(type, map(itemgetter(i), rows)))
        kinds.discard(NoneType)
        kinds_of.append(frozenset(kinds))
    # The answer follows from the names and the kinds of values alone, but for timestamps
    # (time zones) and decimals (their digits): those are looked at each time.
    key = (tuple(names), tuple(kinds_of), tuples)
    cacheable = not any(_BY_VALUE & kinds for kinds in kinds_of)
    if cacheable:
        hit = _INFERRED.get(key)
        if hit is not None:
            return hit
    fields, plain = [], tuples
    for i, (name, kinds) in enumerate(zip(names, kinds_of, strict=True)):
        values = [row[i] for row in rows] if _BY_VALUE & kinds else ()
        arrow = _arrow_type(set(kinds), values)
        plain = plain and (not kinds or kinds == _PLAIN.get(arrow))
        fields.append(pa.field(name, arrow))
    inferred = pa.schema(fields), plain
    if cacheable:
        if len(_INFERRED) >= _INFERRED_MAX:
            _INFERRED.clear()
        _INFERRED[key] = inferred
    return inferred


#: Value types whose Arrow type depends on the values, not on the type alone.
_BY_VALUE = frozenset({datetime, Decimal})
#: infer's answers by (names, each column's value types, whether rows are tuples): the same
#: query shape every time for most callers, and a schema built once instead of per query.
_INFERRED: dict[tuple[Any, ...], tuple[pa.Schema, bool]] = {}
_INFERRED_MAX = 512


#: Types whose values come back from Arrow as the Python values that made them.
_PLAIN = {
    pa.int64(): {int},
    pa.float64(): {float},
    pa.string(): {str},
    pa.binary(): {bytes},
    pa.bool_(): {bool},
}


#: The same, for engines that know each column's type before the rows (MySQL): the Python
#: values a column holds when Arrow would hand them back unchanged.
_PLAIN_KNOWN = {
    **_PLAIN,
    pa.int16(): {int},
    pa.int32(): {int},
    pa.uint64(): {int},
}


def plain_values(rows: Sequence[tuple[Any, ...]], schema: pa.Schema) -> bool:
    """Whether ``rows`` (tuples) hold, in each column of ``schema``, only NULLs and the Python
    values Arrow would hand back for that column's type as they are: integers, floats, text,
    blobs and booleans of their own types, and decimals written with the column's scale."""
    if not rows:
        return True
    if type(rows[0]) is not tuple:
        return False
    for field, values in zip(schema, zip(*rows, strict=True), strict=True):
        kinds = set(map(type, values))
        kinds.discard(NoneType)
        if not kinds:
            continue
        if pa.types.is_decimal(field.type):
            if kinds != {Decimal} or not _scaled(values, field.type):
                return False
        elif not kinds <= _PLAIN_KNOWN.get(field.type, set()):
            return False
    return True


def _scaled(values: Sequence[Decimal | None], t: pa.DataType) -> bool:
    """Every decimal has exactly ``t``'s scale and fits its precision (as Arrow's own)."""
    for value in values:
        if value is not None:
            shape = value.as_tuple()
            if shape.exponent != -t.scale or len(shape.digits) > t.precision:
                return False
    return True


def plain_rows(
    rows: Sequence[tuple[Any, ...]], schema: pa.Schema, max_bytes: int | None
) -> list[tuple[Any, ...]] | None:
    """``rows`` (plain, see :func:`infer`), unless they could be larger in Arrow than
    ``max_bytes``: then None, and the caller goes through Arrow, which measures exactly."""
    if max_bytes is not None:
        sized, per_row = _measures(schema)
        chars = 0
        for i in sized:
            chars += sum(map(len, filter(None, map(itemgetter(i), rows))))
        # At most 4 bytes per character, an offset or value (8 bytes, or a decimal's 16 or
        # 32) and validity per cell.
        if 4 * chars + len(rows) * per_row > max_bytes:
            return None
    return list(rows)


def _measures(schema: pa.Schema) -> tuple[list[int], int]:
    """The text and blob columns of ``schema``, and the bytes a row's cells take besides."""
    hit = _MEASURES.get(id(schema))
    if hit is not None and hit[0] is schema:  # the schema itself is kept: its id is its own
        return hit[1], hit[2]
    text = (pa.string(), pa.binary())
    sized = [i for i, field in enumerate(schema) if field.type in text]
    per_row = sum(map(_cell_bytes, schema.types))
    if len(_MEASURES) >= _INFERRED_MAX:
        _MEASURES.clear()
    _MEASURES[id(schema)] = (schema, sized, per_row)
    return sized, per_row


_MEASURES: dict[int, tuple[pa.Schema, list[int], int]] = {}


def _cell_bytes(t: pa.DataType) -> int:
    try:
        return max(t.bit_width // 8, 8) + 1
    except ValueError:  # variable width: an offset (its bytes are counted apart)
        return 9


def _arrow_type(kinds: set[type], values: Sequence[Any]) -> pa.DataType:
    if kinds and kinds <= {int, float} and kinds != {int}:
        return pa.float64()
    if kinds and kinds <= _BINARY:
        return pa.binary()
    if len(kinds) != 1:
        return pa.string()
    kind = next(iter(kinds))
    if kind is datetime:
        aware = any(v is not None and v.tzinfo is not None for v in values)
        return pa.timestamp("us", tz="UTC" if aware else None)
    if kind is Decimal:
        return _decimal_type([v for v in values if v is not None])
    return _SINGLE.get(kind, pa.string())


def _decimal_type(values: list[Decimal]) -> pa.DataType:
    """A decimal wide enough for every value seen (NaN and infinities only fit text)."""
    if not all(v.is_finite() for v in values):
        return pa.string()
    shapes = [v.as_tuple() for v in values]
    scale = max(0, *(-int(s.exponent) for s in shapes))
    integer_digits = max(len(s.digits) + int(s.exponent) for s in shapes)
    if integer_digits + scale > _DECIMAL_DIGITS:
        return pa.string()
    return pa.decimal128(_DECIMAL_DIGITS, scale)


def to_batch(rows: Sequence[Sequence[Any]], schema: pa.Schema) -> pa.RecordBatch:
    arrays = []
    for field, values in zip(schema, zip(*rows, strict=True), strict=True):
        try:
            arrays.append(pa.array(values, type=field.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            if field.type != pa.string():
                raise QueryError(
                    f"Column {field.name!r} mixes value types across rows; CAST it to one type"
                ) from None
            arrays.append(pa.array([None if v is None else _text(v) for v in values], pa.string()))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


#: Rows read from a driver go into one batch until it holds this many bytes of text and blobs
#: (or its row count): wide rows make short batches, not one huge one.
BATCH_BYTES = 32 << 20
#: The types of text and blob values drivers hand over (psycopg2 gives bytea as memoryview).
_SIZED = frozenset({str, bytes, bytearray, memoryview})
_SAMPLE = 64


def fetch_rows(
    fetch: Callable[[int], Sequence[Sequence[Any]]], limit: int
) -> tuple[list[Sequence[Any]], bool]:
    """Up to ``limit`` rows, read in chunks that double from one row for as long as the rows
    hold less than :data:`BATCH_BYTES`; and whether the result has ended."""
    rows: list[Sequence[Any]] = []
    chunk, size = 1, 0
    while len(rows) < limit:
        wanted = min(chunk, limit - len(rows))
        got = fetch(wanted)
        rows.extend(got)
        if len(got) < wanted:
            return rows, True
        size += _estimated_size(got)
        if size >= BATCH_BYTES:
            break
        chunk *= 2
    return rows, False


def _estimated_size(rows: Sequence[Sequence[Any]]) -> int:
    """Bytes of text and blobs in ``rows``: counted for a few rows, a random sample of a large
    chunk (counting every value of every row would slow exports by half)."""
    # With replacement, a third of random.sample's cost; a size estimate, not a secret.
    sample = rows if len(rows) <= _SAMPLE else random.choices(rows, k=_SAMPLE)  # noqa: S311
    # In C, value by value: a generator testing isinstance cost nearly twice as much, a sixth
    # of a whole 1000-row answer's instructions.
    values = list(chain.from_iterable(sample))
    counted = sum(map(len, compress(values, map(_SIZED.__contains__, map(type, values)))))
    return counted * len(rows) // max(len(sample), 1)


def fetched_batches(
    fetch: Callable[[int], Sequence[Sequence[Any]]],
    first: tuple[list[Sequence[Any]], bool],
    schema: pa.Schema,
    batch_rows: int,
) -> Iterator[pa.RecordBatch]:
    """Batches of ``first`` (the rows the schema was inferred from, from :func:`fetch_rows`),
    then of further :func:`fetch_rows` until the result ends."""
    rows, ended = first
    while rows:
        yield to_batch(rows, schema)
        if ended:
            return
        rows, ended = fetch_rows(fetch, batch_rows)


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)  # JSON documents from drivers that decode them
    return str(value)
