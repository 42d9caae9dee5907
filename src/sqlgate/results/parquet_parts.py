"""One Parquet file from row groups encoded apart, so that several threads can encode them.

Arrow's Parquet writer encodes one row group at a time, a column after another, on the thread
that calls it; pyarrow does not expose the C++ writer's option to use more. An export's row
groups are therefore each written as a small file of their own (:func:`encode`), on as many
threads as there are cores, and put together here:

    PAR1 | row group 0's column chunks | row group 1's | ... | footer | footer length | PAR1

A part's column chunks are the bytes between its file's leading ``PAR1`` and its footer, and
move into the big file unchanged. Only the footer is new: the parts' row-group metadata, with
the byte offsets they hold moved by where the part landed, under the first part's schema and
key-value metadata (plus any given). Page indexes and bloom filters would sit between the chunks
and the footer at offsets of their own; they are never asked for here, and a part that has
them is refused.

Field numbers are those of Parquet's ``parquet.thrift``:
https://github.com/apache/parquet-format/blob/master/src/main/thrift/parquet.thrift
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from sqlgate.results import thrift_compact as tc

MAGIC = b"PAR1"

# FileMetaData
_NUM_ROWS, _ROW_GROUPS, _KEY_VALUES = 3, 4, 5
# KeyValue
_KEY, _VALUE = 1, 2
# RowGroup
_COLUMNS, _GROUP_ROWS, _GROUP_OFFSET, _ORDINAL = 1, 3, 5, 7
# ColumnChunk
_CHUNK_OFFSET, _META, _OFFSET_INDEX, _COLUMN_INDEX = 2, 3, 4, 6
# ColumnMetaData: offsets of the chunk's pages, and of a bloom filter
_PAGE_OFFSETS = (9, 10, 11)
_BLOOM_FILTER = 14


class PartError(ValueError):
    """A part is not a Parquet file this module can put into another."""


@dataclass
class Part:
    """A Parquet file written on its own: its column chunks and its metadata."""

    chunks: memoryview
    metadata: tc.Struct


def encode(table: pa.Table | None, schema: pa.Schema, **options: object) -> Part:
    """``table`` (``None``: no rows) as a Parquet file with one row group (none without rows),
    written with ``pq.ParquetWriter(..., **options)``."""
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, schema, **options) as writer:
        if table is not None:
            writer.write_table(table, row_group_size=max(table.num_rows, 1))
    return split(sink.getvalue())


def split(data: pa.Buffer | bytes) -> Part:
    """The column chunks and the metadata of the Parquet file ``data``."""
    view = memoryview(data)
    if len(view) < 12 or view[:4] != MAGIC or view[-4:] != MAGIC:
        raise PartError("not a Parquet file")
    length = int.from_bytes(view[-8:-4], "little")
    start = len(view) - 8 - length
    if start < 4:
        raise PartError("the footer's length is wrong")
    try:
        metadata = tc.loads(view[start:-8])
    except tc.ThriftError as exc:
        raise PartError(f"the footer is not readable: {exc}") from exc
    return Part(view[4:start], metadata)


class Stitcher:
    """Takes parts in file order (:meth:`add`, which returns the bytes to write next) and then
    writes the footer (:meth:`footer`). The first bytes of the file are :data:`MAGIC`."""

    def __init__(self) -> None:
        self._position = len(MAGIC)
        self._groups: list[tc.Struct] = []
        self._rows = 0
        self._template: tc.Struct | None = None

    def add(self, part: Part) -> memoryview:
        """Take ``part``'s row groups; returns its column chunks, to be written next."""
        shift = self._position - len(MAGIC)
        groups = part.metadata.get(_ROW_GROUPS)
        for group in groups.values if groups is not None else ():
            self._groups.append(_moved(group, shift, len(self._groups)))
            self._rows += group.get(_GROUP_ROWS, 0)
        if self._template is None:
            self._template = part.metadata
        self._position += len(part.chunks)
        return part.chunks

    def footer(self, key_values: Mapping[bytes, bytes] | None = None) -> bytes:
        """The end of the file: its metadata (with ``key_values`` added), that metadata's length
        and :data:`MAGIC`. At least one part must have been added: a part without rows gives
        the schema of a file without rows."""
        if self._template is None:
            raise PartError("a Parquet file needs at least one part, for its schema")
        metadata = self._template.copy()
        metadata.set(_NUM_ROWS, tc.I64, self._rows)
        metadata.set(_ROW_GROUPS, tc.LIST, tc.Items(tc.STRUCT, self._groups))
        if key_values:
            pairs = metadata.get(_KEY_VALUES) or tc.Items(tc.STRUCT, [])
            for key, value in key_values.items():
                pairs.values.append(tc.Struct({_KEY: (tc.BINARY, key), _VALUE: (tc.BINARY, value)}))
            metadata.set(_KEY_VALUES, tc.LIST, pairs)
        body = tc.dumps(metadata)
        return body + len(body).to_bytes(4, "little") + MAGIC


def _moved(group: tc.Struct, shift: int, ordinal: int) -> tc.Struct:
    """A copy of row group ``group`` whose offsets are ``shift`` bytes further on, numbered
    ``ordinal``."""
    group = group.copy()
    _shift(group, _GROUP_OFFSET, shift)
    if _ORDINAL in group.fields:
        group.set(_ORDINAL, tc.I16, ordinal)
    for chunk in group.get(_COLUMNS).values:
        if _OFFSET_INDEX in chunk.fields or _COLUMN_INDEX in chunk.fields:
            raise PartError("a part with page indexes cannot be moved")
        if chunk.get(_CHUNK_OFFSET):  # deprecated; Arrow writes 0
            _shift(chunk, _CHUNK_OFFSET, shift)
        meta = chunk.get(_META)
        if meta is None:
            raise PartError("a column chunk without its metadata cannot be moved")
        if _BLOOM_FILTER in meta.fields:
            raise PartError("a part with bloom filters cannot be moved")
        for offset in _PAGE_OFFSETS:
            _shift(meta, offset, shift)
    return group


def _shift(struct: tc.Struct, field_id: int, shift: int) -> None:
    entry = struct.fields.get(field_id)
    if entry is not None:
        struct.fields[field_id] = (entry[0], entry[1] + shift)
