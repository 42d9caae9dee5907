"""JSON encoding of result values, rows, column names, and SQL type names for metadata."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest

from sqlgate.results import jsonable
from sqlgate.results.jsonable import (
    BULK_ROWS,
    dumps,
    iso_duration,
    json_rows,
    json_values,
    python_values,
    rows_as_arrays,
    rows_as_objects,
    unique_names,
)
from sqlgate.vocabulary.columns import sql_type_name

# --- dumps -------------------------------------------------------------------------------------


def test_decimals_are_exact_json_numbers() -> None:
    raw = dumps({"total": Decimal("123456789012345678.12")})
    assert raw == b'{"total":123456789012345678.12}'
    assert json.loads(raw, parse_float=Decimal)["total"] == Decimal("123456789012345678.12")


@pytest.mark.parametrize("special", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_non_finite_decimals_are_null(special: str) -> None:
    assert dumps([Decimal(special)]) == b"[null]"


def test_floats_nan_and_infinity_are_null() -> None:
    assert dumps([float("nan"), float("inf")]) == b"[null,null]"


def test_bytes_are_base64() -> None:
    assert json.loads(dumps(b"\xff\x00sql")) == "/wBzcWw="


def test_naive_datetimes_have_no_offset_and_aware_ones_keep_theirs() -> None:
    naive = dt.datetime(2024, 1, 2, 3, 4, 5, 600000)
    aware = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert dumps([naive, aware]) == b'["2024-01-02T03:04:05.600000","2024-01-02T03:04:05+02:00"]'


def test_dates_times_uuids_are_native() -> None:
    value = uuid.UUID("8dcf8d44-3538-4dc9-8e98-806e9c3bac53")
    assert json.loads(dumps([dt.date(2024, 2, 29), dt.time(12, 30), value])) == [
        "2024-02-29",
        "12:30:00",
        "8dcf8d44-3538-4dc9-8e98-806e9c3bac53",
    ]


def test_non_string_keys_are_stringified() -> None:
    assert dumps({1: "a", dt.date(2024, 1, 1): "b"}) == b'{"1":"a","2024-01-01":"b"}'


def test_unknown_objects_fall_back_to_str() -> None:
    assert dumps([frozenset(), complex(1, 2)]) == b'["frozenset()","(1+2j)"]'


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (dt.timedelta(0), "PT0S"),
        (dt.timedelta(hours=36), "PT36H"),
        (dt.timedelta(minutes=90, seconds=1.5), "PT1H30M1.5S"),
        (dt.timedelta(seconds=-1), "PT-1S"),
        (dt.timedelta(microseconds=1), "PT0.000001S"),
    ],
)
def test_timedelta_is_an_iso_duration_in_hours(delta: dt.timedelta, expected: str) -> None:
    assert json.loads(dumps(delta)) == expected


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ((0, 0, 0), "PT0S"),
        ((14, 3, 0), "P1Y2M3D"),
        ((1, -3, 0), "P1M-3D"),
        ((-14, 0, 0), "P-1Y-2M"),
        ((0, 0, 5_400_000_000_000), "PT1H30M"),
        ((0, 1, 3), "P1DT0.000000003S"),
        ((0, 0, -90 * 10**9), "PT-1M-30S"),
    ],
)
def test_iso_duration(parts: tuple[int, int, int], expected: str) -> None:
    assert iso_duration(*parts) == expected


def test_month_day_nano_intervals_are_iso_durations() -> None:
    value = pa.array([(1, 2, 3_600_000_000_000)], pa.month_day_nano_interval()).to_pylist()[0]
    assert json.loads(dumps(value)) == "P1M2DT1H"


# --- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["a", "b"], ["a", "b"]),
        (["a", "a", "b", "a"], ["a", "a_1", "b", "a_2"]),
        (["a", "a", "a_1"], ["a", "a_2", "a_1"]),  # a suffix never steals a real name
        (["a_1", "a", "a"], ["a_1", "a", "a_2"]),
        ([], []),
    ],
)
def test_unique_names(names: list[str], expected: list[str]) -> None:
    assert unique_names(names) == expected


# --- rows --------------------------------------------------------------------------------------


def _table(sql: str) -> pa.Table:
    return duckdb.connect().sql(sql).to_arrow_table()


def test_rows_as_arrays_and_objects() -> None:
    table = _table("SELECT 1 AS id, 'x' AS name, NULL AS nothing UNION ALL SELECT 2, 'y', NULL")
    assert rows_as_arrays(table) == [[1, "x", None], [2, "y", None]]
    assert rows_as_objects(table) == [
        {"id": 1, "name": "x", "nothing": None},
        {"id": 2, "name": "y", "nothing": None},
    ]


def test_duplicate_column_names_keep_every_value() -> None:
    table = _table("SELECT 1 AS a, 2 AS a, 3 AS b")
    assert rows_as_objects(table) == [{"a": 1, "a_1": 2, "b": 3}]
    assert rows_as_arrays(table) == [[1, 2, 3]]


def test_record_batches_and_empty_results() -> None:
    batch = pa.record_batch({"n": pa.array([], pa.int64())})
    assert rows_as_arrays(batch) == []
    assert rows_as_objects(batch) == []
    no_columns = pa.table({"x": [1, 2]}).drop_columns(["x"])
    assert rows_as_arrays(no_columns) == [[], []]
    assert rows_as_objects(no_columns) == [{}, {}]


def test_maps_become_dicts_unless_keys_collide() -> None:
    table = _table("SELECT MAP {'a': 1, 'b': 2} AS m, MAP {1: 'x'} AS ints")
    assert rows_as_objects(table) == [{"m": {"a": 1, "b": 2}, "ints": {1: "x"}}]
    assert dumps(rows_as_objects(table)) == b'[{"m":{"a":1,"b":2},"ints":{"1":"x"}}]'
    duplicated = pa.array([[("k", 1), ("k", 2)]], pa.map_(pa.string(), pa.int64()))
    assert python_values(duplicated) == [[("k", 1), ("k", 2)]]


def test_nanoseconds_are_truncated_to_microseconds() -> None:
    table = _table(
        "SELECT TIMESTAMP_NS '2024-01-01 00:00:00.123456789' AS ts,"
        " [TIMESTAMP_NS '2024-01-01'] AS l"
    )
    assert rows_as_arrays(table) == [
        [dt.datetime(2024, 1, 1, 0, 0, 0, 123456), [dt.datetime(2024, 1, 1)]]
    ]


def test_timestamps_python_cannot_hold_become_text_instead_of_failing() -> None:
    table = _table("SELECT 'infinity'::TIMESTAMP AS ts, TIMESTAMP '2024-01-01' AS ok")
    ts, ok = rows_as_arrays(table)[0]
    assert isinstance(ts, str)
    assert ok == dt.datetime(2024, 1, 1)


# --- the fast JSON path writes exactly what the Python path writes ------------------------------

_TEMPORAL_SQL = """
SELECT * FROM (VALUES
    (TIMESTAMP '2024-01-01 00:00:00', TIMESTAMP '0001-01-01 00:00:00.000001',
     TIMESTAMPTZ '2024-06-01 12:00:00.5+00', DATE '2024-02-29', DATE '0900-01-01',
     TIME '23:59:59', TIME '00:00:00.25', 123.45::DECIMAL(10, 2), 1E-8::DECIMAL(10, 8),
     TIMESTAMP_S '2024-01-01 00:00:01', TIMESTAMP_MS '2024-01-01 00:00:01.5',
     TIMESTAMP_NS '2024-01-01 00:00:00.999999999', 'infinity'::TIMESTAMP),
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
)
"""


def test_json_values_match_python_values() -> None:
    table = _table(_TEMPORAL_SQL)
    for column in table.columns:
        fast = dumps(json_values(column))
        assert fast == dumps(python_values(column)), column.type


@pytest.mark.parametrize("tz", ["UTC", "Etc/UTC", "America/New_York", "+05:30"])
def test_json_values_match_python_values_for_time_zones(tz: str) -> None:
    micros = [0, 1_718_000_000_123_456, -1_000_000_000_000_000, None]
    array = pa.array(micros, pa.timestamp("us", tz=tz))
    assert dumps(json_values(array)) == dumps(python_values(array))


@pytest.mark.parametrize("copies", [1, BULK_ROWS])
def test_json_rows_write_what_rows_as_arrays_write(copies: int) -> None:
    """A few rows and many (the bulk conversion): the same JSON either way."""
    table = _table(_TEMPORAL_SQL)
    table = pa.concat_tables([table] * copies)
    table = table.append_column(
        "text", pa.array(['a"b', None] * (table.num_rows // 2) + ["z"] * (table.num_rows % 2))
    )
    assert dumps(json_rows(table)) == dumps(rows_as_arrays(table))
    assert len(json_rows(table)) == table.num_rows
    assert dumps(json_rows(table.select([]))) == dumps([[]] * table.num_rows)


def test_row_maker_is_safe_with_hostile_names() -> None:
    names = ["a'}; import os #", "x\ny", "", "lambda"]
    rows = jsonable.objects(names, [[1], [2], [3], [4]], 1)
    assert rows == [dict(zip(names, [1, 2, 3, 4], strict=True))]


# --- SQL type names (column metadata) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("arrow_type", "expected"),
    [
        (pa.int8(), "TINYINT"),
        (pa.int16(), "SMALLINT"),
        (pa.int32(), "INTEGER"),
        (pa.int64(), "BIGINT"),
        (pa.uint32(), "INTEGER UNSIGNED"),
        (pa.float32(), "FLOAT"),
        (pa.float64(), "DOUBLE"),
        (pa.decimal128(12, 2), "DECIMAL"),
        (pa.decimal256(50, 0), "DECIMAL"),
        (pa.string(), "VARCHAR"),
        (pa.large_string(), "VARCHAR"),
        (pa.string_view(), "VARCHAR"),
        (pa.binary(), "BLOB"),
        (pa.binary(16), "BLOB"),
        (pa.bool_(), "BOOLEAN"),
        (pa.date32(), "DATE"),
        (pa.time64("us"), "TIME"),
        (pa.timestamp("us"), "TIMESTAMP"),
        (pa.timestamp("ns", tz="Europe/Paris"), "TIMESTAMP WITH TIME ZONE"),
        (pa.duration("us"), "INTERVAL"),
        (pa.month_day_nano_interval(), "INTERVAL"),
        (pa.list_(pa.int32()), "INTEGER[]"),
        (pa.large_list(pa.list_(pa.string())), "VARCHAR[][]"),
        (pa.struct([("a", pa.int8())]), "STRUCT"),
        (pa.map_(pa.string(), pa.int64()), "MAP"),
        (pa.dictionary(pa.int8(), pa.string()), "VARCHAR"),
        (pa.uuid(), "UUID"),
        (pa.json_(), "JSON"),
        (pa.null(), "NULL"),
    ],
)
def test_sql_type_name(arrow_type: pa.DataType, expected: str) -> None:
    assert sql_type_name(arrow_type) == expected


def test_sql_type_names_of_a_duckdb_result() -> None:
    schema = _table("SELECT 1::BIGINT AS n, 2.5::DECIMAL(10, 2) AS total_revenue, 'x' AS s").schema
    assert [{"name": f.name, "type": sql_type_name(f.type)} for f in schema] == [
        {"name": "n", "type": "BIGINT"},
        {"name": "total_revenue", "type": "DECIMAL"},
        {"name": "s", "type": "VARCHAR"},
    ]
