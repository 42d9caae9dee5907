"""Budgets per key (or member) and per organization, by route group, in memory and on Redis."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pydantic
import pytest

from sqlgate.auth.ratelimit import RateLimiter
from sqlgate.errors import RateLimitExceeded, ServiceUnavailable
from sqlgate.settings import Settings
from tests.conftest import make_settings
from tests.redis_services import DEAD_REDIS_URL, redis_space

BIG = {"query": "100000/minute", "admin_sql": "100000/minute", "default": "100000/minute"}


@pytest.fixture(params=["memory", "redis"])
def storage(request: pytest.FixtureRequest) -> Iterator[dict[str, object]]:
    """Settings overrides for each storage: in process, or a fresh prefix on the local Redis."""
    if request.param == "memory":
        yield {}
        return
    with redis_space() as space:
        yield {"redis_url": space.url, "redis_key_prefix": space.prefix}


def limiter(tmp_path: Path, storage: dict[str, object], **overrides: object) -> RateLimiter:
    return RateLimiter(make_settings(tmp_path, **{**storage, **overrides}))


def outcomes(
    rl: RateLimiter, n: int, group: str, identity: str, org: str | None = None, **kw: str
) -> tuple[int, list[RateLimitExceeded]]:
    ok, refused = 0, []
    for _ in range(n):
        try:
            rl.hit(group, identity, org_id=org, **kw)
            ok += 1
        except RateLimitExceeded as exc:
            refused.append(exc)
    return ok, refused


def test_key_budget_per_group_and_key(tmp_path: Path, storage: dict[str, object]) -> None:
    rl = limiter(tmp_path, storage, rate_limits={"query": "3/minute", "default": "5/minute"})
    ok, refused = outcomes(rl, 5, "query", "key_a", "org_1")
    assert ok == 3 and len(refused) == 2
    body = refused[0].body()["error"]
    assert refused[0].status == 429 and body["code"] == "rate_limit_exceeded"
    assert body["budget"] == "key" and body["group"] == "query" and body["limit"] == "3/minute"
    assert 1 <= body["retry_after"] <= 60
    assert refused[0].headers["Retry-After"] == str(body["retry_after"])
    assert "API key's budget for the query route group" in body["message"]
    # Another key, and another group of the same key, have budgets of their own.
    assert outcomes(rl, 3, "query", "key_b", "org_1")[0] == 3
    assert outcomes(rl, 6, "default", "key_a", "org_1")[0] == 5
    # A group with no entry of its own gets the `default` size, in a window of its own.
    ok, refused = outcomes(rl, 6, "nl", "key_a", "org_1")
    assert ok == 5 and refused[0].body()["error"]["limit"] == "5/minute"


def test_org_budget_is_shared_by_all_its_keys(tmp_path: Path, storage: dict[str, object]) -> None:
    rl = limiter(tmp_path, storage, rate_limits=BIG, org_rate_limits={"query": "4/minute"})
    admitted = 0
    refused: list[RateLimitExceeded] = []
    for i in range(12):
        ok, no = outcomes(rl, 1, "query", f"key_{i % 3}", "org_1")
        admitted += ok
        refused += no
    assert admitted == 4
    assert {e.body()["error"]["budget"] for e in refused} == {"org"}
    assert "organization's budget" in refused[0].message
    # Other organizations, and other groups (no org budget set for them), are untouched.
    assert outcomes(rl, 4, "query", "key_x", "org_2")[0] == 4
    assert outcomes(rl, 10, "default", "key_0", "org_1")[0] == 10


def test_org_overrides_by_id_or_slug(tmp_path: Path, storage: dict[str, object]) -> None:
    rl = limiter(
        tmp_path,
        storage,
        rate_limits=BIG,
        org_rate_limits={"query": "4/minute"},
        org_rate_limits_by_org={
            "org_big": {"query": "7/minute"},
            "tiny-co": {"query": "2/minute"},
            "org_free": {"query": "unlimited"},
            "org_other_groups": {"default": "1/minute"},
        },
    )
    assert outcomes(rl, 10, "query", "k1", "org_plain")[0] == 4
    assert outcomes(rl, 10, "query", "k2", "org_big")[0] == 7
    # By slug: the override is found through the key's organization slug.
    ok, refused = outcomes(rl, 10, "query", "k3", "org_tiny", org_slug="tiny-co")
    assert ok == 2 and refused[0].body()["error"]["limit"] == "2/minute"
    assert outcomes(rl, 50, "query", "k4", "org_free")[0] == 50
    # An org's own entries replace the every-org ones group by group: `query` keeps 4/minute,
    # its other groups get its own `default`.
    assert outcomes(rl, 10, "query", "k5", "org_other_groups")[0] == 4
    assert outcomes(rl, 10, "default", "k5", "org_other_groups")[0] == 1


def test_refused_requests_use_up_no_budget(tmp_path: Path, storage: dict[str, object]) -> None:
    rl = limiter(
        tmp_path, storage, rate_limits={"query": "3/minute"}, org_rate_limits={"query": "5/minute"}
    )
    ok, refused = outcomes(rl, 10, "query", "noisy", "org_1")
    assert ok == 3 and {e.body()["error"]["budget"] for e in refused} == {"key"}
    # The noisy key's seven refusals did not spend the organization's budget: 2 of 5 are left.
    ok, refused = outcomes(rl, 5, "query", "quiet", "org_1")
    assert ok == 2 and {e.body()["error"]["budget"] for e in refused} == {"org"}


def test_org_refusals_do_not_spend_the_key_budget(
    tmp_path: Path, storage: dict[str, object]
) -> None:
    rl = limiter(
        tmp_path, storage, rate_limits={"query": "3/minute"}, org_rate_limits={"query": "2/second"}
    )
    ok, refused = outcomes(rl, 8, "query", "k", "org_1")
    assert ok == 2 and {e.body()["error"]["budget"] for e in refused} == {"org"}
    assert refused[0].body()["error"]["retry_after"] == 1
    time.sleep(1.1)
    # Six refusals later the key still has its third request...
    assert outcomes(rl, 1, "query", "k", "org_1")[0] == 1
    time.sleep(1.1)
    # ...and then its own budget is what runs out.
    ok, refused = outcomes(rl, 1, "query", "k", "org_1")
    assert ok == 0 and refused[0].body()["error"]["budget"] == "key"


def test_several_windows_in_one_limit(tmp_path: Path, storage: dict[str, object]) -> None:
    rl = limiter(tmp_path, storage, rate_limits={"query": "2/second;3/minute"})
    ok, refused = outcomes(rl, 3, "query", "k")
    assert ok == 2 and refused[0].body()["error"]["retry_after"] == 1
    time.sleep(1.1)
    ok, refused = outcomes(rl, 2, "query", "k")
    assert ok == 1  # the minute window is full now, for most of a minute
    assert refused[0].body()["error"]["retry_after"] > 50


def test_member_budget_is_named_in_the_refusal(tmp_path: Path) -> None:
    rl = RateLimiter(make_settings(tmp_path, rate_limits={"admin_sql": "1/minute"}))
    rl.hit("admin_sql", "mem_1", org_id="org_1", per="member")
    with pytest.raises(RateLimitExceeded) as refused:
        rl.hit("admin_sql", "mem_1", org_id="org_1", per="member")
    assert refused.value.body()["error"]["budget"] == "member"
    assert "member's budget" in refused.value.message


def test_disabled_counts_nothing(tmp_path: Path) -> None:
    rl = RateLimiter(
        make_settings(tmp_path, rate_limit_enabled=False, rate_limits={"query": "1/minute"})
    )
    assert outcomes(rl, 5, "query", "k", "org_1")[0] == 5


def test_memory_forgets_identities_whose_windows_passed(tmp_path: Path) -> None:
    rl = RateLimiter(make_settings(tmp_path, rate_limits={"query": "5/second"}))
    store = rl._store
    for i in range(200):
        rl.hit("query", f"key_{i}")
    assert len(store._windows) == 200  # type: ignore[attr-defined]
    time.sleep(1.05)
    store._next_sweep = 0  # type: ignore[attr-defined]  # sweep on the next hit
    rl.hit("query", "key_new")
    assert len(store._windows) == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"rate_limits": {"query": "6/minit"}}, ["SQLGATE_RATE_LIMITS", "'query'", "6/minit"]),
        ({"rate_limits": {"default": "lots"}}, ["SQLGATE_RATE_LIMITS", "'default'", "lots"]),
        ({"org_rate_limits": {"query": "0/minute"}}, ["SQLGATE_ORG_RATE_LIMITS", "0/minute"]),
        ({"org_rate_limits": {"query": ""}}, ["SQLGATE_ORG_RATE_LIMITS", "not a rate limit"]),
        (
            {"org_rate_limits_by_org": {"acme": {"admin_sql": "5 per fortnight"}}},
            ["SQLGATE_ORG_RATE_LIMITS_BY_ORG['acme']", "'admin_sql'", "5 per fortnight"],
        ),
    ],
)
def test_invalid_limits_fail_when_settings_are_built(
    tmp_path: Path, overrides: dict[str, object], names: list[str]
) -> None:
    with pytest.raises(pydantic.ValidationError) as failed:
        Settings(data_dir=tmp_path, **overrides)  # type: ignore[arg-type]
    message = str(failed.value)
    for name in names:
        assert name in message
    assert "N/minute" in message or "smallest limit" in message


def test_invalid_limits_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SQLGATE_ORG_RATE_LIMITS_BY_ORG", '{"acme": {"query": "ten/minute"}}')
    with pytest.raises(pydantic.ValidationError, match="ten/minute"):
        Settings(data_dir=tmp_path)
    monkeypatch.setenv("SQLGATE_ORG_RATE_LIMITS_BY_ORG", '{"acme": {"query": "10/minute"}}')
    monkeypatch.setenv("SQLGATE_ORG_RATE_LIMITS", '{"default": "unlimited"}')
    settings = Settings(data_dir=tmp_path)
    assert settings.org_rate_limits_by_org == {"acme": {"query": "10/minute"}}


def test_redis_two_limiters_never_over_admit(tmp_path: Path) -> None:
    """Two limiters on one Redis stand for two processes; 60 hits at once from 12 threads,
    spread over four keys of one organization: exactly the org budget is admitted."""
    with redis_space() as space:
        settings = make_settings(
            tmp_path,
            rate_limits=BIG,
            org_rate_limits={"query": "20/minute"},
            redis_url=space.url,
            redis_key_prefix=space.prefix,
        )
        first, second = RateLimiter(settings), RateLimiter(settings)
        assert first.blocking
        start = threading.Barrier(12)

        def worker(i: int) -> int:
            start.wait()
            rl = first if i % 2 else second
            return outcomes(rl, 5, "query", f"key_{i % 4}", "org_1")[0]

        with ThreadPoolExecutor(12) as pool:
            assert sum(pool.map(worker, range(12))) == 20


def test_redis_down_refuses_with_503(tmp_path: Path) -> None:
    rl = RateLimiter(make_settings(tmp_path, redis_url=DEAD_REDIS_URL))
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as refused:
        rl.hit("query", "k", org_id="org_1")
    assert time.monotonic() - started < 5
    error = refused.value
    assert error.status == 503 and error.code == "service_unavailable"
    assert error.headers["Retry-After"] == "5"
    assert "SQLGATE_REDIS_URL" in error.message and "127.0.0.1" not in error.message
