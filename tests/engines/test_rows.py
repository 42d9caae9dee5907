"""Driver rows to Arrow: the types taken from a first batch of Python values."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID

import pyarrow as pa
import pytest

from sqlgate.engines._rows import infer_schema, to_batch
from sqlgate.errors import QueryError

ROWS = [
    (1, 1.5, True, b"\x00", date(2024, 1, 2), datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    (2, 2, False, None, None, None),
]
NAMES = ["i", "f", "b", "raw", "day", "at"]


def test_types_from_values() -> None:
    schema = infer_schema(NAMES, ROWS)
    assert schema.types == [
        pa.int64(),
        pa.float64(),
        pa.bool_(),
        pa.binary(),
        pa.date32(),
        pa.timestamp("us", tz="UTC"),
    ]
    batch = to_batch(ROWS, schema)
    assert batch.column("f").to_pylist() == [1.5, 2.0]
    assert batch.column("at")[0].as_py() == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_more_types_and_text_fallbacks() -> None:
    rows = [
        (datetime(2024, 1, 2), time(1, 2), timedelta(hours=36), Decimal("1.5"), {"a": [1]}),
        (None, None, None, Decimal("-22.125"), [1, "x"]),
    ]
    schema = infer_schema(["naive", "t", "d", "n", "doc"], rows)
    assert schema.types == [
        pa.timestamp("us"),
        pa.time64("us"),
        pa.duration("us"),
        pa.decimal128(38, 3),
        pa.string(),
    ]
    batch = to_batch(rows, schema)
    assert batch.column("n").to_pylist() == [Decimal("1.500"), Decimal("-22.125")]
    assert batch.column("doc").to_pylist() == ['{"a": [1]}', '[1, "x"]']
    uuid = UUID(int=1)
    mixed = [(uuid, Decimal("NaN"), 1, memoryview(b"\x01")), (None, None, "a", bytearray(b"2"))]
    schema = infer_schema(["u", "nan", "mix", "raw"], mixed)
    assert schema.types == [pa.string(), pa.string(), pa.string(), pa.binary()]
    assert to_batch(mixed, schema).to_pylist() == [
        {"u": str(uuid), "nan": "NaN", "mix": "1", "raw": b"\x01"},
        {"u": None, "nan": None, "mix": "a", "raw": b"2"},
    ]


def test_empty_result_is_text_and_a_later_misfit_is_an_error() -> None:
    assert infer_schema(["a"], []).types == [pa.string()]
    schema = infer_schema(["n"], [(1,)])
    with pytest.raises(QueryError, match="mixes value types"):
        to_batch([("x",)], schema)
