"""Rate limits per key (or per member) and route group, on the `limits` library.

Storage is in-process memory by default, Redis when ``SQLGATE_REDIS_URL`` is set so several
server processes share one budget.
"""

from __future__ import annotations

import math
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from sqlgate.errors import RateLimitExceeded
from sqlgate.settings import Settings


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limit_enabled
        storage_uri = settings.redis_url or "memory://"
        #: Whether ``hit`` does network I/O (and so must not run on the event loop).
        self.blocking = self.enabled and settings.redis_url is not None
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))
        self._limits = {group: parse(value) for group, value in settings.rate_limits.items()}

    def hit(self, group: str, identity: str) -> None:
        """Count one request of ``identity`` in ``group``; raise past the limit."""
        if not self.enabled:
            return
        item = self._limits.get(group) or self._limits["default"]
        if self._limiter.hit(item, group, identity):
            return
        stats = self._limiter.get_window_stats(item, group, identity)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimitExceeded(
            f"Rate limit of {item} exceeded for this route group ({group}); retry in "
            f"{retry_after} s",
            retry_after=retry_after,
        )
