"""Look-ups on the query path remembered for a few seconds, and forgotten at once on a change.

Connection lookups and a connection's latest access-policy versions are read for every query
and change rarely. A service remembers each for ``seconds`` (``SQLGATE_CONNECTION_CACHE_SECONDS``):
a change made through the service forgets them all at once (:meth:`Remembered.forget`), one made
by another process (the CLI, another worker) is seen within that time. A look-up that raced a
change is not stored, and one that raised (a miss) is not remembered.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: Entries kept at most; past this many, all are forgotten (they are cheap to look up again).
MAX_ENTRIES = 10_000


class Remembered(Generic[K, V]):
    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._entries: dict[K, tuple[float, V]] = {}
        self._revision = 0

    def get(self, key: K, look_up: Callable[[], V]) -> V:
        """The value remembered for ``key``, or ``look_up()``'s, then remembered."""
        seconds = self._seconds
        if seconds <= 0:
            return look_up()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        revision = self._revision
        value = look_up()
        if revision == self._revision:
            if len(self._entries) > MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + seconds, value)
        return value

    def forget(self) -> None:
        """Something changed (or may have): no remembered value may be used again."""
        self._revision += 1
        self._entries.clear()
