"""`GET /v1/audit`: filters, keyset pages, scope, tenant isolation, bad input, retention."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from sqlgate.services import orgs
from sqlgate.services.audit_query import prune
from sqlgate.store.models import AuditEvent, Member, Organization, new_id
from tests.conftest import Env, open_env

SECRET = "s3cret-pw-never-shown"


@pytest.fixture(scope="module")
def aenv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """An org that ran a few queries (ok, failed, refused) and changed a connection."""
    for env in open_env(tmp_path_factory.mktemp("audit")):
        h = env.org.headers()
        for sql in (
            "SELECT 1 AS a",
            "SELECT 2 AS b",
            "SELECT nope FROM users",
            "DELETE FROM users",
        ):
            env.client.post("/api/v1/query/duck", json={"query": sql}, headers=h)
        env.client.post("/api/v1/query/lite", json={"query": "SELECT 3 AS c"}, headers=h)
        r = env.client.patch("/v1/connections/lite", json={"password": SECRET}, headers=h)
        assert r.status_code == 422, r.text  # file databases take no password; still audited
        yield env


def _list(env: Env, key: str | None = None, **params: Any) -> dict[str, Any]:
    r = env.client.get("/v1/audit", params=params, headers=env.org.headers(key))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _conn_id(env: Env, name: str) -> str:
    r = env.client.get(f"/v1/connections/{name}", headers=env.org.headers())
    return str(r.json()["data"]["id"])


def test_lists_queries_and_changes_newest_first(aenv: Env) -> None:
    body = _list(aenv)
    events = body["data"]
    assert body["next_cursor"] is None
    actions = [e["action"] for e in events]
    assert actions.count("query.execute") == 5
    assert "connection.update" in actions and "connection.create" in actions
    assert [e["id"] for e in events] == sorted((e["id"] for e in events), reverse=True)
    first = next(e for e in events if e["sql"] == "SELECT 1 AS a")
    assert first["status"] == "ok" and first["row_count"] == 1
    assert first["key_id"] and first["member_id"] and first["client"]
    assert datetime.fromisoformat(first["created_at"]).utcoffset() == timedelta(0)
    statuses = {e["sql"]: e["status"] for e in events if e["action"] == "query.execute"}
    assert statuses["SELECT nope FROM users"] == "error"
    assert statuses["DELETE FROM users"] == "rejected"
    assert SECRET not in str(body) and "password" not in str(body)


def test_each_filter(aenv: Env) -> None:
    duck, lite = _conn_id(aenv, "duck"), _conn_id(aenv, "lite")
    on_duck = _list(aenv, connection_id=duck)["data"]
    assert on_duck and {e["connection_id"] for e in on_duck} == {duck}
    assert len([e for e in on_duck if e["action"] == "query.execute"]) == 4
    lite_events = _list(aenv, connection_id=lite)["data"]
    assert "connection.update" in {e["action"] for e in lite_events}
    assert [e["sql"] for e in _list(aenv, status="rejected")["data"]] == ["DELETE FROM users"]
    errors = _list(aenv, status="error", action="query.execute")["data"]
    assert [e["error_code"] for e in errors] == ["query_error"]
    updates = _list(aenv, action="connection.update")["data"]
    assert len(updates) == 1 and updates[0]["sql"] is None
    # the refused change is there, with its outcome
    assert (updates[0]["status"], updates[0]["error_code"]) == ("error", "validation_error")
    assert updates[0]["target_id"] is None and updates[0]["detail"] is None

    member = _list(aenv, action="query.execute")["data"][0]["member_id"]
    assert len(_list(aenv, member_id=member, action="query.execute")["data"]) == 5
    assert _list(aenv, member_id="mem_someone_else")["data"] == []

    now = datetime.now(UTC)
    assert len(_list(aenv, since=(now - timedelta(hours=1)).isoformat())["data"]) >= 6
    assert _list(aenv, since=(now + timedelta(hours=1)).isoformat())["data"] == []
    assert _list(aenv, until=(now - timedelta(hours=1)).isoformat())["data"] == []
    naive = (now + timedelta(minutes=5)).replace(tzinfo=None).isoformat()
    assert len(_list(aenv, until=naive)["data"]) == len(_list(aenv)["data"])


def _walk(env: Env, size: int, **params: Any) -> tuple[list[int], int]:
    """Every id over all pages of ``size``, and the number of pages."""
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        body = _list(env, limit=size, **params, **({"cursor": cursor} if cursor else {}))
        assert len(body["data"]) <= size
        seen += [e["id"] for e in body["data"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return seen, pages


def test_pages_cover_everything_once(aenv: Env) -> None:
    everything = [e["id"] for e in _list(aenv, limit=500)["data"]]
    seen, pages = _walk(aenv, 2)
    assert seen == everything and pages == -(-len(everything) // 2)
    ok = [e["id"] for e in _list(aenv, status="ok")["data"]]
    assert _walk(aenv, 1, status="ok") == (ok, len(ok))


def test_needs_admin_scope(aenv: Env) -> None:
    for scopes in (("query:execute", "connections:read"), ("connections:write",)):
        key = aenv.org.key_with(*scopes)
        r = aenv.client.get("/v1/audit", headers=aenv.org.headers(key))
        assert r.status_code == 403 and r.json()["error"]["code"] == "authorization_error"
    assert aenv.client.get("/v1/audit").status_code == 401


def test_other_organizations_are_invisible(aenv: Env) -> None:
    store = aenv.org.services.store
    with store.session() as session:
        other = Organization(id=new_id("org"), name="Other", slug="other-audit")
        session.add(other)
        session.flush()
        session.add(Member(id=new_id("mem"), org_id=other.id, email="o@x.test", role="owner"))
    issued = orgs.create_key(store, other.id, name="other")
    aenv.org.services.connections.create(
        other.id, name="theirs", type="duckdb", database="corpus.duckdb"
    )
    r = aenv.client.post(
        "/api/v1/query/theirs",
        json={"query": "SELECT 'theirs' AS t"},
        headers=aenv.org.headers(issued.api_key),
    )
    assert r.status_code == 200, r.text

    mine = _list(aenv, limit=500)["data"]
    assert all(e["sql"] != "SELECT 'theirs' AS t" for e in mine)
    assert all(e["member_id"] != issued.member_id for e in mine)
    assert _list(aenv, member_id=issued.member_id)["data"] == []
    theirs = _list(aenv, key=issued.api_key)["data"]
    assert {e["action"] for e in theirs} == {"connection.create", "query.execute"}
    assert all(e["member_id"] in (issued.member_id, None) for e in theirs)


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 1000},
        {"limit": "many"},
        {"status": "maybe"},
        {"since": "yesterday"},
        {"until": "2024-13-45"},
        {"cursor": "not-a-cursor!"},
        {"cursor": "WzEsMl0"},  # valid base64 of [1,2]: not a position
        {"cursor": "x" * 300},
    ],
)
def test_bad_parameters_are_422(aenv: Env, params: dict[str, Any]) -> None:
    r = aenv.client.get("/v1/audit", params=params, headers=aenv.org.headers())
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_error"


def test_prune_deletes_only_old_events(aenv: Env) -> None:
    store = aenv.org.services.store
    old = datetime.now(UTC) - timedelta(days=400)
    rows = [
        {"org_id": org_id, "action": "query.execute", "status": "ok", "created_at": old}
        for org_id in (aenv.org.id, "org_elsewhere")
    ]
    with store.session() as session:
        session.execute(insert(AuditEvent), rows)
    before = _list(aenv, limit=500)["data"]
    assert any(e["created_at"].startswith(str(old.year)) for e in before)

    assert prune(store, 365) == 2
    with store.session() as session:
        cutoff = old + timedelta(days=1)
        left = select(func.count()).select_from(AuditEvent).where(AuditEvent.created_at < cutoff)
        assert session.scalar(left) == 0
    after = _list(aenv, limit=500)["data"]
    assert len(after) == len(before) - 1 and after
    assert prune(store, 365) == 0
