"""How an export's body ends: unchanged when complete, a marker when cut at the row limit or
stopped by an error part-way (json, ndjson, parquet), nothing a reader could take as whole."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sqlgate.errors import QueryTimeout
from sqlgate.results.endings import MARKER_KEY, prefetch
from sqlgate.results.formats import FORMATS

SCHEMA = pa.schema([("n", pa.int64())])


@dataclass
class Source:
    """What a ResultStream tells a writer once its batches are done."""

    truncated: bool = False
    row_limit: int | None = 3


def batches(*sizes: int, fail: bool = False) -> Iterator[pa.RecordBatch]:
    start = 0
    for size in sizes:
        yield pa.record_batch([pa.array(range(start, start + size), pa.int64())], SCHEMA)
        start += size
    if fail:
        raise QueryTimeout("The query ran longer than its timeout of 1 s and was stopped")


def written(fmt: str, source: Source | None, *sizes: int, fail: bool = False) -> bytes:
    out = io.BytesIO()
    with pytest.raises(QueryTimeout) if fail else nullcontext():
        for chunk in FORMATS[fmt].write(SCHEMA, batches(*sizes, fail=fail), source):
            out.write(chunk)
    return out.getvalue()


@pytest.mark.parametrize("source", [None, Source(truncated=False)])
def test_a_complete_result_has_no_marker(source: Source | None) -> None:
    assert json.loads(written("json", source, 2, 1)) == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert written("ndjson", source, 2, 1) == b'{"n":0}\n{"n":1}\n{"n":2}\n'
    assert json.loads(written("json", source)) == []
    assert written("ndjson", source) == b""
    metadata = pq.read_metadata(io.BytesIO(written("parquet", source, 3))).metadata
    assert not any(k.startswith(b"sqlgate.") for k in metadata)


def test_a_cut_result_ends_with_a_marker() -> None:
    cut = Source(truncated=True, row_limit=3)
    marker = {MARKER_KEY: {"truncated": True, "row_limit": 3, "rows": 3}}
    assert json.loads(written("json", cut, 2, 1)) == [{"n": 0}, {"n": 1}, {"n": 2}, marker]
    lines = written("ndjson", cut, 2, 1).decode().splitlines()
    assert [json.loads(line) for line in lines] == [{"n": 0}, {"n": 1}, {"n": 2}, marker]
    data = written("parquet", cut, 2, 1)
    assert pq.read_table(io.BytesIO(data)).num_rows == 3
    metadata = pq.read_metadata(io.BytesIO(data)).metadata
    assert metadata[b"sqlgate.truncated"] == b"true"
    assert metadata[b"sqlgate.row_limit"] == b"3"


def test_without_a_source_there_is_no_marker_even_after_an_error() -> None:
    """Async jobs' chunk files: the job says how it ended, the files carry no marker."""
    assert written("ndjson", None, 2, fail=True) == b'{"n":0}\n{"n":1}\n'


def test_an_error_part_way_ends_with_an_error_marker_and_no_valid_document() -> None:
    body = written("ndjson", Source(), 2, fail=True).decode()
    *rows, last = body.splitlines()
    assert [json.loads(r) for r in rows] == [{"n": 0}, {"n": 1}]
    ending = json.loads(last)[MARKER_KEY]
    assert ending["error"]["code"] == "timeout" and "timeout" in ending["error"]["message"]
    assert ending["rows"] == 2

    text = written("json", Source(), 2, fail=True).decode()
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)  # the array is left open: no parser takes it for a whole result
    assert text.startswith('[{"n":0},{"n":1},{"@sqlgate":{"error":{"code":"timeout"')

    data = written("parquet", Source(), 2, fail=True)
    assert not data.endswith(b"PAR1")  # no footer: no reader opens it
    with pytest.raises(pa.ArrowInvalid):
        pq.read_table(io.BytesIO(data))


def test_csv_and_excel_carry_no_marker() -> None:
    cut = Source(truncated=True)
    assert written("csv", cut, 2, 1) == written("csv", None, 2, 1)
    assert written("csv", cut, 2, 1).decode().splitlines() == ['"n"', "0", "1", "2"]


def test_prefetch_stops_when_the_source_ends_or_enough_is_held() -> None:
    ended: list[bool] = []

    def body() -> Iterator[bytes]:
        yield b"head"
        yield b"rows"
        ended.append(True)
        yield b"tail"
        yield b"more"

    first = prefetch(body(), lambda: bool(ended))
    assert first.ended and first.head == [b"head", b"rows", b"tail"]
    assert b"".join(first) == b"headrowstailmore"

    ended.clear()
    held = prefetch(body(), lambda: bool(ended), max_bytes=4)
    assert not held.ended and held.head == [b"head"]
    assert b"".join(held) == b"headrowstailmore"

    with pytest.raises(QueryTimeout):
        prefetch(
            (b"x" for _ in batches(1, fail=True)), lambda: False
        )  # an error before the response starts is raised to the caller
