"""Rate limits: per identity and route group; shared across processes through Redis."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlgate.auth.ratelimit import RateLimiter
from sqlgate.errors import RateLimitExceeded
from tests.conftest import make_settings
from tests.redis_services import redis_space


def admitted(limiter: RateLimiter, n: int, identity: str = "key_a") -> int:
    ok = 0
    retry_after = []
    for _ in range(n):
        try:
            limiter.hit("admin_sql", identity)
            ok += 1
        except RateLimitExceeded as exc:
            retry_after.append(int(exc.headers["Retry-After"]))
    assert all(seconds >= 1 for seconds in retry_after)
    return ok


def test_memory_limit_per_identity(tmp_path: Path) -> None:
    limiter = RateLimiter(make_settings(tmp_path, rate_limits={"admin_sql": "6/minute"}))
    assert not limiter.blocking
    assert admitted(limiter, 10) == 6
    assert admitted(limiter, 3, identity="key_b") == 3


def test_redis_budget_is_shared_between_processes(tmp_path: Path) -> None:
    with redis_space() as space:
        settings = make_settings(
            tmp_path,
            rate_limits={"admin_sql": "6/minute"},
            redis_url=space.url,
            redis_key_prefix=space.prefix,
        )
        # Two limiters on one Redis stand for two server processes.
        first, second = RateLimiter(settings), RateLimiter(settings)
        assert first.blocking
        total = admitted(first, 5) + admitted(second, 5)
        assert total == 6
        with pytest.raises(RateLimitExceeded):
            first.hit("admin_sql", "key_a")
