"""`/v1/connections` for file databases, and rate limits."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from tests.conftest import CHINOOK_SQLITE, Env, Org, open_env


def test_create_list_get_delete(client: TestClient, org: Org, env: Env) -> None:
    target = env.settings.data_dir / "databases" / "chinook-copy.sqlite"
    shutil.copy(CHINOOK_SQLITE, target)
    r = client.post(
        "/v1/connections",
        json={"type": "sqlite", "name": "music", "database": "chinook-copy.sqlite"},
        headers=org.headers(),
    )
    assert r.status_code == 201, r.text
    created = r.json()["data"]
    assert created["id"].startswith("conn_") and created["password_set"] is False
    listed = client.get("/v1/connections", headers=org.headers()).json()["data"]
    assert "music" in [c["name"] for c in listed]
    assert (
        client.get(f"/v1/connections/{created['id']}", headers=org.headers()).json()["data"]["name"]
        == "music"
    )
    q = client.post(
        "/api/v1/query/music", json={"query": "SELECT count(*) FROM Artist"}, headers=org.headers()
    )
    assert q.json()["rows"] == [[275]]
    dup = client.post(
        "/v1/connections",
        json={"type": "sqlite", "name": "music", "database": "chinook-copy.sqlite"},
        headers=org.headers(),
    )
    assert dup.status_code == 409
    assert (
        client.delete(f"/v1/connections/{created['id']}", headers=org.headers()).status_code == 204
    )
    assert client.get(f"/v1/connections/{created['id']}", headers=org.headers()).status_code == 404
    assert (
        client.post(
            "/api/v1/query/music", json={"query": "SELECT 1"}, headers=org.headers()
        ).status_code
        == 404
    )


def test_paths_outside_data_roots_are_refused(client: TestClient, org: Org, env: Env) -> None:
    for database in [
        "/etc/passwd",
        "../sqlgate.db",
        str(env.settings.data_dir / "sqlgate.db"),
        "../../../../etc/hosts",
    ]:
        r = client.post(
            "/v1/connections",
            json={"type": "sqlite", "name": "evil", "database": database},
            headers=org.headers(),
        )
        assert r.status_code == 422, (database, r.text)
        assert r.json()["error"]["code"] == "validation_error"


def test_not_a_database_and_unsupported_type(client: TestClient, org: Org, env: Env) -> None:
    junk = env.settings.data_dir / "databases" / "junk.duckdb"
    junk.write_bytes(b"this is not a database" * 100)
    for body in [
        {"type": "duckdb", "name": "junk", "database": "junk.duckdb"},
        {"type": "sqlite", "name": "junk", "database": "junk.duckdb"},
        {"type": "postgresql", "name": "pg", "host": "localhost"},
        {"type": "oracle", "name": "x"},
    ]:
        r = client.post("/v1/connections", json=body, headers=org.headers())
        assert r.status_code == 422, (body, r.text)
    names = [c["name"] for c in client.get("/v1/connections", headers=org.headers()).json()["data"]]
    assert "junk" not in names and "pg" not in names


def test_editor_cannot_manage_connections(client: TestClient, org: Org) -> None:
    key = org.key_with("query:execute", "connections:read")
    assert client.get("/v1/connections", headers=org.headers(key)).status_code == 200
    r = client.post(
        "/v1/connections",
        json={"type": "sqlite", "name": "x", "database": "x"},
        headers=org.headers(key),
    )
    assert r.status_code == 403


def test_rate_limit_with_retry_after(tmp_path: Path) -> None:
    for env in open_env(tmp_path, rate_limits={"admin_sql": "6/minute"}):
        statuses = []
        for _ in range(8):
            r = env.client.post(
                f"/v1/{env.org.id}/admin/sql_query",
                json={"sql_query": "SELECT 1", "async_query": False},
                headers=env.org.headers(),
            )
            statuses.append(r.status_code)
        assert statuses == [200] * 6 + [429] * 2
        assert int(r.headers["Retry-After"]) >= 1
        assert r.json()["error"]["code"] == "rate_limit_exceeded"
        # Other route groups have their own budget.
        ok = env.client.post(
            "/api/v1/query/duck", json={"query": "SELECT 1"}, headers=env.org.headers()
        )
        assert ok.status_code == 200
