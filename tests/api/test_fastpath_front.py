"""The execute fast path sits in front of the middleware: it answers only what the middleware
would let through unchanged, and every other execute request still meets the body size limit,
the JSON reading of bodies without a JSON content type, and the text checks. It also renews a
key's cached check before it runs out.

Each request is sent with a key the fast path knows (cached); the route's key dependency counts
the requests that reached the route.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import update

import sqlgate.api.deps as deps
from sqlgate.store.models import ApiKey
from tests.conftest import Env, open_env

MAX_BODY = 2048
PATH = "/api/v1/query/lite"


@pytest.fixture
def route_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = deps.admit

    async def counting(*args: Any) -> None:
        calls.append(1)
        await original(*args)

    monkeypatch.setattr(deps, "admit", counting)
    return calls


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield from open_env(
        tmp_path_factory.mktemp("front"), auth_cache_seconds=300, max_body_bytes=MAX_BODY
    )


@pytest.fixture
def headers(env: Env) -> dict[str, str]:
    """An owner key whose check is cached (so the fast path may take its requests)."""
    warm = env.client.post(PATH, json={"query": "SELECT 1"}, headers=env.org.headers())
    assert warm.status_code == 200
    return env.org.headers()


def test_a_cached_key_is_answered_without_the_route(
    env: Env, headers: dict[str, str], route_calls: list[int]
) -> None:
    r = env.client.post(PATH, json={"query": "SELECT 2 AS two"}, headers=headers)
    assert r.status_code == 200 and r.json()["rows"] == [[2]]
    assert route_calls == []


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded"])
def test_json_without_a_json_content_type_is_read_as_json(
    env: Env, headers: dict[str, str], route_calls: list[int], content_type: str | None
) -> None:
    sent = {**headers, **({"Content-Type": content_type} if content_type else {})}
    r = env.client.post(PATH, content=b'{"query": "SELECT 3 AS three"}', headers=sent)
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == [[3]]
    assert route_calls == []  # answered in front, as the middleware would have let it through


def test_a_body_over_the_limit_is_refused(env: Env, headers: dict[str, str]) -> None:
    big = "SELECT 1 -- " + "x" * MAX_BODY
    r = env.client.post(PATH, json={"query": big}, headers=headers)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"


def test_a_streamed_body_over_the_limit_is_refused(env: Env, headers: dict[str, str]) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the size shows only as it arrives
        yield b'{"query": "SELECT 1 -- '
        for _ in range(4):
            yield b"x" * 1024
        yield b'"}'

    r = env.client.post(
        PATH, content=chunks(), headers={**headers, "Content-Type": "application/json"}
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize(
    "body",
    [b'{"query": "SELECT \'\\udc80\'"}', b'{"query": "SELECT \'\xff\'"}'],
    ids=["lone surrogate", "not UTF-8"],
)
def test_text_that_cannot_be_encoded_is_a_validation_error(
    env: Env, headers: dict[str, str], body: bytes
) -> None:
    r = env.client.post(PATH, content=body, headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error", r.text


def test_a_repeated_key_header_goes_to_the_route(
    env: Env, headers: dict[str, str], route_calls: list[int]
) -> None:
    key = headers["Authorization"].removeprefix("Bearer ")
    r = env.client.post(
        PATH,
        content=b'{"query": "SELECT 4"}',
        headers=[("Content-Type", "application/json"), ("X-API-Key", key), ("X-API-Key", "x")],
    )
    assert r.status_code == 200 and r.json()["rows"] == [[4]]
    assert route_calls == [1]


def test_a_key_in_steady_use_stays_checked_and_a_revoked_one_stops(
    tmp_path_factory: pytest.TempPathFactory, route_calls: list[int]
) -> None:
    """The key's check is renewed in the background before it runs out, so a key in steady
    use never falls back to the route; a key revoked in the store (by another process: no
    cache is told) is refused within the cache time all the same."""
    ttl = 0.4
    for env in open_env(tmp_path_factory.mktemp("refresh"), auth_cache_seconds=ttl):
        headers = env.org.headers()
        assert env.client.post(PATH, json={"query": "SELECT 1"}, headers=headers).status_code == 200
        first = len(route_calls)
        until = time.monotonic() + 5 * ttl
        while time.monotonic() < until:
            r = env.client.post(PATH, json={"query": "SELECT 1"}, headers=headers)
            assert r.status_code == 200
            time.sleep(ttl / 8)
        assert len(route_calls) == first  # never expired while in use
        with env.org.services.store.engine.begin() as db:
            db.execute(update(ApiKey).values(revoked_at=datetime.now(UTC)))
        time.sleep(ttl)
        r = env.client.post(PATH, json={"query": "SELECT 1"}, headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "authentication_error"
