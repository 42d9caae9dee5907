"""The operator's API, `/v1/platform/organizations`: only an operator key opens it; typed
attributes; suspend answers 403 at once; delete removes what the organization saved."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Role
from sqlgate.jobs.service import JobSpec
from sqlgate.services import operator_keys, orgs
from sqlgate.store.models import AuditEvent, Connection, Member, new_id
from tests.conftest import Env, open_env

BASE = "/v1/platform/organizations"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield from open_env(tmp_path_factory.mktemp("platform"))


@pytest.fixture(scope="module")
def operator(env: Env) -> dict[str, str]:
    _, secret = operator_keys.create(env.org.services.store, "tests")
    return {"Authorization": f"Bearer {secret}"}


def _create(client: TestClient, operator: dict[str, str], **body: Any) -> dict[str, Any]:
    r = client.post(BASE, json=body, headers=operator)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_create_returns_an_owner_key_that_works_in_the_new_org(
    env: Env, operator: dict[str, str]
) -> None:
    made = _create(
        env.client, operator, name="Tenant One", attributes={"tenant_id": 1, "region": "eu"}
    )
    org, key = made["data"], made["owner_key"]
    assert org["slug"] == "tenant-one" and org["status"] == "active" and org["members"] == 1
    assert org["attributes"] == {"tenant_id": 1, "region": "eu"}
    headers = {"Authorization": f"Bearer {key['api_key']}"}
    connections = env.client.get("/v1/connections", headers=headers)
    assert connections.status_code == 200 and connections.json()["data"] == []
    listed = env.client.get(BASE, headers=operator).json()["data"]
    assert "tenant-one" in [o["slug"] for o in listed]
    # Looked up by id or slug alike.
    assert env.client.get(f"{BASE}/{org['id']}", headers=operator).json()["data"] == org
    assert env.client.get(f"{BASE}/tenant-one", headers=operator).json()["data"] == org


def test_attributes_keep_their_json_type_and_merge(env: Env, operator: dict[str, str]) -> None:
    org = _create(
        env.client,
        operator,
        name="Typed",
        attributes={"n": 42, "s": "42", "f": 4.5, "b": True, "gone": "x"},
    )["data"]
    assert org["attributes"] == {"n": 42, "s": "42", "f": 4.5, "b": True, "gone": "x"}
    r = env.client.patch(
        f"{BASE}/{org['id']}", json={"attributes": {"n": 7, "gone": None}}, headers=operator
    )
    assert r.status_code == 200, r.text
    attrs = r.json()["data"]["attributes"]
    assert attrs == {"n": 7, "s": "42", "f": 4.5, "b": True}
    assert isinstance(attrs["n"], int) and isinstance(attrs["s"], str)
    owner = orgs.first_owner_id(env.org.services.store, org["id"])
    assert owner is not None
    org_attrs, member_attrs = orgs.attributes_for(env.org.services.store, org["id"], owner)
    assert org_attrs == {"n": 7, "s": "42", "f": 4.5, "b": True} and member_attrs == {}
    assert type(org_attrs["b"]) is bool and type(org_attrs["n"]) is int


@pytest.mark.parametrize(
    "body",
    [
        {"name": "X", "attributes": {"a": [1]}},
        {"name": "X", "attributes": {"a": {"b": 1}}},
        {"name": "X", "attributes": {"a": None}},
        {"name": "X", "attributes": {"1a": 1}},
        {"name": "X", "attributes": {"a": 2**64}},
        {"name": "X", "attributes": {"a": "x" * 1001}},
        {"name": "X", "slug": "Not A Slug"},
        {"name": ""},
        {"name": "X", "owner_email": "nobody"},
        {"name": "X", "unknown": 1},
        {},
    ],
)
def test_bad_input_is_422_and_creates_nothing(
    env: Env, operator: dict[str, str], body: dict[str, Any]
) -> None:
    before = len(env.client.get(BASE, headers=operator).json()["data"])
    r = env.client.post(BASE, json=body, headers=operator)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_error"
    assert len(env.client.get(BASE, headers=operator).json()["data"]) == before


def test_taken_slug_is_409_unknown_org_404_empty_patch_422(
    env: Env, operator: dict[str, str]
) -> None:
    _create(env.client, operator, name="Twice")
    r = env.client.post(BASE, json={"name": "Twice"}, headers=operator)
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    for method, path in [
        ("GET", f"{BASE}/nope"),
        ("POST", f"{BASE}/nope/suspend"),
        ("DELETE", f"{BASE}/nope"),
    ]:
        r = env.client.request(method, path, headers=operator)
        assert r.status_code == 404, (method, path, r.text)
    r = env.client.patch(f"{BASE}/twice", json={}, headers=operator)
    assert r.status_code == 422


def test_only_an_operator_key_opens_the_platform_api(env: Env, operator: dict[str, str]) -> None:
    org_key = env.client.get(BASE, headers=env.org.headers())
    assert org_key.status_code == 403
    assert "operator key" in org_key.json()["error"]["message"]
    assert env.client.get(BASE).status_code == 401
    bogus = env.client.get(BASE, headers={"Authorization": "Bearer sqgop_" + "x" * 40})
    assert bogus.status_code == 401
    info, secret = operator_keys.create(env.org.services.store, "short-lived")
    assert env.client.get(BASE, headers={"X-API-Key": secret}).status_code == 200
    operator_keys.revoke(env.org.services.store, info.id)
    assert env.client.get(BASE, headers={"X-API-Key": secret}).status_code == 401
    # ... and an operator key is nobody inside an organization.
    r = env.client.get("/v1/connections", headers=operator)
    assert r.status_code == 401


def test_suspend_answers_403_at_once_and_resume_restores(
    env: Env, operator: dict[str, str]
) -> None:
    made = _create(env.client, operator, name="Paused")
    headers = {"Authorization": f"Bearer {made['owner_key']['api_key']}"}
    assert env.client.get("/v1/connections", headers=headers).status_code == 200  # now cached
    r = env.client.post(f"{BASE}/paused/suspend", headers=operator)
    assert r.status_code == 200 and r.json()["data"]["status"] == "suspended"
    refused = env.client.get("/v1/connections", headers=headers)
    assert refused.status_code == 403, refused.text
    assert "suspended" in refused.json()["error"]["message"]
    assert (
        env.client.post("/api/v1/run_sql", json={"sql": "SELECT 1"}, headers=headers).status_code
        == 403
    )
    assert env.client.post(f"{BASE}/paused/suspend", headers=operator).status_code == 409
    # Other organizations are not touched.
    assert env.client.get("/v1/connections", headers=env.org.headers()).status_code == 200
    r = env.client.post(f"{BASE}/paused/resume", headers=operator)
    assert r.status_code == 200 and r.json()["data"]["status"] == "active"
    assert env.client.get("/v1/connections", headers=headers).status_code == 200
    assert env.client.post(f"{BASE}/paused/resume", headers=operator).status_code == 409


def test_delete_removes_the_orgs_saved_state_and_nothing_else(
    env: Env, operator: dict[str, str], tmp_path: Path
) -> None:
    services = env.org.services
    made = _create(env.client, operator, name="Leaving")
    org_id = made["data"]["id"]
    headers = {"Authorization": f"Bearer {made['owner_key']['api_key']}"}
    services.connections.create(org_id, name="own", type="duckdb", database="corpus.duckdb")
    ran = env.client.post("/api/v1/query/own", json={"query": "SELECT 1 AS one"}, headers=headers)
    assert ran.status_code == 200, ran.text
    services.audit.flush()
    store = services.store
    with store.session() as session:
        assert session.scalar(select(func.count()).where(AuditEvent.org_id == org_id))
    assert env.client.delete(f"{BASE}/{org_id}", headers=operator).status_code == 204
    assert env.client.get(f"{BASE}/{org_id}", headers=operator).status_code == 404
    assert env.client.get("/v1/connections", headers=headers).status_code == 401
    services.audit.flush()
    with store.session() as session:
        for table in (Member, Connection, AuditEvent):
            left = session.scalar(select(func.count()).where(table.org_id == org_id))
            assert left == 0, table.__tablename__
    # The first organization is untouched.
    r = env.client.post("/api/v1/query/duck", json={"query": "SELECT 1"}, headers=env.org.headers())
    assert r.status_code == 200


def test_member_attributes_are_set_by_admins_through_the_team_api(
    env: Env, operator: dict[str, str]
) -> None:
    made = _create(env.client, operator, name="Team Attrs")
    org_id, owner_key = made["data"]["id"], made["owner_key"]["api_key"]
    owner = {"Authorization": f"Bearer {owner_key}"}
    store = env.org.services.store
    with store.session() as session:
        session.add(Member(id=new_id("mem"), org_id=org_id, email="v@team.test", role="viewer"))
    [invited] = [m for m in env.org.services.team.members(org_id) if m.email == "v@team.test"]
    path = f"/v1/team/members/{invited.id}"
    r = env.client.patch(path, json={"attributes": {"team": "sales", "level": 3}}, headers=owner)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["attributes"] == {"team": "sales", "level": 3}
    assert r.json()["data"]["role"] == "viewer"  # unchanged
    assert orgs.attributes_for(store, org_id, invited.id)[1] == {"team": "sales", "level": 3}
    r = env.client.patch(path, json={"attributes": {"level": None}}, headers=owner)
    assert r.json()["data"]["attributes"] == {"team": "sales"}
    assert env.client.get(path, headers=owner).json()["data"]["attributes"] == {"team": "sales"}
    # Bad values: 422 and nothing changes.
    for bad in ({"x": [1]}, {"bad name": 1}, {"x": {"y": 1}}):
        r = env.client.patch(path, json={"attributes": bad, "role": "editor"}, headers=owner)
        assert r.status_code == 422, r.text
    after = env.client.get(path, headers=owner).json()["data"]
    assert after["attributes"] == {"team": "sales"} and after["role"] == "viewer"
    assert env.client.patch(path, json={}, headers=owner).status_code == 422
    # A viewer cannot set them; another organization's admin cannot even see the member.
    viewer_key = orgs.create_key(store, org_id, name="v", member_email="v@team.test").api_key
    r = env.client.patch(
        path, json={"attributes": {"team": "x"}}, headers={"Authorization": f"Bearer {viewer_key}"}
    )
    assert r.status_code == 403
    r = env.client.patch(path, json={"attributes": {"team": "x"}}, headers=env.org.headers())
    assert r.status_code == 404
    assert orgs.attributes_for(store, org_id, invited.id)[1] == {"team": "sales"}
    # An attribute header on a request changes nothing the policies read.
    env.client.get("/v1/connections", headers={**owner, "X-Attribute-Team": "admins"})
    assert orgs.attributes_for(store, org_id, invited.id)[1] == {"team": "sales"}


def test_audit_shows_the_operators_changes(env: Env, operator: dict[str, str]) -> None:
    made = _create(env.client, operator, name="Audited", attributes={"a": 1})
    headers = {"Authorization": f"Bearer {made['owner_key']['api_key']}"}
    env.client.patch(f"{BASE}/audited", json={"attributes": {"a": 2}}, headers=operator)
    env.org.services.audit.flush()
    events = env.client.get("/v1/audit", headers=headers).json()["data"]
    actions = {e["action"] for e in events}
    assert {"org.create", "org.update"} <= actions


def test_a_suspended_orgs_result_links_pause_and_its_queued_jobs_do_not_run(
    env: Env, operator: dict[str, str]
) -> None:
    services = env.org.services
    made = _create(env.client, operator, name="Jobs Paused")
    org_id = made["data"]["id"]
    headers = {"Authorization": f"Bearer {made['owner_key']['api_key']}"}
    services.connections.create(org_id, name="own", type="duckdb", database="corpus.duckdb")
    r = env.client.post("/v1/jobs", json={"connection_id": "own", "query": "SELECT 42 AS x"},
                        headers=headers)  # fmt: skip
    assert r.status_code in (200, 202), r.text
    job_id = r.json()["job_id"]
    deadline = time.monotonic() + 60
    while (job := env.client.get(f"/v1/jobs/{job_id}?wait=5", headers=headers).json())[
        "state"
    ] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, job
    assert job["state"] == "succeeded", job
    url = job["result"]["chunks"][0]["url"]
    assert env.client.get(url).status_code == 200
    env.client.post(f"{BASE}/{org_id}/suspend", headers=operator).raise_for_status()
    paused = env.client.get(url)
    assert paused.status_code == 403 and "suspended" in paused.json()["error"]["message"]
    # A job queued before the suspension is refused when a worker picks it up.
    principal = Principal(
        org_id=org_id, org_slug=made["data"]["slug"], member_id=made["owner_key"]["member_id"],
        role=Role.OWNER, key_id=made["owner_key"]["id"], scopes=frozenset(),
    )  # fmt: skip
    queued = services.jobs.submit(principal, "own", JobSpec("SELECT 1 AS one")).job
    deadline = time.monotonic() + 60
    while (view := services.jobs.peek(queued.id)) is not None and not view.finished:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert view is not None and view.state.value == "failed"
    assert view.error_code == "authorization_error"
    env.client.post(f"{BASE}/{org_id}/resume", headers=operator).raise_for_status()
    assert env.client.get(url).status_code == 200


def test_a_suspended_orgs_shared_dashboard_links_stop(env: Env, operator: dict[str, str]) -> None:
    made = _create(env.client, operator, name="Boards Paused")
    org_id = made["data"]["id"]
    headers = {"Authorization": f"Bearer {made['owner_key']['api_key']}"}
    env.org.services.connections.create(org_id, name="own", type="duckdb", database="corpus.duckdb")
    widget = {"type": "table", "title": "one", "connection_id": "own", "sql": "SELECT 1 AS x",
              "position": {"x": 0, "y": 0, "w": 4, "h": 3}}  # fmt: skip
    r = env.client.post("/v1/dashboards", json={"name": "b", "widgets": [widget]}, headers=headers)
    assert r.status_code == 201, r.text
    dash = r.json()["data"]["dashboard_id"]
    share = env.client.post(f"/v1/dashboards/{dash}/shares", json={}, headers=headers)
    url = share.json()["data"]["url"].removeprefix("http://testserver")
    assert env.client.get(url).status_code == 200
    env.client.post(f"{BASE}/{org_id}/suspend", headers=operator).raise_for_status()
    assert env.client.get(url).status_code == 403
    env.client.post(f"{BASE}/{org_id}/resume", headers=operator).raise_for_status()
    assert env.client.get(url).status_code == 200


def test_a_suspended_orgs_workflow_runs_fail_saying_why(env: Env, operator: dict[str, str]) -> None:
    services = env.org.services
    made = _create(env.client, operator, name="Flows Paused")
    org_id = made["data"]["id"]
    headers = {"Authorization": f"Bearer {made['owner_key']['api_key']}"}
    services.connections.create(org_id, name="own", type="duckdb", database="corpus.duckdb")
    flow = {"name": "f", "steps": [{"type": "query", "connection_id": "own", "sql": "SELECT 1"}]}
    r = env.client.post("/v1/workflows", json=flow, headers=headers)
    assert r.status_code == 201, r.text
    workflow_id = r.json()["data"]["workflow_id"]
    env.client.post(f"{BASE}/{org_id}/suspend", headers=operator).raise_for_status()
    assert env.client.post(f"/v1/workflows/{workflow_id}/run", headers=headers).status_code == 403
    # A run queued anyway (as the scheduler queues one) fails, saying why.
    principal = Principal(
        org_id=org_id, org_slug=made["data"]["slug"], member_id=made["owner_key"]["member_id"],
        role=Role.OWNER, key_id="scheduler", scopes=frozenset(),
    )  # fmt: skip
    run = services.workflows.run(principal, workflow_id)
    deadline = time.monotonic() + 60
    while (done := services.workflows.get_run(org_id, workflow_id, run.id)).finished_at is None:
        assert time.monotonic() < deadline, done
        time.sleep(0.1)
    assert done.status == "failed" and done.error is not None
    assert "suspended" in done.error["message"]
