"""Shared connections through the API: a granted connection works in the organization under
its name (list, query, schema, validate, questions), never shows where it points, cannot be
changed there, and is gone at once when revoked. Organizations without a grant see nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sqlgate.services import orgs
from tests.conftest import CHINOOK_SQLITE, Env, open_env


@dataclass
class World:
    env: Env
    shared_id: str
    path: str
    a: dict[str, str]  # headers of an owner of the org it is granted to
    b: dict[str, str]  # ... of an org it is not granted to
    a_org: str
    b_org: str


def _headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    warehouse = tmp_path / "warehouse.sqlite"
    warehouse.write_bytes(CHINOOK_SQLITE.read_bytes())
    for env in open_env(tmp_path / "data"):
        services = env.org.services
        shared = services.shared_connections.add(
            name="warehouse", type="sqlite", database=str(warehouse)
        )
        a = orgs.create_organization(services.store, name="Tenant A", owner_email="a@a.test")
        b = orgs.create_organization(services.store, name="Tenant B", owner_email="b@b.test")
        assert a.key is not None and b.key is not None
        services.shared_connections.grant("warehouse", a.org_slug, name="data")
        yield World(
            env, shared.id, str(warehouse), _headers(a.key.api_key), _headers(b.key.api_key),
            a.org_id, b.org_id,
        )  # fmt: skip


def _count_artists(path: str) -> int:
    with sqlite3.connect(path) as con:
        return int(con.execute("SELECT count(*) FROM Artist").fetchone()[0])


def test_a_granted_connection_is_listed_without_where_it_points(world: World) -> None:
    client = world.env.client
    listed = client.get("/v1/connections", headers=world.a).json()["data"]
    [conn] = listed
    assert conn["name"] == "data" and conn["id"] == world.shared_id and conn["shared"] is True
    assert conn["is_default"] is True  # its first connection
    for hidden in ("database", "host", "port", "username", "ssl_mode"):
        assert conn[hidden] is None, hidden
    assert conn["password_set"] is False
    for ref in ("data", world.shared_id):
        got = client.get(f"/v1/connections/{ref}", headers=world.a)
        assert got.status_code == 200 and got.json()["data"] == conn
    everything = " ".join(
        client.get(path, headers=world.a).text
        for path in ("/v1/connections", "/v1/connections/data", "/v1/connections/data/schema")
    )
    assert world.path not in everything and "warehouse.sqlite" not in everything
    tested = client.post("/v1/connections/data/test", headers=world.a)
    assert tested.status_code == 200, tested.text
    assert world.path not in tested.text


def test_query_schema_validate_and_questions_work_under_the_granted_name(world: World) -> None:
    client = world.env.client
    expected = _count_artists(world.path)
    ran = client.post("/api/v1/query/data", json={"query": "SELECT count(*) FROM Artist"},
                      headers=world.a)  # fmt: skip
    assert ran.status_code == 200, ran.text
    assert ran.json()["rows"] == [[expected]]
    run_sql = client.post("/api/v1/run_sql", json={"sql": "SELECT count(*) AS n FROM Artist"},
                          headers=world.a)  # fmt: skip
    assert run_sql.status_code == 200, run_sql.text  # the default connection: the grant
    schema = client.get("/v1/connections/data/schema", headers=world.a)
    assert schema.status_code == 200
    tables = {t["name"] for s in schema.json()["data"]["schemas"] for t in s["tables"]}
    assert {"Artist", "Album", "Invoice"} <= tables
    valid = client.post("/api/v1/query/data/validate", json={"query": "SELECT * FROM Artist"},
                        headers=world.a)  # fmt: skip
    assert valid.status_code == 200 and valid.json()["is_valid"] is True
    asked = client.post(
        "/v1/queries",
        json={"question": "How many artists are there?", "connection_id": "data"},
        headers=world.a,
    )
    assert asked.status_code == 200, asked.text
    assert asked.json()["data"]["results"]["rows"] == [[expected]]


def test_the_organization_cannot_change_or_delete_it(world: World) -> None:
    client = world.env.client
    for method, path, body in [
        ("PATCH", "/v1/connections/data", {"name": "mine"}),
        ("PATCH", "/v1/connections/data", {"database": "/etc/passwd"}),
        ("DELETE", "/v1/connections/data", None),
        ("PUT", "/v1/connections/data/semantic_model",
         {"models": [{"name": "artists", "table": "Artist", "columns": [{"name": "Name"}]}]}),
    ]:  # fmt: skip
        r = client.request(method, path, json=body, headers=world.a)
        assert r.status_code == 403, (method, path, r.text)
        assert "shared by the operator" in r.json()["error"]["message"]
    assert client.get("/v1/connections/data", headers=world.a).json()["data"]["name"] == "data"
    # Its name is taken in the organization: creating another under it is a 409.
    r = client.post(
        "/v1/connections",
        json={"name": "data", "type": "duckdb", "database": "corpus.duckdb"},
        headers=world.a,
    )
    assert r.status_code == 409, r.text


def test_an_organization_without_a_grant_sees_nothing(world: World) -> None:
    client = world.env.client
    assert client.get("/v1/connections", headers=world.b).json()["data"] == []
    for ref in ("data", "warehouse", world.shared_id):
        assert client.get(f"/v1/connections/{ref}", headers=world.b).status_code == 404
        r = client.post(f"/api/v1/query/{ref}", json={"query": "SELECT 1"}, headers=world.b)
        assert r.status_code == 404, r.text
    # Nor does the first organization, which has connections of its own.
    own = client.get("/v1/connections", headers=world.env.org.headers()).json()["data"]
    assert world.shared_id not in {c["id"] for c in own}


def test_revoke_takes_effect_at_once_and_a_regrant_can_rename(world: World) -> None:
    client = world.env.client
    shared = world.env.org.services.shared_connections
    body = {"query": "SELECT 1 AS one"}
    assert client.post("/api/v1/query/data", json=body, headers=world.a).status_code == 200
    shared.revoke("warehouse", world.a_org)
    assert client.post("/api/v1/query/data", json=body, headers=world.a).status_code == 404
    assert client.get("/v1/connections/data", headers=world.a).status_code == 404
    assert client.get("/v1/connections", headers=world.a).json()["data"] == []
    r = client.post("/api/v1/run_sql", json={"sql": "SELECT 1"}, headers=world.a)
    assert r.status_code == 404  # no default connection any more
    shared.grant("warehouse", world.b_org, name="dw")
    assert client.post("/api/v1/query/dw", json=body, headers=world.b).status_code == 200
    assert client.post("/api/v1/query/dw", json=body, headers=world.a).status_code == 404


def test_grant_conflicts_and_unknowns(world: World) -> None:
    from sqlgate.errors import Conflict, NotFound

    shared = world.env.org.services.shared_connections
    with pytest.raises(Conflict):
        shared.grant("warehouse", world.a_org)  # already granted
    world.env.org.services.connections.create(
        world.b_org, name="taken", type="duckdb", database="corpus.duckdb"
    )
    with pytest.raises(Conflict):
        shared.grant("warehouse", world.b_org, name="taken")
    with pytest.raises(NotFound):
        shared.grant("nope", world.b_org)
    with pytest.raises(NotFound):
        shared.grant("warehouse", "no-such-org")
    with pytest.raises(NotFound):
        shared.revoke("warehouse", world.b_org)  # never granted there
    # A shared connection is not an organization connection of the operator's either.
    with pytest.raises(NotFound):
        shared.grant("warehouse", "-platform")


def test_removing_a_shared_connection_removes_it_everywhere(world: World) -> None:
    client = world.env.client
    shared = world.env.org.services.shared_connections
    shared.grant("warehouse", world.b_org)
    shared.remove("warehouse")
    for headers in (world.a, world.b):
        assert client.get("/v1/connections", headers=headers).json()["data"] == []
    assert shared.grants() == []


def test_the_operator_api_grants_and_revokes_at_once(world: World) -> None:
    from sqlgate.services import operator_keys

    client = world.env.client
    _, secret = operator_keys.create(world.env.org.services.store, "grants")
    ops = _headers(secret)
    base = "/v1/platform/connections"
    [listed] = client.get(base, headers=ops).json()["data"]
    assert listed["name"] == "warehouse" and [g["name"] for g in listed["grants"]] == ["data"]
    assert world.path not in client.get(base, headers=ops).text  # a list, not a settings page
    assert client.get(base, headers=world.a).status_code == 403  # an organization's key
    body = {"query": "SELECT 1"}
    assert client.post("/api/v1/query/wh", json=body, headers=world.b).status_code == 404
    r = client.post(f"{base}/warehouse/grants", json={"org": world.b_org, "name": "wh"},
                    headers=ops)  # fmt: skip
    assert r.status_code == 201 and r.json()["data"]["name"] == "wh", r.text
    assert client.post("/api/v1/query/wh", json=body, headers=world.b).status_code == 200
    again = client.post(f"{base}/warehouse/grants", json={"org": world.b_org}, headers=ops)
    assert again.status_code == 409
    unknown = client.post(f"{base}/nope/grants", json={"org": world.b_org}, headers=ops)
    assert unknown.status_code == 404
    bad = client.post(f"{base}/warehouse/grants", json={"org": world.b_org, "name": ""},
                      headers=ops)  # fmt: skip
    assert bad.status_code == 422
    # The query path remembers lookups for a second; a revoke here forgets them at once.
    assert client.delete(f"{base}/warehouse/grants/{world.b_org}", headers=ops).status_code == 204
    assert client.post("/api/v1/query/wh", json=body, headers=world.b).status_code == 404
    assert client.delete(f"{base}/warehouse/grants/{world.b_org}", headers=ops).status_code == 404
    assert client.post("/api/v1/query/data", json=body, headers=world.a).status_code == 200
