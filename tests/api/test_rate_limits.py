"""Rate limits and the concurrent-query cap as a client sees them: the 429 body and header,
which budget ran out, a 503 when the shared store is down, slots held for a query's run."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from sqlgate.errors import RateLimitExceeded
from sqlgate.services.query import QueryRequest
from tests.conftest import Env, open_env
from tests.redis_services import DEAD_REDIS_URL

env_with = contextmanager(open_env)

# Runs until its timeout stops it (SQLite, connection "lite").
ENDLESS = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r"
# Streams rows for as long as someone reads them.
MANY_ROWS = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n FROM r"


def query(env: Env, key: str | None = None, sql: str = "SELECT 1 AS one", **body: Any) -> Any:
    return env.client.post(
        "/api/v1/query/duck", json={"query": sql, **body}, headers=env.org.headers(key)
    )


def assert_429(response: httpx.Response, budget: str) -> dict[str, Any]:
    assert response.status_code == 429, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "rate_limit_exceeded" and error["budget"] == budget
    assert response.headers["Retry-After"] == str(error["retry_after"])
    assert int(response.headers["Retry-After"]) >= 1
    return error


def test_key_budget_429_shape(tmp_path: Path) -> None:
    with env_with(tmp_path, rate_limits={"query": "2/minute"}) as env:
        assert [query(env).status_code for _ in range(2)] == [200, 200]
        error = assert_429(query(env), "key")
        assert error["group"] == "query" and error["limit"] == "2/minute"
        assert 1 <= error["retry_after"] <= 60
        assert "API key's budget for the query route group (2/minute)" in error["message"]
        # Validation counts in the same group; other groups and other keys are untouched.
        r = env.client.post(
            "/api/v1/query/duck/validate", json={"query": "SELECT 1"}, headers=env.org.headers()
        )
        assert_429(r, "key")
        assert env.client.get("/v1/connections", headers=env.org.headers()).status_code == 200
        assert query(env, env.org.key_with("query:execute")).status_code == 200


def test_org_budget_is_shared_by_keys_and_named_in_the_429(tmp_path: Path) -> None:
    with env_with(tmp_path, org_rate_limits={"query": "3/minute"}) as env:
        keys = [env.org.key, env.org.key_with("query:execute"), env.org.key_with("query:execute")]
        statuses = [query(env, keys[i % 3]).status_code for i in range(6)]
        assert statuses == [200, 200, 200, 429, 429, 429]
        error = assert_429(query(env, keys[0]), "org")
        assert "organization's budget for the query route group (3/minute)" in error["message"]
        assert env.client.get("/v1/connections", headers=env.org.headers()).status_code == 200


def test_org_override_by_slug(tmp_path: Path) -> None:
    with env_with(
        tmp_path,
        org_rate_limits={"query": "100/minute"},
        org_rate_limits_by_org={"acme": {"query": "1/minute"}},
    ) as env:
        assert env.org.slug == "acme"
        assert query(env).status_code == 200
        assert assert_429(query(env), "org")["limit"] == "1/minute"


def test_admin_sql_budget_is_per_member(tmp_path: Path) -> None:
    with env_with(tmp_path, rate_limits={"admin_sql": "2/minute"}) as env:
        second_key = env.org.key_with("admin")  # the same member (the owner)

        def admin_sql(key: str | None = None) -> httpx.Response:
            return env.client.post(
                f"/v1/{env.org.slug}/admin/sql_query",
                json={"sql_query": "SELECT 1", "async_query": False},
                headers=env.org.headers(key),
            )

        assert admin_sql().status_code == 200
        assert admin_sql(second_key).status_code == 200
        error = assert_429(admin_sql(second_key), "member")
        assert "member's budget for the admin_sql route group" in error["message"]


def test_redis_down_is_a_503_not_a_500(tmp_path: Path) -> None:
    with env_with(tmp_path, redis_url=DEAD_REDIS_URL) as env:
        r = query(env)
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "service_unavailable"
        assert "SQLGATE_REDIS_URL" in r.json()["error"]["message"]
        assert r.headers["Retry-After"] == "5"


def wait_for(condition: Callable[[], bool], seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[Env]:
    with env_with(tmp_path, org_max_concurrent_queries=1) as env:
        yield env


def running(env: Env) -> int:
    return env.org.services.slots.running(env.org.id)


def test_long_query_holds_its_slot_and_a_failed_one_frees_it(capped: Env) -> None:
    env = capped
    outcome: dict[str, Any] = {}

    def slow() -> None:
        r = env.client.post(
            "/api/v1/query/lite",
            json={"query": ENDLESS, "timeout": 1.5},
            headers=env.org.headers(),
        )
        outcome.update(status=r.status_code, code=r.json()["error"]["code"])

    worker = threading.Thread(target=slow)
    worker.start()
    wait_for(lambda: running(env) == 1)
    started = time.monotonic()
    refused = query(env)  # another key would be refused the same: the cap is the org's
    assert time.monotonic() - started < 0.5  # at once, not after the slow query
    error = assert_429(refused, "org_concurrency")
    assert error["limit"] == "1 running queries" and refused.headers["Retry-After"] == "1"
    assert_429(query(env, env.org.key_with("query:execute")), "org_concurrency")
    worker.join(10)
    assert outcome == {"status": 504, "code": "timeout"}  # failed, and gave its slot back
    assert running(env) == 0
    assert query(env).status_code == 200
    # A statement the database refuses gives its slot back too.
    failed = query(env, sql="SELECT * FROM no_such_table")
    assert failed.status_code == 400 and failed.json()["error"]["code"] == "query_error"
    assert running(env) == 0
    assert query(env).status_code == 200


def test_cap_refusals_are_in_the_audit_history(capped: Env) -> None:
    env = capped
    services = env.org.services
    principal = services.authenticator.authenticate(env.org.key)
    stream = services.queries.export(principal, "lite", QueryRequest(MANY_ROWS, None, None, 10))
    try:
        assert_429(query(env, sql="SELECT 42 AS refused_by_the_cap"), "org_concurrency")
    finally:
        stream.close()
    services.audit.flush()
    r = env.client.get("/v1/audit", params={"status": "error"}, headers=env.org.headers())
    events = [e for e in r.json()["data"] if "refused_by_the_cap" in (e.get("sql") or "")]
    assert len(events) == 1 and events[0]["error_code"] == "rate_limit_exceeded"


def test_streamed_export_holds_its_slot_until_closed(capped: Env) -> None:
    env = capped
    services = env.org.services
    principal = services.authenticator.authenticate(env.org.key)

    def export(sql: str = MANY_ROWS, limit: int | None = None) -> Any:
        request = QueryRequest(sql, None, limit, 10)
        return services.queries.export(principal, "lite", request)

    # Read to the end: the slot is held while rows flow, given back when the stream ends.
    stream = export("SELECT n FROM (" + MANY_ROWS + ") LIMIT 50000")
    assert running(env) == 1
    rows = 0
    for batch in stream:
        assert running(env) == 1
        assert_429(query(env), "org_concurrency")
        rows += batch.num_rows
    assert rows == 50000 and running(env) == 0

    # Partly read, then closed (what the HTTP layer does when the client goes away).
    stream = export()
    batches = iter(stream)
    next(batches)
    assert running(env) == 1
    with pytest.raises(RateLimitExceeded):
        export()
    stream.close()
    assert running(env) == 0

    # Never read nor closed, only dropped: still given back.
    stream = export()
    assert running(env) == 1
    del stream
    gc.collect()
    wait_for(lambda: running(env) == 0)
    assert query(env).status_code == 200


def test_export_refused_past_the_cap_over_http(capped: Env) -> None:
    env = capped
    services = env.org.services
    principal = services.authenticator.authenticate(env.org.key)
    stream = services.queries.export(principal, "lite", QueryRequest(MANY_ROWS, None, None, 10))
    try:
        r = env.client.post(
            "/api/v1/query/lite/export",
            params={"format": "csv"},
            json={"query": "SELECT 1"},
            headers=env.org.headers(),
        )
        assert_429(r, "org_concurrency")
        r = env.client.post(
            f"/v1/{env.org.slug}/admin/sql_query",
            json={"sql_query": "SELECT 1", "async_query": False},
            headers=env.org.headers(),
        )
        assert_429(r, "org_concurrency")
    finally:
        stream.close()
    r = env.client.post(
        "/api/v1/query/lite/export",
        params={"format": "csv"},
        json={"query": "SELECT 1 AS one"},
        headers=env.org.headers(),
    )
    assert r.status_code == 200 and r.text.splitlines() == ['"one"', "1"]
    assert running(env) == 0
