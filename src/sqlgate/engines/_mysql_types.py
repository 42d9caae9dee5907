"""Arrow types for MySQL/MariaDB result columns, from the server's column metadata.

The protocol sends each column's type code, flags (NOT NULL, UNSIGNED, ENUM/SET), character set
(63 is binary) and length/scale, so the schema is known before the first row, unlike SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow as pa
from pymysql.constants import FIELD_TYPE as T
from pymysql.constants import FLAG

from sqlgate.errors import QueryError
from sqlgate.vocabulary.columns import Column

_BINARY_CHARSET = 63
_INTEGERS = {
    T.TINY: "TINYINT",
    T.SHORT: "SMALLINT",
    T.INT24: "MEDIUMINT",
    T.LONG: "INT",
    T.LONGLONG: "BIGINT",
}
# (text name, binary name) of the string-ish codes
_STRINGS = {
    T.VARCHAR: ("VARCHAR", "VARBINARY"),
    T.VAR_STRING: ("VARCHAR", "VARBINARY"),
    T.STRING: ("CHAR", "BINARY"),
    T.TINY_BLOB: ("TEXT", "BLOB"),
    T.BLOB: ("TEXT", "BLOB"),
    T.MEDIUM_BLOB: ("TEXT", "BLOB"),
    T.LONG_BLOB: ("TEXT", "BLOB"),
}
_MAX_DECIMAL_DIGITS = 76  # decimal256; MySQL's DECIMAL has at most 65

Convert = Callable[[Sequence[Any]], pa.Array]


@dataclass(frozen=True)
class ArrowPlan:
    """The stream's schema and columns, and how to turn a batch of row tuples into Arrow."""

    schema: pa.Schema
    columns: list[Column]
    converters: list[Convert]

    def batch(self, rows: Sequence[Sequence[Any]]) -> pa.RecordBatch:
        arrays = []
        for field, convert, values in zip(
            self.schema, self.converters, zip(*rows, strict=True), strict=True
        ):
            try:
                arrays.append(convert(values))
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError) as exc:
                raise QueryError(
                    f"Column {field.name!r} has a value that does not fit {field.type}: {exc}"
                ) from None
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


def arrow_plan(fields: Sequence[Any], *, nullable_all: bool = False) -> ArrowPlan:
    """From PyMySQL's result fields. Arrow fields stay nullable (a wrong NOT NULL flag must not
    break a batch); ``Column.not_null`` carries the flag unless ``nullable_all``."""
    arrow_fields, columns, converters = [], [], []
    for field in fields:
        arrow_type, name, convert = _column_type(field)
        arrow_fields.append(pa.field(field.name, arrow_type))
        not_null = not nullable_all and bool(field.flags & FLAG.NOT_NULL)
        columns.append(Column(name=field.name, type=name, not_null=not_null))
        converters.append(convert)
    return ArrowPlan(pa.schema(arrow_fields), columns, converters)


def _column_type(field: Any) -> tuple[pa.DataType, str, Convert]:
    code, flags = field.type_code, field.flags
    unsigned = bool(flags & FLAG.UNSIGNED)
    if code in _INTEGERS:
        arrow: pa.DataType = pa.uint64() if code == T.LONGLONG and unsigned else pa.int64()
        return arrow, _INTEGERS[code] + (" UNSIGNED" if unsigned else ""), _plain(arrow)
    if code in (T.FLOAT, T.DOUBLE):
        return pa.float64(), "FLOAT" if code == T.FLOAT else "DOUBLE", _plain(pa.float64())
    if code in (T.DECIMAL, T.NEWDECIMAL):
        precision, scale = _decimal_shape(field.length, field.scale, unsigned)
        arrow = (
            pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
        )
        return arrow, f"DECIMAL({precision},{scale})", _plain(arrow)
    if code == T.DATE:
        return pa.date32(), "DATE", _temporal(pa.date32())
    if code in (T.DATETIME, T.TIMESTAMP):
        arrow = pa.timestamp("us")
        return arrow, "DATETIME" if code == T.DATETIME else "TIMESTAMP", _temporal(arrow)
    if code == T.YEAR:
        return pa.int16(), "YEAR", _plain(pa.int16())
    if code == T.BIT:
        arrow = pa.uint64() if field.length >= 64 else pa.int64()
        return arrow, "BIT", _bits(arrow)
    if code == T.GEOMETRY:
        return pa.binary(), "GEOMETRY", _plain(pa.binary())
    binary = field.charsetnr == _BINARY_CHARSET
    if code == T.JSON:
        name = "JSON"
    elif flags & FLAG.ENUM or code == T.ENUM:
        name = "ENUM"
    elif flags & FLAG.SET or code == T.SET:
        name = "SET"
    elif code == T.TIME:
        name = "TIME"  # the server's text: TIME spans -838:59:59 to 838:59:59
    elif code == T.NULL:
        name = "NULL"
    elif code in _STRINGS:
        name = _STRINGS[code][binary]
        if binary:
            return pa.binary(), name, _plain(pa.binary())
    else:
        return pa.string(), f"TYPE {code}", _text
    return pa.string(), name, _plain(pa.string())


def _decimal_shape(length: int, scale: int, unsigned: bool) -> tuple[int, int]:
    """DECIMAL(p, s) from the display length, which counts the point and a sign."""
    precision = length - (1 if scale else 0) - (0 if unsigned else 1)
    precision = min(max(precision, scale, 1), _MAX_DECIMAL_DIGITS)
    return precision, min(scale, precision)


def _plain(arrow_type: pa.DataType) -> Convert:
    return lambda values: pa.array(values, type=arrow_type)


def _temporal(arrow_type: pa.DataType) -> Convert:
    def convert(values: Sequence[Any]) -> pa.Array:
        try:
            return pa.array(values, type=arrow_type)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # PyMySQL hands over zero dates ('0000-00-00') as text: no such day, so NULL
            # (as Connector/J's zeroDateTimeBehavior=CONVERT_TO_NULL does).
            return pa.array([v if isinstance(v, date) else None for v in values], arrow_type)

    return convert


def _bits(arrow_type: pa.DataType) -> Convert:
    return lambda values: pa.array(
        [None if v is None else int.from_bytes(v, "big") for v in values], type=arrow_type
    )


def _text(values: Sequence[Any]) -> pa.Array:
    return pa.array(
        [None if v is None else v.hex() if isinstance(v, bytes) else str(v) for v in values],
        type=pa.string(),
    )
