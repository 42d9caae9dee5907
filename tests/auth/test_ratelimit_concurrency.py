"""The per-organization cap on running queries, in process and shared through Redis."""

from __future__ import annotations

import contextlib
import gc
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sqlgate.auth.concurrency import ConcurrencyLimiter, Slot
from sqlgate.errors import RateLimitExceeded, ServiceUnavailable
from tests.conftest import make_settings
from tests.redis_services import DEAD_REDIS_URL, RedisSpace, redis_space


def take(
    limiter: ConcurrencyLimiter, n: int, org: str = "org_1", slug: str | None = None
) -> list[Slot]:
    """The slots ``n`` attempts got (held until the list is dropped)."""
    held: list[Slot] = []
    for _ in range(n):
        with contextlib.suppress(RateLimitExceeded):
            held.append(limiter.acquire(org, slug))
    return held


def test_cap_refuses_at_once_and_frees_on_release(tmp_path: Path) -> None:
    limiter = ConcurrencyLimiter(make_settings(tmp_path, org_max_concurrent_queries=2))
    first = limiter.acquire("org_1")
    second = limiter.acquire("org_1")
    started = time.monotonic()
    with pytest.raises(RateLimitExceeded) as refused:
        limiter.acquire("org_1")
    assert time.monotonic() - started < 0.1
    body = refused.value.body()["error"]
    assert refused.value.status == 429 and body["code"] == "rate_limit_exceeded"
    assert body["budget"] == "org_concurrency" and body["limit"] == "2 running queries"
    assert refused.value.headers["Retry-After"] == "1"
    assert "2 queries running" in body["message"]
    assert limiter.running("org_1") == 2
    assert len(take(limiter, 2, "org_2")) == 2  # another organization has its own cap
    first.release()
    first.release()  # a second release gives back nothing more
    assert limiter.running("org_1") == 1
    with limiter.acquire("org_1"):
        assert limiter.running("org_1") == 2
    assert limiter.running("org_1") == 1
    second.release()
    assert limiter.running("org_1") == 0


def test_overrides_by_id_or_slug_and_zero_means_no_cap(tmp_path: Path) -> None:
    limiter = ConcurrencyLimiter(
        make_settings(
            tmp_path,
            org_max_concurrent_queries=3,
            org_max_concurrent_queries_by_org={"org_big": 5, "tiny-co": 1, "org_free": 0},
        )
    )
    assert len(take(limiter, 10, "org_plain")) == 3
    assert len(take(limiter, 10, "org_big")) == 5
    assert len(take(limiter, 10, "org_tiny", slug="tiny-co")) == 1
    assert len(take(limiter, 100, "org_free")) == 100
    assert (
        len(take(ConcurrencyLimiter(make_settings(tmp_path, org_max_concurrent_queries=0)), 50))
        == 50
    )


def test_a_dropped_slot_is_given_back(tmp_path: Path) -> None:
    limiter = ConcurrencyLimiter(make_settings(tmp_path, org_max_concurrent_queries=1))
    limiter.acquire("org_1")  # never released, not kept
    gc.collect()
    assert limiter.running("org_1") == 0
    limiter.acquire("org_1").release()


def redis_limiter(tmp_path: Path, space: RedisSpace, cap: int, lease: float) -> ConcurrencyLimiter:
    settings = make_settings(
        tmp_path,
        org_max_concurrent_queries=cap,
        redis_url=space.url,
        redis_key_prefix=space.prefix,
    )
    return ConcurrencyLimiter(settings, lease=lease)


def test_redis_cap_is_shared_and_renewed_while_held(tmp_path: Path) -> None:
    with redis_space() as space:
        first = redis_limiter(tmp_path, space, cap=2, lease=0.6)
        second = redis_limiter(tmp_path, space, cap=2, lease=0.6)
        try:
            a = first.acquire("org_1")
            b = second.acquire("org_1")
            with pytest.raises(RateLimitExceeded):
                first.acquire("org_1")
            # Held for several leases: renewal keeps both slots taken.
            time.sleep(2.0)
            assert space.running("org_1") == 2
            with pytest.raises(RateLimitExceeded):
                second.acquire("org_1")
            a.release()
            assert space.running("org_1") == 1
            second.acquire("org_1").release()
            b.release()
            assert space.running("org_1") == 0
        finally:
            first.close()
            second.close()


def test_redis_slots_of_a_killed_process_free_themselves(tmp_path: Path) -> None:
    with redis_space() as space:
        holder = textwrap.dedent(f"""
            import time
            from pathlib import Path
            from sqlgate.auth.concurrency import ConcurrencyLimiter
            from sqlgate.settings import Settings
            settings = Settings(
                data_dir=Path({str(tmp_path)!r}), org_max_concurrent_queries=1,
                redis_url={space.url!r}, redis_key_prefix={space.prefix!r},
            )
            slot = ConcurrencyLimiter(settings, lease=1.0).acquire("org_1")
            print("held", flush=True)
            time.sleep(60)
        """)
        proc = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
            limiter = redis_limiter(tmp_path, space, cap=1, lease=1.0)
            with pytest.raises(RateLimitExceeded):
                limiter.acquire("org_1")
            time.sleep(1.5)  # the holder renews its lease while it lives
            with pytest.raises(RateLimitExceeded):
                limiter.acquire("org_1")
            proc.kill()  # no release, no clean-up: a crash
            proc.wait(5)
            killed = time.monotonic()
            while True:
                try:
                    limiter.acquire("org_1").release()
                    break
                except RateLimitExceeded:
                    assert time.monotonic() - killed < 3, "the crashed process's slot stayed"
                    time.sleep(0.1)
            limiter.close()
        finally:
            proc.kill()
            proc.wait(5)


def test_redis_down_refuses_with_503(tmp_path: Path) -> None:
    limiter = ConcurrencyLimiter(make_settings(tmp_path, redis_url=DEAD_REDIS_URL))
    with pytest.raises(ServiceUnavailable) as refused:
        limiter.acquire("org_1")
    assert refused.value.status == 503 and refused.value.headers["Retry-After"] == "5"
    # No cap for the organization: nothing to ask Redis.
    free = ConcurrencyLimiter(
        make_settings(tmp_path, redis_url=DEAD_REDIS_URL, org_max_concurrent_queries=0)
    )
    free.acquire("org_1").release()
