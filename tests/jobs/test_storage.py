"""Result files and signed links, below the HTTP layer."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sqlgate.errors import AuthorizationError
from sqlgate.results.signing import LinkSigner, RedactSignatures, check_fresh, check_signed
from sqlgate.results.storage import Limits, ResultStore
from sqlgate.vocabulary.columns import Column

JOB = "job_0123456789abcdef"
SCHEMA = pa.schema([("n", pa.int64())])
COLUMNS = [Column("n", "BIGINT")]


def batches(total: int, size: int) -> list[pa.RecordBatch]:
    return [
        pa.record_batch([pa.array(range(start, min(start + size, total)), pa.int64())], SCHEMA)
        for start in range(0, total, size)
    ]


def write(tmp_path: Path, total: int, **limits: int) -> tuple[ResultStore, dict[str, object]]:
    store = ResultStore(tmp_path)
    lim = {"byte_limit": 10**12, "chunk_rows": 1000, "chunk_bytes": 10**12, **limits}
    seen: list[tuple[int, int]] = []
    manifest = store.write(
        JOB, "parquet", COLUMNS, SCHEMA, batches(total, 300), Limits(**lim),
        lambda r, b: seen.append((r, b)), lambda: None,
    )  # fmt: skip
    assert seen and seen[-1] == (manifest.row_count, manifest.byte_count)
    return store, manifest.to_dict()


def test_chunks_split_exactly_and_nothing_temporary_remains(tmp_path: Path) -> None:
    store, manifest = write(tmp_path, 2000)
    assert [c["row_count"] for c in manifest["chunks"]] == [1000, 1000]  # no empty third file
    values: list[int] = []
    for chunk in manifest["chunks"]:
        path = store.file(JOB, chunk["file"])
        assert path is not None and path.stat().st_size == chunk["byte_count"]
        values += pq.read_table(path).column("n").to_pylist()
    assert values == list(range(2000))
    assert json.loads((tmp_path / JOB / "manifest.json").read_text()) == manifest
    assert [p.name for p in (tmp_path / JOB).iterdir() if p.name.startswith(".")] == []


def test_an_empty_result_is_one_valid_file(tmp_path: Path) -> None:
    store, manifest = write(tmp_path, 0)
    assert manifest["row_count"] == 0 and len(manifest["chunks"]) == 1
    path = store.file(JOB, "part-00000.parquet")
    assert path is not None and pq.read_table(path).schema.names == ["n"]


def test_byte_limit_truncates(tmp_path: Path) -> None:
    _, manifest = write(tmp_path, 100_000, chunk_rows=300, byte_limit=5000)
    assert manifest["truncated"] and manifest["truncated_by"] == "byte_limit"
    assert manifest["row_count"] < 100_000


class _Stop(Exception):
    pass


def _stop_after(calls: int) -> Callable[[], None]:
    """A check that lets ``calls`` calls pass, then raises (a job's deadline firing)."""
    seen = 0

    def check() -> None:
        nonlocal seen
        seen += 1
        if seen > calls:
            raise _Stop

    return check


@pytest.mark.parametrize("fmt", ["parquet", "csv", "json", "ndjson"])
def test_a_check_that_raises_stops_the_files_of_one_batch(tmp_path: Path, fmt: str) -> None:
    """One batch of 10,000 rows in 1-row files: the check runs before each of them, so a
    stop comes within a file, not after the 10,000 the batch would make."""
    store = ResultStore(tmp_path)
    limits = Limits(byte_limit=10**12, chunk_rows=1, chunk_bytes=10**12)
    with pytest.raises(_Stop):
        store.write(
            JOB, fmt, COLUMNS, SCHEMA, batches(10_000, 10_000), limits,
            lambda r, b: None, _stop_after(20),
        )  # fmt: skip
    assert 1 <= len(list((tmp_path / JOB).glob("part-*"))) <= 20
    assert not (tmp_path / JOB / "manifest.json").exists()


def test_a_check_that_raises_stops_the_files_of_one_text_chunk(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    limits = Limits(byte_limit=10**12, chunk_rows=1, chunk_bytes=10**12)
    chunk = (b"".join(b"%d\n" % i for i in range(10_000)), 10_000)
    with pytest.raises(_Stop):
        store.write_text(
            JOB, COLUMNS, b'"n"\n', iter([chunk]), limits, lambda r, b: None, _stop_after(20)
        )
    assert 1 <= len(list((tmp_path / JOB).glob("part-*"))) <= 20
    assert not (tmp_path / JOB / "manifest.json").exists()


def test_file_names_are_checked(tmp_path: Path) -> None:
    store, _ = write(tmp_path, 10)
    assert store.file(JOB, "../manifest.json") is None
    assert store.file(JOB, "manifest.json") is None
    assert store.file("job_../../etc", "part-00000.parquet") is None
    assert store.file(JOB, "part-00001.parquet") is None


def test_sweep_keeps_only_named_jobs(tmp_path: Path) -> None:
    store, _ = write(tmp_path, 10)
    (tmp_path / "job_ffffffffffffffff").mkdir()
    (tmp_path / "job_ffffffffffffffff" / ".part-00000.csv.tmp").write_text("partial")
    assert store.sweep({JOB}) == ["job_ffffffffffffffff"]
    assert store.job_ids() == [JOB]


def test_signatures_bind_job_file_and_expiry() -> None:
    signer = LinkSigner("secret")
    expires = int(time.time()) + 60
    link = signer.sign(JOB, "part-00000.parquet", expires)
    signature = link.url.split("signature=")[1]
    assert signer.verify(JOB, "part-00000.parquet", expires, signature)
    assert not signer.verify(JOB, "part-00001.parquet", expires, signature)
    assert not signer.verify("job_fedcba9876543210", "part-00000.parquet", expires, signature)
    assert not signer.verify(JOB, "part-00000.parquet", expires + 1, signature)
    assert not LinkSigner("other").verify(JOB, "part-00000.parquet", expires, signature)
    with pytest.raises(AuthorizationError):
        check_signed(signer, JOB, "part-00000.parquet", None, signature)
    with pytest.raises(AuthorizationError):
        check_fresh(int(time.time()) - 1)
    check_fresh(expires)


def test_log_filter_redacts_signatures() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:1", "GET", "/v1/results/job_x/f.csv?expires=1&signature=abc-_", "1.1", 200),
        None,
    )  # fmt: skip
    RedactSignatures().filter(record)
    assert "abc-_" not in record.getMessage()
    assert "signature=[redacted]" in record.getMessage()
