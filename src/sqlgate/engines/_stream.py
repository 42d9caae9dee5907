"""Helpers shared by engines: streams of batches or chunks, and pools of sessions."""

from __future__ import annotations

import itertools
import queue
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from sqlgate.engines.query import Query

T = TypeVar("T")


class Closing:
    """``close()`` and ``on_close()`` of a stream of batches or chunks: the stream sets
    ``_close`` (releases its engine session), ``_closed`` and ``_on_close``."""

    _close: Callable[[], None]
    _closed: bool
    _on_close: list[Callable[[], None]]

    def on_close(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the stream is closed and its engine session released (also
        when releasing it fails), after those added before it."""
        self._on_close.append(callback)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self._close()
            finally:
                for callback in self._on_close:
                    callback()


def primed(batches: Iterator[T]) -> Iterator[T]:
    """Pull the first batch (or chunk) now, so errors that happen on the first fetch raise at once
    (before an HTTP response has started), then hand back an iterator over all batches."""
    try:
        first = next(batches)
    except StopIteration:
        return iter(())
    return itertools.chain((first,), batches)


def opening(query: Query, step: Callable[[], T]) -> T:
    """``step()`` of opening ``query``; if it fails, the query ends (its session released) and
    the error raises as the client should see it."""
    try:
        return step()
    except BaseException as exc:
        error = query.fail(exc)
        if error is exc:
            raise
        raise error from exc


def drained(pool: queue.Queue[T]) -> Iterator[T]:
    """Take every session left in ``pool`` (without waiting), for the caller to close."""
    while True:
        try:
            yield pool.get_nowait()
        except queue.Empty:
            return
