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
from concurrent.futures import Future
from contextlib import suppress
from typing import Any, TypeVar

import pyarrow as pa

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


def give_back_freed() -> None:
    """Arrow's allocator keeps what it freed for reuse: after a large export, 20 to 40 MB that
    a server at rest would go on holding. Exports give it back when they end."""
    pa.default_memory_pool().release_unused()


#: Threads that :func:`map_ahead` runs its functions on, shared by every export of the process:
#: one per core (at least two), so encoders never outnumber the cores that can run them.
ENCODERS = max(2, os.cpu_count() or 2)
#: Seconds an encoder thread waits for work before it gives back the memory it freed.
IDLE_RELEASE = 0.5


class _Encoders:
    """:data:`ENCODERS` daemon threads taking calls from one queue, started with the first.

    A thread that has worked and then finds nothing to do for :data:`IDLE_RELEASE` seconds asks
    Arrow's allocator to give back what it holds unused. Arrow's default allocator (mimalloc)
    keeps a thread's freed pages for that thread, and an encoder's buffers are freed by the
    thread that sent them: without this, each encoder kept about 15 MB after a large export."""

    def __init__(self, threads: int) -> None:
        self._threads = threads
        self._calls: queue.SimpleQueue[tuple[Future[Any], Callable[[Any], Any], Any]] = (
            queue.SimpleQueue()
        )
        self._started = False
        self._lock = threading.Lock()

    def submit(self, function: Callable[[T], R], item: T) -> Future[R]:
        future: Future[R] = Future()
        self._calls.put((future, function, item))
        if not self._started:
            with self._lock:
                if not self._started:
                    for n in range(self._threads):
                        name = f"sqlgate-encode_{n}"
                        threading.Thread(target=self._work, name=name, daemon=True).start()
                    self._started = True
        return future

    def _work(self) -> None:
        worked = False
        while True:
            try:
                future, function, item = self._calls.get(timeout=IDLE_RELEASE if worked else None)
            except queue.Empty:
                pa.default_memory_pool().release_unused()
                worked = False
                continue
            if future.set_running_or_notify_cancel():
                try:
                    result = function(item)
                except BaseException as exc:  # handed to the caller, raised there
                    future.set_exception(exc)
                else:
                    future.set_result(result)
                    del result
                worked = True
            del future, function, item


_ENCODERS = _Encoders(ENCODERS)


#: Items worked on ahead of the one handed on, by default: one is encoded while the caller pulls
#: the next from the engine and the one before is sent, which kept a 5M-row CSV export at the
#: pace of DuckDB's own COPY; two were no faster and held 20-30 MB more at the peak.
MAP_AHEAD = 1


def map_ahead(
    function: Callable[[T], R], items: Iterable[T], depth: int = MAP_AHEAD
) -> Iterator[R]:
    """``function(item)`` for each of ``items``, in order, with up to ``depth`` items after the
    one being handed on already being worked on by the shared encoder threads. ``items`` are
    pulled by the caller's thread. An error in ``function`` raises here, at its item's turn,
    and one reading ``items`` after the items read before it; when the caller stops early, the
    items not yet started are dropped and those running are left to finish on their own (their
    results unused)."""
    pending: deque[Future[R]] = deque()
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
            pending.append(_ENCODERS.submit(function, item))
            if len(pending) > depth:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
    if failed is not None:
        raise failed
