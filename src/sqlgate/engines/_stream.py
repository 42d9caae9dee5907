"""Helpers shared by engines: streams of batches or chunks, and pools of sessions."""

from __future__ import annotations

import itertools
import queue
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")


def primed(batches: Iterator[T]) -> Iterator[T]:
    """Pull the first batch (or chunk) now, so errors that happen on the first fetch raise at once
    (before an HTTP response has started), then hand back an iterator over all batches."""
    try:
        first = next(batches)
    except StopIteration:
        return iter(())
    return itertools.chain((first,), batches)


def drained(pool: queue.Queue[T]) -> Iterator[T]:
    """Take every session left in ``pool`` (without waiting), for the caller to close."""
    while True:
        try:
            yield pool.get_nowait()
        except queue.Empty:
            return
