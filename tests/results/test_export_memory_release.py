"""A CSV or Parquet export gives Arrow's allocator's freed memory back when it ends, finished or
stopped early: the allocator keeps what it freed for reuse, tens of megabytes after a large
export, which a long-running server would otherwise hold at rest."""

from __future__ import annotations

import pyarrow as pa
import pytest

from sqlgate.results import read_ahead
from sqlgate.results.formats import get_format


class _Counted:
    """``give_back_freed``, counting its calls."""

    def __init__(self) -> None:
        self.releases = 0
        self._real = read_ahead.give_back_freed

    def __call__(self) -> None:
        self.releases += 1
        self._real()


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> _Counted:
    counting = _Counted()
    monkeypatch.setattr(read_ahead, "give_back_freed", counting)
    return counting


def _batches(rows: int = 300_000) -> list[pa.RecordBatch]:
    table = pa.table({"id": pa.array(range(rows)), "name": [f"name_{i}" for i in range(rows)]})
    return table.to_batches(max_chunksize=50_000)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_finished_export_releases(fmt: str, pool: _Counted) -> None:
    batches = _batches()
    chunks = list(get_format(fmt).write(batches[0].schema, batches))
    assert sum(len(c) for c in chunks) > 0
    assert pool.releases == 1


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_export_stopped_early_releases(fmt: str, pool: _Counted) -> None:
    batches = _batches()
    stream = get_format(fmt).write(batches[0].schema, batches)
    next(stream)  # CSV: the header; Parquet: the first row group
    next(stream)  # rows
    stream.close()  # the client went away
    assert pool.releases == 1
