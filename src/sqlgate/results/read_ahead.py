"""Work done ahead of the writer that consumes it, on other threads.

:func:`read_ahead`: batches pulled by a thread ahead of their writer, so the engine computes the
next ones while the writer encodes this one: DuckDB's reader and Arrow's Parquet writer both
release the interpreter lock, so on two cores they run side by side instead of taking turns.

:func:`map_ahead`: a function (an encoder that releases the lock, such as Arrow's CSV writer)
applied to the next few items on a small shared pool while the caller pulls and sends, the
results handed on in order: one export's encoding then uses every core, as DuckDB's own
``COPY`` does.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

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


#: Threads that :func:`map_ahead` runs its functions on, shared by every export of the process:
#: one per core (at least two), so encoders never outnumber the cores that can run them.
ENCODERS = max(2, os.cpu_count() or 2)
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _encoders() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(ENCODERS, thread_name_prefix="sqlgate-encode")
        return _pool


def map_ahead(function: Callable[[T], R], items: Iterable[T], depth: int = 2) -> Iterator[R]:
    """``function(item)`` for each of ``items``, in order, with up to ``depth`` items after the
        one being handed on already being worked on by the shared encoder threads. ``items`` are
        pulled by the caller's thread. An error in ``function`` raises here, at its item's turn, and
    one reading ``items`` after the items read before it;
        when the caller stops early, the items not yet started are dropped and those running are
        left to finish on their own (their results unused)."""
    pending: deque[Future[R]] = deque()
    pool = _encoders()
    source = iter(items)
    failed: Exception | None = None
    try:
        while True:
            try:
                item = next(source)
            except StopIteration:
                break
            except Exception as exc:  # raised after the items read before it are handed on
                failed = exc
                break
            pending.append(pool.submit(function, item))
            if len(pending) > depth:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
    if failed is not None:
        raise failed
