"""Exports as a user sees them: each format read back with ordinary tools equals the source.

Results come from DuckDB in-process, streamed as Arrow record batches, the way engines feed the
writers in production.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import tempfile
import time
import tracemalloc
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sqlgate.results import formats, parquet_export
from sqlgate.results.cells import neutralise_formulas
from sqlgate.results.formats import (
    ASYNC_DEFAULT,
    ASYNC_FORMATS,
    EXCEL_MAX_ROWS,
    EXPORT_DEFAULT,
    FORMATS,
    OutputFormat,
    get_format,
)
from sqlgate.results.read_ahead import READ_AHEAD

# A typical result: numbers, text needing quoting and unicode, booleans, dates, fractional
# timestamps, exact decimals, negatives, and nulls in every column now and then.
SOURCE = """
SELECT
    i::INTEGER AS id,
    i * 0.25::DOUBLE AS ratio,
    CASE i % 4
        WHEN 0 THEN 'Zürich'
        WHEN 1 THEN '東京 🚀'
        WHEN 2 THEN 'comma, "quote"' || chr(10) || 'second line'
    END AS label,
    i % 2 = 0 AS even,
    DATE '2024-01-01' + i::INTEGER AS day,
    TIMESTAMP '2024-01-01 08:30:00' + to_milliseconds(i * 1500) AS at,
    (i * 100 + 0.12)::DECIMAL(18, 2) AS amount,
    -i AS negative
