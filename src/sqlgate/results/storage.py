"""Async result files under ``<data_dir>/results/<job_id>/``.

A result is one or more chunk files (``part-00000.parquet``, ``part-00001.parquet``...), each a
complete file of its format (a parquet file with its footer, a CSV with its header, a JSON array),
plus ``manifest.json`` listing them with their row and byte counts.

Every file is written under a temporary name (``.part-00000.parquet.tmp``) and renamed into
place only when complete and synced, and the manifest last, so a crash at any moment leaves
nothing that looks finished. Downloads only ever serve files listed in a succeeded job's manifest
(as recorded in the metadata store), so a partial file is never served.

Memory stays bounded by about one batch: the format writers of :mod:`sqlgate.results.formats`
pull batches lazily and each output chunk goes straight to disk.

The caller's ``check`` (it raises to stop the write: a job's cancel or deadline) runs before
every file, before every piece of rows a file takes and before the manifest: one batch from the
engine may make thousands of small files, and a stop must not wait for all of them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from sqlgate.results.formats import ASYNC_FORMATS, FORMATS, OutputFormat, get_format
from sqlgate.vocabulary.columns import Column

MANIFEST = "manifest.json"
_JOB_ID = re.compile(r"job_[0-9a-f]{16}\Z")
_EXTENSIONS = "|".join(re.escape(FORMATS[name].extension) for name in ASYNC_FORMATS)
_CHUNK = re.compile(rf"part-\d{{5}}\.({_EXTENSIONS})\Z")


@dataclass(frozen=True)
class Chunk:
    file: str
    row_count: int
    byte_count: int


@dataclass
class Manifest:
    format: str
    media_type: str
    columns: list[dict[str, str]]
    chunks: list[Chunk] = field(default_factory=list)
    row_count: int = 0
    byte_count: int = 0
    truncated: bool = False
    #: Why the result stopped early: "row_limit" or "byte_limit" (None when complete).
    truncated_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        chunks = [Chunk(**c) for c in data.get("chunks", [])]
        return cls(**{**data, "chunks": chunks})


@dataclass(frozen=True)
class Limits:
    byte_limit: int
    chunk_rows: int
    chunk_bytes: int


Progress = Callable[[int, int], None]
#: Raises to stop a write (see the module's docstring); returns when the write may go on.
Check = Callable[[], None]


class _Source:
    """Batches from the engine with one batch of look-ahead (to know whether rows remain)."""

    def __init__(self, batches: Iterable[pa.RecordBatch], check: Check) -> None:
        self._it = iter(batches)
        self._check = check
        self._ahead: pa.RecordBatch | None = None
        self.done = False

    def peek(self) -> pa.RecordBatch | None:
        while self._ahead is None and not self.done:
            try:
                batch = next(self._it)
            except StopIteration:
                self.done = True
                break
            if batch.num_rows:
                self._ahead = batch
        return self._ahead

    def take(self, max_rows: int) -> pa.RecordBatch | None:
        self._check()
        batch = self.peek()
        if batch is None:
            return None
        if batch.num_rows > max_rows:
            self._ahead = batch.slice(max_rows)
            return batch.slice(0, max_rows)
        self._ahead = None
        return batch


class _TextSource:
    """Chunks of CSV rows with one chunk of look-ahead, split at row ends when asked for
    fewer rows than a chunk holds."""

    def __init__(self, chunks: Iterable[tuple[bytes, int]], check: Check) -> None:
        self._it = iter(chunks)
        self._check = check
        self._ahead: tuple[bytes, int] | None = None
        self.done = False

    def peek(self) -> tuple[bytes, int] | None:
        while self._ahead is None and not self.done:
            try:
                chunk = next(self._it)
            except StopIteration:
                self.done = True
                break
            if chunk[1]:
                self._ahead = chunk
        return self._ahead

    def take(self, max_rows: int) -> tuple[bytes, int] | None:
        self._check()
        chunk = self.peek()
        if chunk is None:
            return None
        data, rows = chunk
        if rows > max_rows:
            end = rows_end(data, max_rows)
            self._ahead = (data[end:], rows - max_rows)
            return data[:end], max_rows
        self._ahead = None
        return chunk


def rows_end(data: bytes, rows: int) -> int:
    """Where the first ``rows`` rows of ``data`` (whole CSV rows, ``\n`` after each, quotes
    only around values and doubled inside them) end: a row ends at a newline with an even
    number of quotes before it."""
    position = quotes = 0
    for _ in range(rows):
        while True:
            newline = data.index(b"\n", position)
            quotes += data.count(b'"', position, newline)
            position = newline + 1
            if quotes % 2 == 0:
                break
    return position


class ResultStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def job_dir(self, job_id: str) -> Path:
        if not _JOB_ID.match(job_id):
            raise ValueError(f"not a job id: {job_id!r}")
        return self.root / job_id

    def file(self, job_id: str, name: str) -> Path | None:
        """The complete chunk ``name`` of ``job_id``, if it is on disk (else None)."""
        if not _CHUNK.match(name) or not _JOB_ID.match(job_id):
            return None
        path = self.root / job_id / name
        return path if path.is_file() else None

    def write(
        self,
        job_id: str,
        format_name: str,
        columns: list[Column],
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
        limits: Limits,
        progress: Progress,
        check: Check,
    ) -> Manifest:
        """Write ``batches`` as chunk files and the manifest; returns the manifest.

        Stops early (``truncated``) when the next batch would start past ``byte_limit``; the
        caller adds truncation by the row limit (the stream knows it). Raises whatever the
        batches or ``check`` raise (a cancel, a deadline, an engine error), leaving complete
        files and at most one temporary file behind, which :meth:`delete` removes.
        """
        output = get_format(format_name)
        source = _Source(batches, check)
        return self._write_all(
            job_id,
            output,
            columns,
            source.peek,
            lambda directory, index, manifest: self._write_chunk(
                directory, index, output, schema, source, manifest, limits, progress
            ),
            limits,
            progress,
            check,
        )

    def _write_all(
        self,
        job_id: str,
        output: OutputFormat,
        columns: list[Column],
        remaining: Callable[[], object | None],
        write_chunk: Callable[[Path, int, Manifest], Chunk],
        limits: Limits,
        progress: Progress,
        check: Check,
    ) -> Manifest:
        """Chunk files from ``write_chunk`` (which adds its rows and bytes to the manifest) until
        ``remaining()`` is None or the byte limit is reached, then the manifest."""
        directory = self.job_dir(job_id)
        directory.mkdir(parents=True, exist_ok=True)
        manifest = Manifest(
            format=output.name,
            media_type=output.media_type,
            columns=[{"name": c.name, "type": c.type} for c in columns],
        )
        while True:
            check()
            manifest.chunks.append(write_chunk(directory, len(manifest.chunks), manifest))
            progress(manifest.row_count, manifest.byte_count)
            if manifest.byte_count >= limits.byte_limit:
                if remaining() is not None:
                    manifest.truncated, manifest.truncated_by = True, "byte_limit"
                break
            if remaining() is None:
                break
        check()
        _write_atomically(directory / MANIFEST, json.dumps(manifest.to_dict()).encode())
        _sync_dir(directory)
        return manifest

    def _write_chunk(
        self,
        directory: Path,
        index: int,
        output: OutputFormat,
        schema: pa.Schema,
        source: _Source,
        manifest: Manifest,
        limits: Limits,
        progress: Progress,
    ) -> Chunk:
        name = f"part-{index:05d}.{output.name}"
        rows = written = 0

        def chunk_batches() -> Iterator[pa.RecordBatch]:
            nonlocal rows
            while rows < limits.chunk_rows and written < limits.chunk_bytes:
                if manifest.byte_count + written >= limits.byte_limit:
                    return
                batch = source.take(limits.chunk_rows - rows)
                if batch is None:
                    return
                rows += batch.num_rows
                yield batch

        temporary = directory / f".{name}.tmp"
        with temporary.open("wb") as fh:
            for data in output.write(schema, chunk_batches()):
                fh.write(data)
                written += len(data)
                progress(manifest.row_count + rows, manifest.byte_count + written)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, directory / name)
        manifest.row_count += rows
        manifest.byte_count += written
        return Chunk(name, rows, written)

    def write_text(
        self,
        job_id: str,
        columns: list[Column],
        header: bytes,
        chunks: Iterable[tuple[bytes, int]],
        limits: Limits,
        progress: Progress,
        check: Check,
    ) -> Manifest:
        """Like :meth:`write` in CSV, from CSV text the engine wrote: ``chunks`` of whole rows
        (each with how many it holds), in which only quotes enclose values. Each file gets
        ``header`` and at most ``chunk_rows`` rows; a new file starts, and the byte limit is
        checked, between chunks, as :meth:`write` does between batches; ``check`` runs as there."""
        source = _TextSource(chunks, check)
        return self._write_all(
            job_id,
            get_format("csv"),
            columns,
            source.peek,
            lambda directory, index, manifest: _write_text_chunk(
                directory, f"part-{index:05d}.csv", header, source, manifest, limits, progress
            ),
            limits,
            progress,
            check,
        )

    def read_manifest(self, job_id: str) -> Manifest | None:
        try:
            data = json.loads((self.job_dir(job_id) / MANIFEST).read_bytes())
        except (OSError, ValueError):
            return None
        return Manifest.from_dict(data)

    def delete(self, job_id: str) -> None:
        with contextlib.suppress(ValueError):
            shutil.rmtree(self.job_dir(job_id), ignore_errors=True)

    def job_ids(self) -> list[str]:
        """Every job that has a directory here."""
        if not self.root.is_dir():
            return []
        return [p.name for p in self.root.iterdir() if _JOB_ID.match(p.name)]

    def sweep(self, keep: set[str]) -> list[str]:
        """Delete the directories of jobs not in ``keep`` (crashed, failed, expired, unknown),
        and any temporary file left in kept directories of finished jobs. Returns the removed
        job ids."""
        removed = []
        for job_id in self.job_ids():
            if job_id not in keep:
                self.delete(job_id)
                removed.append(job_id)
        return removed

    def remove_partials(self, job_id: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            for path in self.job_dir(job_id).glob(".*.tmp"):
                path.unlink(missing_ok=True)


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(temporary, path)


def _sync_dir(directory: Path) -> None:
    """Make the renames durable (a crash after this cannot lose them)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_text_chunk(
    directory: Path,
    name: str,
    header: bytes,
    source: _TextSource,
    manifest: Manifest,
    limits: Limits,
    progress: Progress,
) -> Chunk:
    """One CSV file of :meth:`ResultStore.write_text`: ``header`` and whole rows from
    ``source``, within the chunk's rows and bytes and the result's byte limit."""
    rows = 0
    temporary = directory / f".{name}.tmp"
    with temporary.open("wb") as fh:
        fh.write(header)
        written = len(header)
        while rows < limits.chunk_rows and written < limits.chunk_bytes:
            if manifest.byte_count + written >= limits.byte_limit:
                break
            taken = source.take(limits.chunk_rows - rows)
            if taken is None:
                break
            fh.write(taken[0])
            rows, written = rows + taken[1], written + len(taken[0])
            progress(manifest.row_count + rows, manifest.byte_count + written)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(temporary, directory / name)
    manifest.row_count += rows
    manifest.byte_count += written
    return Chunk(name, rows, written)
