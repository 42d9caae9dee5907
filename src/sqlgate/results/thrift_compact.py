"""Thrift's compact protocol, read and written without a schema.

Parquet stores a file's metadata (its footer) as one Thrift struct in the compact protocol.
:mod:`sqlgate.results.parquet_parts` moves row groups encoded on their own into one file, which
means changing a few byte offsets in their metadata and nothing else. The compact protocol
names every field by number and type, so a struct can be read into a tree of numbered fields,
a few of them changed, and written back without knowing the rest.

That is why this is not thriftpy2 or Apache Thrift's generated code: both decode against an
IDL, and would need Parquet's ``parquet.thrift`` kept here in step with every writer's format
version. Fields added to the format after that copy (size statistics, geospatial statistics in
recent years) would be dropped silently on the way through. Here every field is kept as it was
read, and ``dumps(loads(data)) == data`` for what Arrow and DuckDB write (tested).

Reference: https://github.com/apache/thrift/blob/master/doc/specs/thrift-compact-protocol.md
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

# Compact-protocol type ids. A boolean field's value is its type (TRUE or FALSE); in a list a
# boolean is a byte, kept here as the int it was.
TRUE, FALSE, BYTE, I16, I32, I64, DOUBLE, BINARY, LIST, SET, MAP, STRUCT = range(1, 13)
_INTS = frozenset({I16, I32, I64})


class ThriftError(ValueError):
    """The bytes are not a well-formed compact-protocol struct."""


@dataclass
class Struct:
    """A struct's fields in the order read: ``{field id: (type, value)}``.

    Values: ``int`` for integers and bytes, ``bool`` for boolean fields, ``float``, ``bytes``
    for binary (strings too), :class:`Struct`, :class:`Items` for lists and sets, and
    :class:`Pairs` for maps."""

    fields: dict[int, tuple[int, Any]] = field(default_factory=dict)

    def get(self, field_id: int, default: Any = None) -> Any:
        entry = self.fields.get(field_id)
        return default if entry is None else entry[1]

    def set(self, field_id: int, kind: int, value: Any) -> None:
        """Give field ``field_id`` a value (a new field goes in field-id order)."""
        self.fields[field_id] = (kind, value)
        if list(self.fields) != sorted(self.fields):
            self.fields = dict(sorted(self.fields.items()))

    def copy(self) -> Struct:
        """A copy sharing no mutable part with this struct."""
        return Struct({k: (kind, _copied(value)) for k, (kind, value) in self.fields.items()})


@dataclass
class Items:
    """A list (or set) of values of one type."""

    kind: int
    values: list[Any]


@dataclass
class Pairs:
    """A map: key type, value type and the pairs in order."""

    key_kind: int
    value_kind: int
    pairs: list[tuple[Any, Any]]


def _copied(value: Any) -> Any:
    if isinstance(value, Struct):
        return value.copy()
    if isinstance(value, Items):
        return Items(value.kind, [_copied(v) for v in value.values])
    if isinstance(value, Pairs):
        return Pairs(
            value.key_kind, value.value_kind, [(_copied(k), _copied(v)) for k, v in value.pairs]
        )
    return value


# --- reading -----------------------------------------------------------------------------------

#: Nesting deeper than this is not metadata anyone wrote: refuse rather than recurse on.
_MAX_DEPTH = 64


class _Reader:
    def __init__(self, data: bytes | memoryview) -> None:
        self._data = bytes(data)
        self._at = 0

    def done(self) -> bool:
        return self._at == len(self._data)

    def byte(self) -> int:
        if self._at >= len(self._data):
            raise ThriftError("the struct ends early")
        b = self._data[self._at]
        self._at += 1
        return b

    def take(self, n: int) -> bytes:
        if n < 0 or self._at + n > len(self._data):
            raise ThriftError("the struct ends early")
        chunk = self._data[self._at : self._at + n]
        self._at += n
        return chunk

    def varint(self) -> int:
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise ThriftError("a varint runs past 64 bits")

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def struct(self, depth: int) -> Struct:
        if depth > _MAX_DEPTH:
            raise ThriftError("structs nest too deep")
        fields: dict[int, tuple[int, Any]] = {}
        last = 0
        while True:
            header = self.byte()
            if header == 0:
                return Struct(fields)
            delta, kind = header >> 4, header & 0x0F
            field_id = last + delta if delta else self.zigzag()
            if kind in (TRUE, FALSE):
                fields[field_id] = (TRUE, kind == TRUE)
            else:
                fields[field_id] = (kind, self.value(kind, depth))
            last = field_id

    def value(self, kind: int, depth: int) -> Any:
        if kind in _INTS:
            return self.zigzag()
        if kind == BINARY:
            return self.take(self.varint())
        if kind == STRUCT:
            return self.struct(depth + 1)
        if kind in (BYTE, TRUE, FALSE):  # booleans inside lists are bytes
            return self.byte()
        if kind == DOUBLE:
            return struct.unpack("<d", self.take(8))[0]
        if kind in (LIST, SET):
            header = self.byte()
            size, element = header >> 4, header & 0x0F
            if size == 15:
                size = self.varint()
            return Items(element, [self.value(element, depth + 1) for _ in range(size)])
        if kind == MAP:
            size = self.varint()
            if size == 0:
                return Pairs(0, 0, [])
            kinds = self.byte()
            key_kind, value_kind = kinds >> 4, kinds & 0x0F
            pairs = [
                (self.value(key_kind, depth + 1), self.value(value_kind, depth + 1))
                for _ in range(size)
            ]
            return Pairs(key_kind, value_kind, pairs)
        raise ThriftError(f"unknown compact type {kind}")


def loads(data: bytes | memoryview) -> Struct:
    """The struct ``data`` holds, all of it; :class:`ThriftError` if it is not one."""
    reader = _Reader(data)
    result = reader.struct(0)
    if not reader.done():
        raise ThriftError("bytes left after the struct")
    return result


# --- writing -----------------------------------------------------------------------------------


def _varint(out: bytearray, n: int) -> None:
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _zigzag(out: bytearray, n: int) -> None:
    _varint(out, (n << 1) ^ (n >> 63))


def _struct(out: bytearray, value: Struct) -> None:
    last = 0
    for field_id, (kind, item) in value.fields.items():
        wire = (TRUE if item else FALSE) if kind == TRUE else kind
        delta = field_id - last
        if 0 < delta <= 15:
            out.append(delta << 4 | wire)
        else:
            out.append(wire)
            _zigzag(out, field_id)
        if kind != TRUE:
            _value(out, kind, item)
        last = field_id
    out.append(0)


def _value(out: bytearray, kind: int, value: Any) -> None:
    if kind in _INTS:
        _zigzag(out, value)
    elif kind == BINARY:
        _varint(out, len(value))
        out += value
    elif kind == STRUCT:
        _struct(out, value)
    elif kind in (BYTE, TRUE, FALSE):
        out.append(value & 0xFF)
    elif kind == DOUBLE:
        out += struct.pack("<d", value)
    elif kind in (LIST, SET):
        size = len(value.values)
        if size < 15:
            out.append(size << 4 | value.kind)
        else:
            out.append(0xF0 | value.kind)
            _varint(out, size)
        for item in value.values:
            _value(out, value.kind, item)
    elif kind == MAP:
        _varint(out, len(value.pairs))
        if value.pairs:
            out.append(value.key_kind << 4 | value.value_kind)
            for k, v in value.pairs:
                _value(out, value.key_kind, k)
                _value(out, value.value_kind, v)
    else:
        raise ThriftError(f"unknown compact type {kind}")


def dumps(value: Struct) -> bytes:
    """``value`` in the compact protocol."""
    out = bytearray()
    _struct(out, value)
    return bytes(out)
