"""How the idle job workers of one process sleep: one polls the store, the others wait.

Jobs submitted in this process wake a worker at once (:meth:`IdleWorkers.wake`). Jobs queued by
another process sharing the store, or made claimable there (a cap freed, a shutdown requeued
them), are seen only by looking: one idle worker at a time, the poller, looks every
``async_poll_seconds``; the others sleep until woken, so an idle process makes one small query
per interval however many workers it has. A worker that takes a job wakes another, which looks
for the next queued job and, finding none, becomes the poller if there is none.
"""

from __future__ import annotations

import threading

#: Longest sleep of an idle worker that is not the poller (a safety net: it is woken).
QUIET_SECONDS = 60.0


class IdleWorkers:
    def __init__(self, poll_seconds: float) -> None:
        self._poll_seconds = poll_seconds
        self._cond = threading.Condition()
        self._signal = 0  # counts wake-ups, so a worker about to sleep misses none
        self._poller: int | None = None  # the thread id of the idle worker that polls

    def mark(self) -> int:
        """Call before looking for a job; pass the mark to :meth:`sleep` if none was found."""
        with self._cond:
            return self._signal

    def sleep(self, mark: int, stopping: threading.Event) -> None:
        """Sleep until woken (or, for the poller, until the next look is due); at once when a
        wake-up came since ``mark``."""
        me = threading.get_ident()
        with self._cond:
            if self._signal != mark or stopping.is_set():
                return
            if self._poller is None:
                self._poller = me
            self._cond.wait(self._poll_seconds if self._poller == me else QUIET_SECONDS)

    def took_job(self) -> None:
        """This worker took a job: it polls no more, and another worker looks for the next."""
        with self._cond:
            if self._poller == threading.get_ident():
                self._poller = None
            self._signal += 1
            self._cond.notify()

    def wake(self, everyone: bool = False) -> None:
        with self._cond:
            self._signal += 1
            if everyone:
                self._cond.notify_all()
            else:
                self._cond.notify()