FROM range(5000) t(i)
"""
COLUMNS = ["id", "ratio", "label", "even", "day", "at", "amount", "negative"]
NULLS_TYPES = [
    "INT",
    "DOUBLE",
    "VARCHAR",
    "BOOLEAN",
    "DATE",
    "TIMESTAMP",
    "DECIMAL(10, 2)",
    "INT[]",
]
NULLS = "SELECT 1 AS id, " + ", ".join(f"NULL::{t} AS c{i}" for i, t in enumerate(NULLS_TYPES))


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def export(con: duckdb.DuckDBPyConnection, fmt: str, sql: str, batch_size: int = 1000) -> bytes:
    reader = con.sql(sql).to_arrow_reader(batch_size)
    return b"".join(get_format(fmt).write(reader.schema, reader))


def source_rows(con: duckdb.DuckDBPyConnection, sql: str = SOURCE) -> list[tuple[Any, ...]]:
    return con.sql(sql).fetchall()


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def read_excel(data: bytes) -> list[tuple[Any, ...]]:
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    return list(sheet.iter_rows(values_only=True))


def read_parquet_with_duckdb(data: bytes, tmp_path: Path, sql: str = "SELECT *") -> Any:
    path = tmp_path / "result.parquet"
    path.write_bytes(data)
    return duckdb.connect().sql(f"{sql} FROM read_parquet('{path}')")


class Counting:
    """An iterable of batches that records how many the writer has pulled."""

    def __init__(self, batches: Iterable[pa.RecordBatch]) -> None:
        self._batches = batches
        self.pulled = 0

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        for batch in self._batches:
            self.pulled += 1
            yield batch


# --- registry ----------------------------------------------------------------------------------


def test_formats_registry() -> None:
    assert {name: (f.media_type, f.extension) for name, f in FORMATS.items()} == {
        "csv": ("text/csv; charset=utf-8", "csv"),
        "json": ("application/json", "json"),
        "ndjson": ("application/x-ndjson", "ndjson"),
        "excel": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
        "parquet": ("application/vnd.apache.parquet", "parquet"),
    }
    assert isinstance(get_format("csv"), OutputFormat)
    with pytest.raises(KeyError):
        get_format("xml")


def test_async_jobs_write_every_format_but_excel_default_first() -> None:
    assert ASYNC_FORMATS == ("parquet", "csv", "json", "ndjson") and ASYNC_DEFAULT == "parquet"
    assert [name for name, f in FORMATS.items() if not f.async_jobs] == ["excel"]
    assert EXPORT_DEFAULT in FORMATS


def test_content_type_drops_parameters() -> None:
    assert get_format("csv").content_type == "text/csv"
    assert get_format("parquet").content_type == "application/vnd.apache.parquet"


# --- round trips -------------------------------------------------------------------------------


def test_csv_round_trip(con: duckdb.DuckDBPyConnection) -> None:
    header, *rows = read_csv(export(con, "csv", SOURCE))
    assert header == COLUMNS
    expected = source_rows(con)
    assert len(rows) == len(expected)
    for row, (id_, ratio, label, even, day, at, amount, negative) in zip(
        rows, expected, strict=True
    ):
        assert int(row[0]) == id_
        assert float(row[1]) == ratio
        assert row[2] == (label or "")  # CSV cannot tell null from empty text
        assert row[3] == ("true" if even else "false")
        assert dt.date.fromisoformat(row[4]) == day
        assert dt.datetime.fromisoformat(row[5]) == at
        assert Decimal(row[6]) == amount  # exact, not via float
        assert int(row[7]) == negative


def test_csv_spells_timestamps_like_sql(con: duckdb.DuckDBPyConnection) -> None:
    # Space-separated, as SQL tools and spreadsheets read them; aware ones in their zone.
    con.sql("SET TimeZone = 'America/New_York'")
    sql = (
        "SELECT TIMESTAMP '2024-01-02 03:04:05.5' AS ts, TIMESTAMPTZ '2024-01-02 03:04:05+00' AS tz"
    )
    naive, aware = read_csv(export(con, "csv", sql))[1]
    assert naive == "2024-01-02 03:04:05.500000"
    assert aware == "2024-01-01 22:04:05.000000-0500"
    assert dt.datetime.fromisoformat(aware) == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def test_csv_spells_nested_and_binary_values_as_text(con: duckdb.DuckDBPyConnection) -> None:
    sql = """
        SELECT [1, 2] AS list, {'k': 'v', 'n': [1.5]} AS struct, MAP {'a': 1} AS map,
               '\\xFF\\x00'::BLOB AS blob, INTERVAL 3 DAY + INTERVAL 90 MINUTE AS span,
               'A'::ENUM ('A', 'B') AS enum, 'ok'::VARCHAR AS text
    """
    header, row = read_csv(export(con, "csv", sql))
    assert header == ["list", "struct", "map", "blob", "span", "enum", "text"]
    assert json.loads(row[0]) == [1, 2]
    assert json.loads(row[1]) == {"k": "v", "n": [1.5]}
    assert json.loads(row[2]) == {"a": 1}
    assert row[3] == "/wA="  # base64, as in JSON exports
    assert row[4:] == ["P3DT1H30M", "A", "ok"]


def test_json_round_trip(con: duckdb.DuckDBPyConnection) -> None:
    rows = json.loads(export(con, "json", SOURCE), parse_float=Decimal)
    assert [list(r) for r in rows[:1]] == [COLUMNS]
    expected = source_rows(con)
    assert len(rows) == len(expected)
    for row, (id_, ratio, label, even, day, at, amount, negative) in zip(
        rows, expected, strict=True
    ):
        assert row["id"] == id_
        assert float(row["ratio"]) == ratio
        assert row["label"] == label
        assert row["even"] is even
        assert dt.date.fromisoformat(row["day"]) == day
        assert dt.datetime.fromisoformat(row["at"]) == at
        assert row["amount"] == amount
        assert row["negative"] == negative


def test_ndjson_round_trip(con: duckdb.DuckDBPyConnection) -> None:
    data = export(con, "ndjson", SOURCE)
    assert data.endswith(b"}\n")
    lines = data.decode("utf-8").split("\n")
    assert lines.pop() == ""
    assert [json.loads(line) for line in lines] == json.loads(export(con, "json", SOURCE))


def test_ndjson_keeps_one_row_per_line_whatever_the_text(con: duckdb.DuckDBPyConnection) -> None:
    # Text that looks like the separators the ndjson writer relies on must not split rows.
    sql = """
        SELECT * FROM (VALUES ('a' || chr(10) || 'b'), ('},{'), (',' || chr(10) || ','), ('[]'))
        AS t(text)
    """
    lines = export(con, "ndjson", sql).split(b"\n")
    assert [json.loads(line)["text"] for line in lines[:-1]] == ["a\nb", "},{", ",\n,", "[]"]


def test_parquet_round_trip(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    data = export(con, "parquet", SOURCE)
    table = pq.read_table(io.BytesIO(data))
    source = con.sql(SOURCE).to_arrow_table()
    assert table.schema.names == COLUMNS
    assert table.equals(source)
    assert read_parquet_with_duckdb(data, tmp_path).fetchall() == source_rows(con)


def test_parquet_keeps_rich_types(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    sql = """
        SELECT [1, 2] AS list, {'k': 'v'} AS struct, MAP {'a': 1} AS map, '\\xFF'::BLOB AS blob,
               TIME '12:34:56.789' AS time, TIMESTAMP_NS '2024-01-01 00:00:00.123456789' AS ns,
               123456789012345678.12::DECIMAL(38, 2) AS big, INTERVAL 3 DAY AS span
    """
    data = export(con, "parquet", sql)
    [row] = read_parquet_with_duckdb(data, tmp_path).fetchall()
    assert row == (
        [1, 2],
        {"k": "v"},
        {"a": 1},
        b"\xff",
        dt.time(12, 34, 56, 789000),
        dt.datetime(2024, 1, 1, 0, 0, 0, 123456),
        Decimal("123456789012345678.12"),
        "P3D",  # parquet has no month/day/nano interval: written as ISO-8601 text
    )
    ns = pq.read_table(io.BytesIO(data)).column("ns")
    assert ns.type == pa.timestamp("ns")  # nanoseconds survive in parquet
    assert ns.cast(pa.int64())[0].as_py() % 1000 == 789


def test_parquet_groups_small_batches_into_row_groups(con: duckdb.DuckDBPyConnection) -> None:
    data = export(con, "parquet", "SELECT i FROM range(300000) t(i)", batch_size=10_000)
    metadata = pq.ParquetFile(io.BytesIO(data)).metadata
    assert metadata.num_rows == 300_000
    sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    # 10,000-row batches are gathered (and cut) into row groups big enough for readers to scan
    # well; only the last holds fewer rows.
    rows = parquet_export.PARQUET_ROW_GROUP_ROWS
    assert sizes == [rows, rows, 300_000 - 2 * rows]


def test_parquet_row_groups_encoded_side_by_side_make_one_writers_file(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # Row groups are encoded on several threads and put together: the file is the one a single
    # writer writes, byte for byte, whichever row group finished first.
    sql = "SELECT i, i % 3 AS k, repeat('x', (i % 97)::INT) AS pad FROM range(1000000) t(i)"
    data = export(con, "parquet", sql, batch_size=50_000)
    table = con.sql(sql).to_arrow_table()
    sink = io.BytesIO()
    rows = parquet_export.PARQUET_ROW_GROUP_ROWS
    with pq.ParquetWriter(sink, table.schema, use_dictionary=["k", "pad"]) as writer:
        for offset in range(0, table.num_rows, rows):
            writer.write_table(table.slice(offset, rows), row_group_size=rows)
    assert data == sink.getvalue()
    assert pq.ParquetFile(io.BytesIO(data)).metadata.num_row_groups == 9


def test_excel_round_trip(con: duckdb.DuckDBPyConnection) -> None:
    header, *rows = read_excel(export(con, "excel", SOURCE))
    assert header == tuple(COLUMNS)
    expected = source_rows(con)
    assert len(rows) == len(expected)
    for row, (id_, ratio, label, even, day, at, amount, negative) in zip(
        rows, expected, strict=True
    ):
        assert row[0] == id_
        assert row[1] == ratio
        assert row[2] == label
        assert row[3] is even
        assert row[4] == dt.datetime.combine(day, dt.time())  # Excel dates are datetimes
        assert row[5] == at  # the source has millisecond precision, as Excel does
        assert row[6] == pytest.approx(float(amount))  # Excel numbers are doubles
        assert row[7] == negative


def test_excel_formats_header_and_dates() -> None:
    data = b"".join(
        get_format("excel").write(
            pa.schema([("day", pa.date32()), ("at", pa.timestamp("s")), ("n", pa.int8())]),
            [
                pa.record_batch(
                    [[dt.date(2024, 1, 2)], [dt.datetime(2024, 1, 2, 3, 4)], [1]],
                    names=["day", "at", "n"],
                )
            ],
        )
    )
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    assert all(cell.font.b for cell in sheet[1])
    assert [cell.number_format for cell in sheet[2]] == [
        "yyyy-mm-dd",
        "yyyy-mm-dd hh:mm:ss",
        "General",
    ]


def test_excel_writes_aware_timestamps_in_utc(con: duckdb.DuckDBPyConnection) -> None:
    con.sql("SET TimeZone = 'America/New_York'")
    sql = "SELECT TIMESTAMPTZ '2024-06-01 12:00:00+02' AS at"
    assert read_excel(export(con, "excel", sql))[1] == (dt.datetime(2024, 6, 1, 10, 0),)
    # JSON keeps the instant with its offset in the column's zone.
    assert json.loads(export(con, "json", sql)) == [{"at": "2024-06-01T06:00:00-04:00"}]


def test_excel_keeps_what_excel_cannot_hold_as_text(con: duckdb.DuckDBPyConnection) -> None:
    sql = """
        SELECT 9007199254740993::BIGINT AS big, DATE '1899-12-31' AS old, [1, 2] AS list,
               'x'::BLOB AS blob, 'nan'::DOUBLE AS nan
    """
    assert read_excel(export(con, "excel", sql))[1] == (
        "9007199254740993",  # beyond 2**53 a double would change the number
        "1899-12-31",  # before Excel's calendar
        "[1,2]",
        "eA==",
        "=#NUM!",  # Excel's own not-a-number
    )


# --- nulls, unicode, empty results, decimals ---------------------------------------------------


def test_nulls(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    types = len(NULLS_TYPES)
    assert read_csv(export(con, "csv", NULLS))[1] == ["1", *[""] * types]
    assert json.loads(export(con, "json", NULLS)) == [
        {"id": 1, **{f"c{i}": None for i in range(types)}}
    ]
    assert json.loads(export(con, "ndjson", NULLS)) == {
        "id": 1,
        **{f"c{i}": None for i in range(types)},
    }
    # Null cells are left empty; a row of nothing but nulls is indistinguishable from no row.
    assert read_excel(export(con, "excel", NULLS))[1] == (1, *[None] * types)
    data = export(con, "parquet", NULLS)
    assert read_parquet_with_duckdb(data, tmp_path).fetchall() == [(1, *[None] * types)]


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson", "excel"])
def test_unicode_survives(con: duckdb.DuckDBPyConnection, fmt: str) -> None:
    text = "Zürich \u2013 東京 🚀 \u200b naïve"
    data = export(con, fmt, f"SELECT '{text}' AS \"ville 🌍\"")
    if fmt == "csv":
        assert read_csv(data) == [["ville 🌍"], [text]]
    elif fmt == "excel":
        assert read_excel(data) == [("ville 🌍",), (text,)]
    else:
        assert text.encode("utf-8") in data  # raw UTF-8, not \u escapes
        rows = [json.loads(data)] if fmt == "ndjson" else json.loads(data)
        assert rows == [{"ville 🌍": text}]


EMPTY = "SELECT 1::BIGINT AS id, 'x' AS label, DATE '2024-01-01' AS day WHERE false"


def test_empty_results_are_valid_files(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    assert read_csv(export(con, "csv", EMPTY)) == [["id", "label", "day"]]
    assert json.loads(export(con, "json", EMPTY)) == []
    assert export(con, "json", EMPTY) == b"[]"
    assert export(con, "ndjson", EMPTY) == b""
    assert read_excel(export(con, "excel", EMPTY)) == [("id", "label", "day")]
    data = export(con, "parquet", EMPTY)
    table = pq.read_table(io.BytesIO(data))
    assert table.num_rows == 0
    assert table.schema == pa.schema(
        [("id", pa.int64()), ("label", pa.string()), ("day", pa.date32())]
    )
    assert read_parquet_with_duckdb(data, tmp_path, "SELECT count(*)").fetchall() == [(0,)]


def test_no_batches_at_all_is_an_empty_result() -> None:
    schema = pa.schema([("id", pa.int64())])
    assert b"".join(get_format("csv").write(schema, [])) == b'"id"\n'
    assert b"".join(get_format("json").write(schema, [])) == b"[]"


def test_decimals_stay_exact_in_json(con: duckdb.DuckDBPyConnection) -> None:
    sql = "SELECT 123456789012345678.12::DECIMAL(38, 2) AS d, 0.00000001::DECIMAL(10, 8) AS tiny"
    for fmt in ("json", "ndjson"):
        data = export(con, fmt, sql)
        assert b'"d":123456789012345678.12' in data
        row = json.loads(data.strip().strip(b"[]"), parse_float=Decimal)
        assert row == {"d": Decimal("123456789012345678.12"), "tiny": Decimal("0.00000001")}


def test_duplicate_column_names(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    sql = "SELECT 1 AS a, 2 AS a, 3 AS b"
    assert json.loads(export(con, "json", sql)) == [{"a": 1, "a_1": 2, "b": 3}]
    assert json.loads(export(con, "ndjson", sql)) == {"a": 1, "a_1": 2, "b": 3}
    assert read_csv(export(con, "csv", sql))[0] == ["a", "a", "b"]
    assert read_excel(export(con, "excel", sql))[0] == ("a", "a", "b")
    parquet = read_parquet_with_duckdb(export(con, "parquet", sql), tmp_path)
    assert parquet.columns == ["a", "a_1", "b"]
    assert parquet.fetchall() == [(1, 2, 3)]


# --- formula neutralisation --------------------------------------------------------------------

RISKY = ["=1+1", "+1", "-1", "@SUM(A1)", "\tTAB", "\rCR"]
FORMULAS = f"""
SELECT text AS "=HYPERLINK(""http://x"")", -5 AS n, -1.5 AS d, '\\xF8'::BLOB AS blob
FROM (VALUES {", ".join(f"('{v}')" for v in [*RISKY, "safe = yes", "", "1-1"])}) t(text)
"""


def test_csv_neutralises_formulas(con: duckdb.DuckDBPyConnection) -> None:
    header, *rows = read_csv(export(con, "csv", FORMULAS))
    assert header == ['\'=HYPERLINK("http://x")', "n", "d", "blob"]
    assert [r[0] for r in rows] == [*("'" + v for v in RISKY), "safe = yes", "", "1-1"]
    assert {(r[1], r[2]) for r in rows} == {("-5", "-1.5")}  # numbers stay numbers
    assert {r[3] for r in rows} == {"'+A=="}  # every text cell, base64 too


def test_excel_neutralises_formulas(con: duckdb.DuckDBPyConnection) -> None:
    header, *rows = read_excel(export(con, "excel", FORMULAS))
    assert header[:3] == ('\'=HYPERLINK("http://x")', "n", "d")
    # xlsxwriter stores a carriage return as the OOXML escape _x000D_, which Excel decodes and
    # openpyxl does not.
    texts = [r[0].replace("_x000D_", "\r") for r in rows]
    assert texts == [*("'" + v for v in RISKY), "safe = yes", "", "1-1"]
    assert {(r[1], r[2]) for r in rows} == {(-5, -1.5)}  # numbers stay numbers


def test_data_formats_are_not_neutralised(con: duckdb.DuckDBPyConnection) -> None:
    rows = json.loads(export(con, "json", FORMULAS))
    assert [r['=HYPERLINK("http://x")'] for r in rows[: len(RISKY)]] == RISKY
    table = pq.read_table(io.BytesIO(export(con, "parquet", FORMULAS)))
    assert table.column(0).to_pylist()[: len(RISKY)] == RISKY


def test_neutralise_formulas_on_a_batch() -> None:
    batch = pa.record_batch(
        {
            "s": pa.array(["=x", None, "ok", "-"]),
            "large": pa.array(["@x", "y", None, ""], pa.large_string()),
            "dict": pa.array(["+x", "y", "+x", None]).dictionary_encode(),
            "n": pa.array([-1, -2, 3, None]),
        }
    )
    out = neutralise_formulas(batch)
    assert out.schema == batch.schema
    assert out.to_pydict() == {
        "s": ["'=x", None, "ok", "'-"],
        "large": ["'@x", "y", None, ""],
        "dict": ["'+x", "y", "'+x", None],
        "n": [-1, -2, 3, None],
    }
    harmless = pa.record_batch({"s": ["a", "b"], "n": [-1, 2]})
    assert neutralise_formulas(harmless) is harmless  # no copy in the common case


# --- streaming and memory ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson", "parquet"])
def test_writers_never_run_more_than_a_batch_ahead(
    con: duckdb.DuckDBPyConnection, fmt: str
) -> None:
    # Batches at least a row group big, so parquet too can send a row group for every batch.
    reader = con.sql("SELECT i, i::VARCHAR AS s FROM range(3000000) t(i)").to_arrow_reader(150_000)
    batches = Counting(reader)
    chunks = 0
    # Parquet lets the engine read a few batches ahead, and encodes a few row groups side by
    # side, while the one before them is sent.
    ahead = READ_AHEAD + 1 + parquet_export.ENCODING_AHEAD if fmt == "parquet" else 0
    for chunk in get_format(fmt).write(reader.schema, batches):
        assert batches.pulled <= chunks + 1 + ahead, "pulled too far ahead of the writing"
        chunks += bool(chunk)
    assert batches.pulled == 20
    assert chunks >= 20


def test_csv_streams_two_million_rows_in_bounded_memory(con: duckdb.DuckDBPyConnection) -> None:
    reader = con.sql(
        "SELECT i AS id, i * 0.5 AS amount, 'name_' || i AS name,"
        " TIMESTAMP '2024-01-01' + to_seconds(i) AS at FROM range(2000000) t(i)"
    ).to_arrow_reader(100_000)
    total = 0
    arrow_peak = 0
    arrow_start = pa.total_allocated_bytes()
    tracemalloc.start()
    try:
        for chunk in get_format("csv").write(reader.schema, reader):
            total += len(chunk)
            arrow_peak = max(arrow_peak, pa.total_allocated_bytes() - arrow_start)
        _, python_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 100_000_000  # ~110 MB of CSV went through...
    assert python_peak < 24_000_000  # ...holding a few chunks at most
    assert arrow_peak < 64_000_000


def test_excel_stops_at_the_row_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    assert EXCEL_MAX_ROWS == 1_048_575  # 1,048,576 sheet rows, one for the header
    monkeypatch.setattr(formats, "EXCEL_MAX_ROWS", 10)
    schema = pa.schema([("n", pa.int64())])
    batches = Counting(
        pa.record_batch([list(range(i, i + 4))], schema=schema) for i in range(0, 100, 4)
    )
    header, *rows = read_excel(b"".join(get_format("excel").write(schema, batches)))
    assert header == ("n",)
    assert [r[0] for r in rows] == list(range(10))
    assert batches.pulled == 3  # stopped pulling once full


@pytest.fixture
def temp_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


def test_excel_spool_is_deleted_after_streaming(
    con: duckdb.DuckDBPyConnection, temp_dir: Path
) -> None:
    reader = con.sql(SOURCE).to_arrow_reader(1000)
    chunks = get_format("excel").write(reader.schema, reader)
    first = next(chunks)
    assert first.startswith(b"PK")  # a zip, streamed from the spooled file
    assert len(os.listdir(temp_dir)) == 1
    rest = list(chunks)
    assert all(len(c) <= 64 * 1024 for c in [first, *rest])
    assert os.listdir(temp_dir) == []


def test_excel_spool_is_deleted_when_the_consumer_stops(
    con: duckdb.DuckDBPyConnection, temp_dir: Path
) -> None:
    reader = con.sql(SOURCE).to_arrow_reader(1000)
    chunks = get_format("excel").write(reader.schema, reader)
    next(chunks)
    chunks.close()  # e.g. the HTTP client went away
    assert os.listdir(temp_dir) == []


def test_excel_spool_is_deleted_when_the_query_fails(temp_dir: Path) -> None:
    schema = pa.schema([("n", pa.int64())])

    def failing() -> Iterator[pa.RecordBatch]:
        yield pa.record_batch([[1, 2]], schema=schema)
        raise RuntimeError("connection lost")

    with pytest.raises(RuntimeError, match="connection lost"):
        b"".join(get_format("excel").write(schema, failing()))
    assert os.listdir(temp_dir) == []


def test_throughput_report(con: duckdb.DuckDBPyConnection) -> None:
    """Prints rows/s per format (see with ``pytest -s``); asserts nothing about time."""
    rows = 200_000
    table = con.sql(
        "SELECT i::BIGINT AS id, i * 0.5::DOUBLE AS amount, 'name_' || i AS name,"
        f" TIMESTAMP '2024-01-01' + to_seconds(i) AS at FROM range({rows}) t(i)"
    ).to_arrow_table()
    for name, fmt in FORMATS.items():
        n = rows // 10 if name == "excel" else rows
        batches = table.slice(0, n).to_batches(max_chunksize=65_536)
        start = time.perf_counter()
        size = sum(len(chunk) for chunk in fmt.write(table.schema, batches))
        elapsed = time.perf_counter() - start
        print(f"{name:8} {n / elapsed:>12,.0f} rows/s {size / n:6.1f} bytes/row")


def test_csv_utc_timestamps_are_spelled_as_arrow_would_with_a_z() -> None:
    values = [0, 1_700_000_000_123_456, None]
    for unit, scale in (("s", 10**6), ("ms", 10**3), ("us", 1)):
        column = pa.array(
            [None if v is None else v // scale for v in values], pa.timestamp(unit, "UTC")
        )
        batch = pa.record_batch({"at": column})
        text = b"".join(get_format("csv").write(batch.schema, [batch])).decode()
        rows = text.splitlines()[1:]
        fraction = {"s": "", "ms": ".123", "us": ".123456"}[unit]
        zero = {"s": "", "ms": ".000", "us": ".000000"}[unit]
        assert rows == [
            f'"1970-01-01 00:00:00{zero}Z"',
            f'"2023-11-14 22:13:20{fraction}Z"',
            "",
        ]


def test_parquet_dictionary_encodes_only_repeating_columns(con: duckdb.DuckDBPyConnection) -> None:
    data = export(
        con,
        "parquet",
        "SELECT range AS id, 'name ' || range AS name, range % 3 AS bucket, "
        "CASE WHEN range % 2 = 0 THEN 'even' ELSE 'odd' END AS parity FROM range(5000)",
    )
    meta = pq.ParquetFile(io.BytesIO(data)).metadata
    encodings = {
        meta.schema.column(i).name: set(meta.row_group(0).column(i).encodings)
        for i in range(meta.num_columns)
    }
    dictionary = {"PLAIN_DICTIONARY", "RLE_DICTIONARY"}
    assert encodings["bucket"] & dictionary and encodings["parity"] & dictionary
    assert not encodings["id"] & dictionary and not encodings["name"] & dictionary
    assert pq.read_table(io.BytesIO(data)).num_rows == 5000
