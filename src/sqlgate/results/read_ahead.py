"""Batches pulled by a thread ahead of their writer, so the engine computes the next ones while
the writer encodes this one: DuckDB's reader and Arrow's Parquet writer both release the
interpreter lock, so on two cores they run side by side instead of taking turns."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from contextlib import suppress
from typing import TypeVar

T = TypeVar("T")

_POLL = 0.1  # s between checks for the consumer having gone
#: Items read ahead at most: those queued, plus the one the thread holds while the queue is full.
READ_AHEAD = 2


class _End:
    """The source ended (``error`` None) or failed."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def read_ahead(items: Iterable[T], depth: int = READ_AHEAD) -> Iterator[T]:
    """``items`` in order, read by a thread at most ``depth`` + 1 ahead. An error reading them
    raises here, as it would have; when the caller stops early, the thread stops after the item
    it is reading, closes ``items`` (so their source is released on that thread, never on two
    at once) and is waited for."""
    pending: queue.Queue[T | _End] = queue.Queue(depth)
    stop = threading.Event()

    def put(item: T | _End) -> bool:
        while not stop.is_set():
            with suppress(queue.Full):
                pending.put(item, timeout=_POLL)
                return True
        return False

    def pull() -> None:
        source = iter(items)
        try:
            for item in source:
                if not put(item):
                    break
            else:
                put(_End())
        except BaseException as exc:  # handed to the consumer, raised there
            put(_End(exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=pull, name="sqlgate-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = pending.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stop.set()
        thread.join()
