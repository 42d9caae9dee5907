"""Helpers shared by engines that produce Arrow batches."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pyarrow as pa


def primed(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Pull the first batch now, so errors that happen on the first fetch raise at once
    (before an HTTP response has started), then hand back an iterator over all batches."""
    try:
        first = next(batches)
    except StopIteration:
        return iter(())
    return itertools.chain((first,), batches)
