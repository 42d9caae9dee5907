"""The security corpus (shared/security/corpus.jsonl) through the HTTP API.

1. With the guard on: every `reject` is refused with a 4xx naming why; every `allow` runs (the
   `[runtime-limit]` ones are stopped by the timeout).
2. With the guard off: the engine-level read-only session alone refuses every `reject` case that
   reaches it, and nothing was written, read from disk or reconfigured.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Env, Org, corpus_cases, open_env

CONNECTIONS = {"duckdb": ["duck"], "sqlite": ["lite"], "any": ["duck", "lite"]}


def expand(expect: str) -> list[tuple[str, str, str]]:
    out = []
    for case in corpus_cases("any", "duckdb", "sqlite"):
        if case["expect"] == expect:
            for conn in CONNECTIONS[case["engine"]]:
                out.append((conn, case["sql"], case["why"]))
    return out


def ids(cases: list[tuple[str, str, str]]) -> list[str]:
    return [f"{conn}:{sql[:40]}" for conn, sql, _ in cases]


REJECT = expand("reject")
ALLOW = expand("allow")


@pytest.mark.parametrize(("conn", "sql", "why"), REJECT, ids=ids(REJECT))
def test_guard_refuses(client: TestClient, org: Org, conn: str, sql: str, why: str) -> None:
    r = client.post(
        f"/api/v1/query/{conn}", json={"query": sql, "timeout": 5}, headers=org.headers()
    )
    assert 400 <= r.status_code < 500, f"{why}: {r.status_code} {r.text}"
    error = r.json()["error"]
    if error["code"] == "query_error":
        # A name that is no table (e.g. a Python object DuckDB could replacement-scan) passes the
        # parser; the engine, with replacement scans off, refuses it as unknown.
        assert "does not exist" in error["message"], error
    else:
        # Empty SQL is refused by the request schema, before the guard.
        allowed = {"sql_not_allowed", "sql_syntax_error"} | (
            {"validation_error"} if not sql else set()
        )
        assert error["code"] in allowed, error
    assert len(error["message"]) > 10


@pytest.mark.parametrize(("conn", "sql", "why"), ALLOW, ids=ids(ALLOW))
def test_guard_allows(client: TestClient, org: Org, conn: str, sql: str, why: str) -> None:
    r = client.post(
        f"/api/v1/query/{conn}", json={"query": sql, "timeout": 1}, headers=org.headers()
    )
    if "[runtime-limit]" in why:
        assert r.status_code == 504, r.text
        assert r.json()["error"]["code"] == "timeout"
    else:
        assert r.status_code == 200, f"{why}: {r.text}"
    v = client.post(f"/api/v1/query/{conn}/validate", json={"query": sql}, headers=org.headers())
    assert v.json()["is_valid"] is True


# Cases the engine cannot refuse because they are not read-only violations but policy: they read
# data the caller's connection can already read. The guard refuses them (tested above).
GUARD_ONLY_POLICY = {
    "SELECT COLUMNS('pw.*') FROM users": "regex column selection; no column allow-list yet",
}

# Files the corpus tries to create.
WRITE_TARGETS = [Path("/tmp/x"), Path("/tmp/out.csv"), Path("/tmp/evil.so")]


@pytest.fixture(scope="module")
def unguarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield from open_env(tmp_path_factory.mktemp("unguarded"), sql_guard=False)


def _fingerprint(env: Env) -> dict[str, str]:
    dbs = env.settings.data_dir / "databases"
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(dbs.iterdir())}


@pytest.mark.parametrize(("conn", "sql", "why"), REJECT, ids=ids(REJECT))
def test_engine_alone_refuses(unguarded: Env, conn: str, sql: str, why: str) -> None:
    before = _fingerprint(unguarded)
    existed = {p: p.exists() for p in WRITE_TARGETS}
    r = unguarded.client.post(
        f"/api/v1/query/{conn}", json={"query": sql, "timeout": 5}, headers=unguarded.org.headers()
    )
    assert r.status_code != 500, r.text
    if sql in GUARD_ONLY_POLICY:
        assert r.status_code == 200
    else:
        assert 400 <= r.status_code < 600 and r.status_code != 200, f"{why}: ran: {r.text}"
        assert r.json()["error"]["code"] in {
            "sql_not_allowed",
            "query_error",
            "timeout",
            "validation_error",
        }
    # Nothing written, nothing created, nothing reconfigured.
    assert _fingerprint(unguarded) == before
    for path, was in existed.items():
        assert path.exists() == was, f"{path} appeared"
    settings = unguarded.client.post(
        "/api/v1/query/duck",
        json={
            "query": "SELECT current_setting('enable_external_access') AS ext, "
            "current_setting('lock_configuration') AS locked, "
            "current_setting('memory_limit') AS mem"
        },
        headers=unguarded.org.headers(),
    ).json()
    ext, locked, _mem = settings["rows"][0]
    assert (ext, locked) == (False, True)
    # Session state does not leak into the next query (temp tables, variables).
    leak = unguarded.client.post(
        "/api/v1/query/duck",
        json={"query": "SELECT count(*) FROM duckdb_tables() WHERE temporary"},
        headers=unguarded.org.headers(),
    ).json()
    assert leak["rows"] == [[0]]


def test_engine_rejects_with_clear_reason(unguarded: Env) -> None:
    r = unguarded.client.post(
        "/api/v1/query/duck",
        json={"query": "SELECT * FROM read_csv('/etc/passwd')"},
        headers=unguarded.org.headers(),
    )
    assert r.status_code == 422
    assert "read-only session" in r.json()["error"]["message"]
    assert os.path.exists("/etc/passwd")
