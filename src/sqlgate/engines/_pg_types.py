"""PostgreSQL result columns in Arrow: one table from type OID (and typmod) to Arrow type, used
both for a result's schema and for parsing the CSV text that ``COPY ... TO STDOUT`` sends.

Unbounded ``numeric`` (what ``sum``, ``avg`` and arithmetic on numerics return) is read as a
double, as DuckDB's postgres scanner does: clients get numbers, exact to about 15 significant
digits; cast to ``numeric(p, s)`` for exact decimals. Types without an Arrow counterpart (json,
uuid, interval, arrays, bytea, enums, numerics wider than 38 digits...) stay strings in
PostgreSQL's own text form, exactly as ``psql`` would show them.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.csv as pacsv

from sqlgate.errors import QueryError

# Built-in OIDs never change (they are fixed in PostgreSQL's catalog headers).
_FIXED: dict[int, pa.DataType] = {
    16: pa.bool_(),  # boolean
    20: pa.int64(),  # bigint
    21: pa.int16(),  # smallint
    23: pa.int32(),  # integer
    700: pa.float32(),  # real
    701: pa.float64(),  # double precision
    1082: pa.date32(),  # date
    1083: pa.time64("us"),  # time without time zone
    1114: pa.timestamp("us"),  # timestamp without time zone
    1184: pa.timestamp("us", "UTC"),  # timestamp with time zone
}
_NUMERIC = 1700
_VARHDRSZ = 4
_MAX_DECIMAL128_DIGITS = 38


def arrow_type(oid: int, typmod: int) -> pa.DataType:
    """The Arrow type a column of this PostgreSQL type is read as."""
    if oid == _NUMERIC:
        return _numeric(typmod)
    return _FIXED.get(oid, pa.string())


def _numeric(typmod: int) -> pa.DataType:
    if typmod < _VARHDRSZ:  # numeric without (precision, scale): any size, NaN, Infinity
        return pa.float64()
    precision = ((typmod - _VARHDRSZ) >> 16) & 0xFFFF
    # PostgreSQL 15 allows negative scales, stored as an 11-bit two's complement.
    scale = (((typmod - _VARHDRSZ) & 0x7FF) ^ 1024) - 1024
    if not 0 <= scale <= precision <= _MAX_DECIMAL128_DIGITS or precision == 0:
        return pa.string()
    return pa.decimal128(precision, scale)


_COLUMN = re.compile(r"In CSV column #(\d+)")


class CsvParser:
    """Parses chunks of whole COPY rows (CSV, PostgreSQL's defaults) into Arrow tables.

    ``COPY ... (FORMAT csv)`` writes NULL as an unquoted empty field and the empty string as
    ``""``, booleans as ``t``/``f``, dates and timestamps in ISO form (the session sets
    ``DateStyle``). Every column gets its type from :func:`arrow_type`; nothing is inferred.
    """

    def __init__(self, schema: pa.Schema, engine_types: list[str]) -> None:
        self._schema = schema
        self._engine_types = engine_types
        # Synthetic names: a result may repeat a column name, a CSV read may not.
        names = [f"c{i}" for i in range(len(schema))]
        # One thread: the COPY reader and the server already keep other cores busy, and a
        # thread pool per chunk costs more than it parallelises (measured).
        self._read = pacsv.ReadOptions(column_names=names, use_threads=False)
        self._parse = pacsv.ParseOptions(
            # A one-column row holding NULL is an empty line.
            ignore_empty_lines=False,
            newlines_in_values=any(pa.types.is_string(f.type) for f in schema),
        )
        self._convert = pacsv.ConvertOptions(
            column_types=dict(zip(names, schema.types, strict=True)),
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            true_values=["t"],
            false_values=["f"],
        )

    def parse(self, chunk: bytes) -> pa.Table:
        try:
            table = pacsv.read_csv(
                pa.py_buffer(chunk),
                read_options=self._read,
                parse_options=self._parse,
                convert_options=self._convert,
            )
        except pa.ArrowInvalid as exc:
            raise self._conversion_error(str(exc)) from None
        return pa.Table.from_arrays(table.columns, schema=self._schema)

    def _conversion_error(self, text: str) -> QueryError:
        match = _COLUMN.search(text)
        if match is None or int(match.group(1)) >= len(self._schema):
            return QueryError(f"Could not read the result: {text}")
        i = int(match.group(1))
        detail = text.rsplit(": ", 1)[-1]
        return QueryError(
            f"Column {self._schema[i].name!r} ({self._engine_types[i]}) holds a value that "
            f"cannot be converted ({detail}): infinity, BC dates, NaN and sub-minute time zone "
            "offsets have no typed form here; CAST the column to text to read it as written"
        )
