"""Query deadlines: each calls its interrupt when its time comes, unless cancelled first; one
watchdog thread keeps them all (:class:`Deadline`, used by :class:`~sqlgate.engines.base.Query`).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlgate.errors import QueryTimeout


class _Watchdog:
    """One thread that fires every pending deadline, instead of a thread per query (starting a
    thread costs more than a small query)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._wake = threading.Condition()
        self._counter = itertools.count()
        self._thread: threading.Thread | None = None
        self._compact_at = _COMPACT_MIN

    def _compact(self) -> None:
        """Drop the deadlines cancelled before their time (most of them: a query usually ends
        long before its timeout), which would otherwise stay queued, and alive, until then."""
        self._heap = [entry for entry in self._heap if entry[2].pending]
        heapq.heapify(self._heap)
        self._compact_at = max(_COMPACT_MIN, 2 * len(self._heap))

    def schedule(self, deadline: Deadline) -> None:
        with self._wake:
            if len(self._heap) >= self._compact_at:
                self._compact()
            heapq.heappush(self._heap, (deadline.at, next(self._counter), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="sqlgate-watchdog", daemon=True
                )
                self._thread.start()
            # Only an earlier deadline changes how long the thread sleeps; waking it for every
            # query would cost a context switch each.
            if self._heap[0][2] is deadline:
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._wake.wait(timeout)
                _, _, deadline = heapq.heappop(self._heap)
            deadline.fire()


#: Queued deadlines at which the watchdog first drops the cancelled ones.
_COMPACT_MIN = 1024
_WATCHDOG = _Watchdog()


class Deadline:
    """Calls ``interrupt`` when ``seconds`` pass, unless cancelled first.

    ``expired`` tells afterwards whether the interrupt fired, so an engine error caused by the
    interrupt can be reported as a timeout rather than a query error.
    """

    def __init__(self, seconds: float, interrupt: Callable[[], None]) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self._interrupt: Callable[[], None] | None = interrupt
        self._lock = threading.Lock()
        _WATCHDOG.schedule(self)
        observer = _DEADLINE_OBSERVER.get()
        if observer is not None:
            observer(self)

    @property
    def pending(self) -> bool:
        """Neither fired nor cancelled yet."""
        return self._interrupt is not None

    def fire(self) -> None:
        with self._lock:
            interrupt, self._interrupt = self._interrupt, None
            if interrupt is None:
                return
            self.expired = True
        interrupt()

    def cancel(self) -> None:
        # Drop the callback at once: the heap keeps this object until its time comes, and the
        # callback holds the engine session.
        with self._lock:
            self._interrupt = None

    def error(self) -> QueryTimeout:
        return QueryTimeout(
            f"The query ran longer than its timeout of {self.seconds:g} s and was stopped",
            timeout=self.seconds,
        )


_DEADLINE_OBSERVER: ContextVar[Callable[[Deadline], None] | None] = ContextVar(
    "sqlgate_deadline_observer", default=None
)


@contextmanager
def observe_deadlines(observer: Callable[[Deadline], None]) -> Iterator[None]:
    """Hand ``observer`` every Deadline started in this context (thread), so the caller can
    stop its query early with ``deadline.fire()``: async jobs cancel on the engine this way."""
    token = _DEADLINE_OBSERVER.set(observer)
    try:
        yield
    finally:
        _DEADLINE_OBSERVER.reset(token)
