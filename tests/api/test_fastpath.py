"""The execute route's fast path (api/fastpath.py) answers exactly as the route does.

Each request is sent twice: first with the key's check forgotten, so the fast path hands it to
the route (which checks the key and caches it), then again, answered by the fast path. Status,
body (bar the timing) and the headers a client reads must be the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

import sqlgate.api.deps as deps
from tests.conftest import Env, open_env

env_with = contextmanager(open_env)


@pytest.fixture
def route_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts requests that went through the route's key dependency (as far as its budgets)."""
    calls: list[int] = []
    original = deps.admit

    async def counting(*args: Any) -> None:
        calls.append(1)
        await original(*args)

    monkeypatch.setattr(deps, "admit", counting)
    return calls


def _comparable(response: httpx.Response) -> tuple[int, Any, dict[str, str]]:
    body = response.json()
    if isinstance(body, dict):
        body.pop("execution_time_ms", None)
    headers = {k: v for k, v in response.headers.items() if k in ("content-type", "retry-after")}
    return response.status_code, body, headers


def _both(env: Env, route_calls: list[int], path: str, **kwargs: Any) -> httpx.Response:
    env.org.services.authenticator.forget()
    before = len(route_calls)
    by_route = env.client.post(path, **kwargs)
    assert len(route_calls) == before + 1  # the route answered the uncached key
    fast = env.client.post(path, **kwargs)
    assert len(route_calls) == before + 1  # the fast path answered the cached one
    assert _comparable(fast) == _comparable(by_route), (fast.text, by_route.text)
    return fast


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    # A long key cache: the fast path only takes cached keys, and a slow first query (an engine
    # opening on a busy machine) must not let the route's check expire before the second send.
    yield from open_env(tmp_path_factory.mktemp("fastpath"), auth_cache_seconds=300)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"query": "SELECT 1 AS one, 'a' AS two"}, 200),
        ({"query": "SELECT id FROM users ORDER BY id", "row_limit": 2}, 200),
        ({"query": "DROP TABLE users"}, 422),
        ({"query": "SELEC 1"}, 422),
        ({"query": "SELECT $x AS x"}, 422),
        ({"query": "SELECT $x AS x", "params": {"x": 5}}, 200),
        ({"query": "SELECT * FROM no_such_table"}, 400),
    ],
)
def test_same_answer_as_the_route(
    env: Env, route_calls: list[int], body: dict[str, Any], status: int
) -> None:
    r = _both(env, route_calls, "/api/v1/query/duck", json=body, headers=env.org.headers())
    assert r.status_code == status, r.text


def test_x_api_key_and_unknown_connection(env: Env, route_calls: list[int]) -> None:
    headers = {"X-API-Key": env.org.key}
    ok = _both(env, route_calls, "/api/v1/query/lite", json={"query": "SELECT 1"}, headers=headers)
    assert ok.json()["rows"] == [[1]]
    missing = _both(
        env, route_calls, "/api/v1/query/nope", json={"query": "SELECT 1"}, headers=headers
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_a_key_without_the_scope_is_refused_alike(env: Env, route_calls: list[int]) -> None:
    key = env.org.key_with("query:validate")
    r = _both(
        env, route_calls, "/api/v1/query/duck", json={"query": "SELECT 1"},
        headers=env.org.headers(key),
    )  # fmt: skip
    assert r.status_code == 403 and r.json()["error"]["code"] == "authorization_error"


def test_what_the_fast_path_leaves_to_the_route(env: Env, route_calls: list[int]) -> None:
    headers = env.org.headers()
    env.client.post("/api/v1/query/duck", json={"query": "SELECT 1"}, headers=headers)
    bad = env.client.post(
        "/api/v1/query/duck", content=b'{"query": "SELECT 1", "row_limit": 0}', headers=headers
    )
    assert bad.status_code == 422 and "row_limit" in bad.json()["error"]["message"]
    broken = env.client.post("/api/v1/query/duck", content=b'{"query": ', headers=headers)
    assert broken.json()["error"]["message"].startswith("The request body is not valid JSON")
    other_org = env.client.post(
        "/api/v1/query/duck", json={"query": "SELECT 1"}, headers={**headers, "X-ORG-ID": "x"}
    )
    assert other_org.status_code == 403


def test_rate_limit_429_alike(tmp_path: Path, route_calls: list[int]) -> None:
    with env_with(tmp_path, rate_limits={"query": "3/minute"}, auth_cache_seconds=300) as env:
        headers = env.org.headers()
        ok = _both(
            env, route_calls, "/api/v1/query/duck", json={"query": "SELECT 1"}, headers=headers
        )
        assert ok.status_code == 200
        fast = env.client.post("/api/v1/query/duck", json={"query": "SELECT 1"}, headers=headers)
        assert fast.status_code == 200
        refused = env.client.post("/api/v1/query/duck", json={"query": "SELECT 1"}, headers=headers)
        env.org.services.authenticator.forget()
        by_route = env.client.post(
            "/api/v1/query/duck", json={"query": "SELECT 1"}, headers=headers
        )
        for r in (refused, by_route):
            assert r.status_code == 429
            assert r.headers["Retry-After"] == str(r.json()["error"]["retry_after"])
        a, b = refused.json()["error"], by_route.json()["error"]
        assert {k: v for k, v in a.items() if k != "retry_after"} == {
            k: v for k, v in b.items() if k != "retry_after"
        }
