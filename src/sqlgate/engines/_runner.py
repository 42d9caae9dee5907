"""Keeping a query's deadline when its engine does not stop in time.

Every engine interrupts its statement when the deadline fires, but not every statement notices:
DuckDB builds a huge string (``repeat(s, n)`` with a computed ``n``) in one call that checks for
no interrupt, a PostgreSQL server may take a while to answer a cancel request. So the work of a
query (take a session, run, read what the caller waits for) runs on a worker thread, and the
caller waits at most ``timeout`` + :data:`GRACE`. If the worker is still busy then, the caller
gets the timeout at once (and with it frees the organization's concurrent-query slot), the query
is marked failed (its session is closed, never pooled again), and whatever the worker returns
when it finally unwinds is closed by the worker itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextvars import copy_context
from typing import Any, Protocol, TypeVar

from sqlgate.errors import ServiceUnavailable

T = TypeVar("T")

#: How long past its timeout a caller waits for an engine that has not stopped.
GRACE = 0.25
#: Queries running (or unwinding after their deadline) at once; more wait for a worker, under
#: their deadline.
MAX_WORKERS = 64

_POOL = ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="sqlgate-query")


class Abandonable(Protocol):
    timeout: float

    def abandon(self) -> BaseException:
        """Give the query up: fire its deadline, mark it failed; the error for the caller."""
        ...


class Unwinding:
    """How many of one engine's queries still run past their deadline. At ``limit`` the engine
    takes no new query until one of them ends: each may hold memory the engine cannot cap, so
    their number is what bounds the process's memory."""

    def __init__(self, limit: int = 2) -> None:
        self.limit = limit
        self._count = 0
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        return self._count

    def admit(self) -> None:
        with self._lock:
            if self._count >= self.limit:
                raise ServiceUnavailable(
                    f"This connection is still stopping {self._count} earlier queries that ran "
                    "past their timeout; try again in a moment",
                    retry_after=1,
                )

    def started(self) -> None:
        with self._lock:
            self._count += 1

    def ended(self) -> None:
        with self._lock:
            self._count -= 1


class _Job:
    """The work, and who gets its result: the waiting caller, or (once abandoned) nobody, in
    which case the worker closes it."""

    def __init__(self, work: Callable[[], Any], unwinding: Unwinding) -> None:
        self._work = work
        self._unwinding = unwinding
        self._lock = threading.Lock()
        self._abandoned = False
        self._delivered = False
        self._ended = False

    def run(self) -> Any:
        try:
            with self._lock:
                if self._abandoned:
                    return None
            result = self._work()
            with self._lock:
                if not self._abandoned:
                    self._delivered = True
                    return result
            _close(result)
            return None
        finally:
            self.end()

    def abandon(self) -> bool:
        """Give the result up, unless it is already on its way to the caller."""
        with self._lock:
            if self._delivered:
                return False
            self._abandoned = True
            if not self._ended:
                self._unwinding.started()
            return True

    def end(self) -> None:
        with self._lock:
            if self._ended:
                return
            self._ended = True
            if self._abandoned:
                self._unwinding.ended()


def within_deadline(query: Abandonable, work: Callable[[], T], unwinding: Unwinding) -> T:
    """``work()`` on a worker thread, waited on for at most the query's timeout + GRACE."""
    unwinding.admit()
    job = _Job(work, unwinding)
    future = _POOL.submit(copy_context().run, job.run)
    try:
        return future.result(timeout=query.timeout + GRACE)
    except FutureTimeout:
        if not job.abandon():
            return future.result()  # it finished just now
    if future.cancel():  # never started
        job.end()
    raise query.abandon()


def _close(result: Any) -> None:
    close = getattr(result, "close", None)
    if callable(close):
        close()
