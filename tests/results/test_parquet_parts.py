"""Row groups encoded apart and put into one file: the file one writer would have written."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sqlgate.results.parquet_parts import MAGIC, PartError, Stitcher, encode, split

ROWS = 10_000


def source() -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(ROWS), pa.int64()),
            "city": pa.array([["Leeds", "Lyon", None][i % 3] for i in range(ROWS)]),
            "amount": pa.array([i / 4 for i in range(ROWS)]),
            "at": pa.array(
                [dt.datetime(2024, 1, 1) + dt.timedelta(minutes=i) for i in range(ROWS)]
            ),
            "tags": pa.array([[i, i + 1] if i % 5 else None for i in range(ROWS)]),
        }
    )


def stitched(table: pa.Table, group_rows: int, key_values=None, **options) -> bytes:
    stitcher = Stitcher()
    out = [MAGIC]
    for offset in range(0, table.num_rows, group_rows):
        part = encode(table.slice(offset, group_rows), table.schema, **options)
        out.append(bytes(stitcher.add(part)))
    if table.num_rows == 0:
        stitcher.add(encode(None, table.schema, **options))
    out.append(stitcher.footer(key_values))
    return b"".join(out)


def one_writer(table: pa.Table, group_rows: int, **options) -> bytes:
    sink = io.BytesIO()
    with pq.ParquetWriter(sink, table.schema, **options) as writer:
        for offset in range(0, table.num_rows, group_rows):
            group = table.slice(offset, group_rows)
            writer.write_table(group, row_group_size=group.num_rows)
    return sink.getvalue()


@pytest.mark.parametrize(
    "options",
    [{}, {"use_dictionary": ["city"]}, {"use_dictionary": False, "compression": "zstd"}],
    ids=["dictionary", "some-dictionary", "plain-zstd"],
)
def test_stitched_file_is_what_one_writer_writes(options: dict[str, object]) -> None:
    table = source()
    data = stitched(table, 3_000, **options)
    assert data == one_writer(table, 3_000, **options)
    assert pq.read_table(io.BytesIO(data)).equals(table)


def test_every_row_group_is_found_at_its_offsets(tmp_path: Path) -> None:
    table = source()
    path = tmp_path / "s.parquet"
    path.write_bytes(stitched(table, 2_500))
    file = pq.ParquetFile(path)
    assert [file.metadata.row_group(i).num_rows for i in range(4)] == [2_500] * 4
    assert file.read_row_group(3).equals(table.slice(7_500))
    # Another reader, reading row groups in parallel by their offsets.
    con = duckdb.connect()
    read = f"read_parquet('{path}')"
    assert con.execute(f"SELECT count(*), max(id) FROM {read}").fetchone() == (ROWS, ROWS - 1)
    lyon = con.execute(f"SELECT count(*) FROM {read} WHERE city = 'Lyon'").fetchone()
    assert lyon == (sum(1 for i in range(ROWS) if i % 3 == 1),)


def test_key_values_are_added_to_the_footer() -> None:
    data = stitched(source(), 4_000, {b"sqlgate.truncated": b"true"})
    metadata = pq.read_metadata(io.BytesIO(data)).metadata
    assert metadata[b"sqlgate.truncated"] == b"true"
    assert b"ARROW:schema" in metadata  # the parts' own key-value metadata is kept


def test_a_file_without_rows_keeps_its_schema() -> None:
    table = source().slice(0, 0)
    data = stitched(table, 1_000)
    back = pq.read_table(io.BytesIO(data))
    assert back.num_rows == 0 and back.schema == table.schema


def test_a_footer_needs_a_part() -> None:
    with pytest.raises(PartError):
        Stitcher().footer()


@pytest.mark.parametrize(
    "options",
    [{"write_page_index": True}, {"bloom_filter_options": {"id": {}}}],
    ids=["page-index", "bloom-filter"],
)
def test_parts_with_indexes_elsewhere_in_the_file_are_refused(options) -> None:
    try:
        part = encode(source(), source().schema, **options)
    except TypeError:  # this pyarrow cannot write bloom filters
        pytest.skip("pyarrow without bloom filter writing")
    with pytest.raises(PartError):
        Stitcher().add(part)


@pytest.mark.parametrize("data", [b"", b"PAR1PAR1", b"PAR1" + b"\xff" * 8 + b"PAR1", b"x" * 20])
def test_what_is_not_a_parquet_file_is_refused(data: bytes) -> None:
    with pytest.raises(PartError):
        split(data)
