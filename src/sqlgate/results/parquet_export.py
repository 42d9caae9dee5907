"""Parquet exports: row groups encoded on every core, streamed as one file.

Batches are gathered into row groups of about :data:`PARQUET_ROW_GROUP_ROWS` rows. Each row
group is encoded as a Parquet file of its own by the shared encoder threads (see
:func:`~sqlgate.results.read_ahead.map_ahead`), two at a time on two cores, while the engine
reads the next batches ahead; :mod:`sqlgate.results.parquet_parts` puts the parts into one file
as they finish, in order. A 5M-row export was written at about 1.4-1.7x the time of DuckDB's own
``COPY`` with one writer encoding every row group in turn; see docs/performance.md for the
figures with this.

The file's footer comes last: a cut result's footer carries ``sqlgate.truncated`` and
``sqlgate.row_limit``; a failed one has no footer at all, so no reader opens it.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pat

from sqlgate.results import endings, jsonable
from sqlgate.results import read_ahead as ahead
from sqlgate.results.cells import cell_text
from sqlgate.results.parquet_parts import MAGIC, Stitcher, encode
from sqlgate.results.read_ahead import ENCODERS, map_ahead, read_ahead

# Parquet row groups: small enough to bound memory, large enough for readers to scan well.
PARQUET_ROW_GROUP_ROWS = 122_880
PARQUET_ROW_GROUP_BYTES = 64 * 1024 * 1024
#: Row groups being encoded while the one before them is sent: one per encoder thread, up to
#: four (a row group holds up to 64 MB of Arrow data while it is encoded).
ENCODING_AHEAD = min(ENCODERS, 4)


def write_parquet(
    schema: pa.Schema, batches: Iterable[pa.RecordBatch], ending: endings.Limited | None
) -> Iterator[bytes | memoryview]:
    """The Parquet file of ``batches``, chunk by chunk: the leading magic, each row group's
    column chunks as it is encoded, then the footer (see the module's docstring)."""
    # Unique names: several readers (DuckDB among them) reject duplicate column names.
    names = jsonable.unique_names(schema.names)
    target = pa.schema(
        [
            f.with_name(n).with_type(_parquet_type(f.type))
            for f, n in zip(schema, names, strict=True)
        ],
        schema.metadata,
    )
    groups = _row_groups(read_ahead(batches), target)
    stitcher = Stitcher()
    try:
        first = next(groups, None)
        # The first row group decides the encodings. Snappy (the default) rather than zstd:
        # every Parquet reader can decode it.
        options = {"use_dictionary": _dictionary_columns(first) if first is not None else []}
        yield MAGIC
        if first is None:  # no rows: the footer still gives the schema
            stitcher.add(encode(None, target, **options))
        else:
            encoded = functools.partial(encode, schema=target, **options)
            for part in map_ahead(encoded, itertools.chain([first], groups), ENCODING_AHEAD):
                yield stitcher.add(part)
    finally:
        groups.close()  # stops reading ahead when the caller stopped early or it failed
        ahead.give_back_freed()
    yield stitcher.footer(endings.parquet_footer(ending))


def _row_groups(batches: Iterable[pa.RecordBatch], target: pa.Schema) -> Iterator[pa.Table]:
    """``batches`` gathered into tables of ``target``'s types, each one row group: full at
    :data:`PARQUET_ROW_GROUP_ROWS` rows or :data:`PARQUET_ROW_GROUP_BYTES`, the last one
    whatever is left."""
    pending: list[pa.RecordBatch] = []
    rows = size = 0
    for whole in batches:
        offset = 0
        while offset < whole.num_rows:
            batch = whole.slice(offset, PARQUET_ROW_GROUP_ROWS - rows)
            offset += batch.num_rows
            columns = [
                _parquet_array(c, f.type) for c, f in zip(batch.columns, target, strict=True)
            ]
            pending.append(pa.RecordBatch.from_arrays(columns, schema=target))
            rows += batch.num_rows
            size += batch.nbytes
            if rows >= PARQUET_ROW_GROUP_ROWS or size >= PARQUET_ROW_GROUP_BYTES:
                yield pa.Table.from_batches(pending, target)
                pending, rows, size = [], 0, 0
    if pending:
        yield pa.Table.from_batches(pending, target)


def _parquet_type(t: pa.DataType) -> pa.DataType:
    """The type a column is given in parquet: the same unless parquet cannot store it."""
    if pat.is_run_end_encoded(t):
        return _parquet_type(t.value_type)
    if jsonable.type_contains(t, pat.is_interval):  # no parquet equivalent for month/day/nano
        return pa.string()
    return t


def _parquet_array(array: pa.Array, target: pa.DataType) -> pa.Array:
    if array.type == target:
        return array
    if pat.is_run_end_encoded(array.type):
        return _parquet_array(pc.run_end_decode(array), target)
    if pat.is_string(target):
        return pa.array([cell_text(v) for v in jsonable.python_values(array)], pa.string())
    return array.cast(target)


def _dictionary_columns(group: pa.Table) -> list[str]:
    """Columns worth dictionary-encoding: those repeating values (at most half distinct in the
    first row group). Encoding unique values only costs time and space (a 5M-row export of
    unique ids and names writes 25% faster and 9% smaller without it)."""
    rows = max(group.num_rows, 1)
    chosen = []
    for name, column in zip(group.column_names, group.columns, strict=True):
        if pa.types.is_nested(column.type):
            continue
        if pc.count_distinct(column, mode="all").as_py() <= rows // 2:
            chosen.append(name)
    return chosen
