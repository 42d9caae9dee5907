"""The schema-less compact-protocol codec: what Arrow and DuckDB write comes back byte for byte."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sqlgate.results import thrift_compact as tc


def footer(data: bytes) -> bytes:
    length = int.from_bytes(data[-8:-4], "little")
    return data[len(data) - 8 - length : -8]


def arrow_file(**options: object) -> bytes:
    table = pa.table(
        {
            "id": pa.array([1, -2, None, 2**40], pa.int64()),
            "name": ["a", "b", "a", None],
            "flag": [True, False, None, True],
            "amount": pa.array([Decimal("1.50"), None, Decimal("-3.25"), Decimal("0")]),
            "at": [
                dt.datetime(2024, 1, 1),
                None,
                dt.datetime(1969, 12, 31),
                dt.datetime(2000, 2, 29),
            ],
            "tags": [["x"], [], None, ["y", "z"]],
            "ratio": [0.5, float("nan"), None, -1e300],
            **{f"c{i}": [i, i, i, i] for i in range(20)},  # lists of more than 15 columns
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=2, **options)
    return sink.getvalue()


@pytest.mark.parametrize(
    "options",
    [{}, {"use_dictionary": False, "compression": "zstd"}, {"write_statistics": False}],
    ids=["defaults", "plain-zstd", "no-statistics"],
)
def test_arrow_footers_round_trip(options: dict[str, object]) -> None:
    data = footer(arrow_file(**options))
    assert tc.dumps(tc.loads(data)) == data


def test_duckdb_footer_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    duckdb.sql(
        "SELECT range AS id, 'n' || (range % 7) AS name, range * 1.5 AS amount,"
        " [range, range] AS pair FROM range(5000)"
    ).write_parquet(str(path))
    data = footer(path.read_bytes())
    assert tc.dumps(tc.loads(data)) == data


def test_values_are_read_as_written() -> None:
    metadata = tc.loads(footer(arrow_file()))
    assert metadata.get(3) == 4  # FileMetaData.num_rows
    groups = metadata.get(4)
    assert groups.kind == tc.STRUCT and len(groups.values) == 2
    names = [c.get(3).get(3).values[0] for c in groups.values[0].get(1).values]
    assert names[:3] == [b"id", b"name", b"flag"]


def test_field_ids_far_apart_negative_numbers_and_booleans() -> None:
    value = tc.Struct(
        {
            1: (tc.I32, -5),
            40: (tc.I64, -(2**62)),  # a gap of more than 15: the long form of a field header
            41: (tc.TRUE, False),
            42: (tc.DOUBLE, 2.5),
            43: (tc.LIST, tc.Items(tc.BINARY, [b"a", b"bc"] * 10)),
            44: (tc.MAP, tc.Pairs(tc.BINARY, tc.I32, [(b"k", 1), (b"l", -1)])),
            45: (tc.STRUCT, tc.Struct({1: (tc.I16, 300)})),
        }
    )
    data = tc.dumps(value)
    back = tc.loads(data)
    assert back == value
    assert tc.dumps(back) == data


def test_set_keeps_field_order_and_copy_is_independent() -> None:
    value = tc.Struct({1: (tc.I32, 1), 5: (tc.I32, 5)})
    copied = value.copy()
    copied.set(3, tc.I32, 3)
    assert list(copied.fields) == [1, 3, 5]
    assert list(value.fields) == [1, 5]
    assert tc.loads(tc.dumps(copied)).get(3) == 3


@pytest.mark.parametrize(
    "data",
    [b"", b"\x15", b"\x18\x05ab", b"\x1c" * 100 + b"\x00" * 100, b"\x15\x02\x00\x00", b"\x1d"],
    ids=["empty", "no-value", "short-binary", "too-deep", "trailing-bytes", "unknown-type"],
)
def test_malformed_bytes_raise_thrift_error(data: bytes) -> None:
    with pytest.raises(tc.ThriftError):
        tc.loads(data)
