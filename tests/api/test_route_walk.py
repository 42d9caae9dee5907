"""Scopes enforced everywhere: a walk over the whole OpenAPI route table.

For every operation the document lists, the test proves, against the running app:

- it states what it requires (``x-required-scopes``) or is one of the few public routes;
- a valid key without that scope is refused with 403 ``authorization_error``;
- a key holding just one of the stated scopes gets past authorization;
- every role gets exactly what the permission matrix below says (table-driven);
- another organization's key, naming this organization's ids, gets a 404, so ids never leak.

The probes never change anything: allowed calls are sent with ids that do not exist or bodies
that fail validation, so they stop right after authorization.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sqlgate.api.declared import PUBLIC
from sqlgate.auth.principal import authenticate
from sqlgate.auth.scopes import ROLE_SCOPES, Role, Scope
from sqlgate.jobs.service import JobSpec
from sqlgate.services import operator_keys, orgs
from sqlgate.store.models import Member, new_id
from tests.conftest import Env, open_env

# Route groups and the roles allowed in each: the permission matrix.
ALL = {"owner", "admin", "editor", "viewer"}
ADMINS = {"owner", "admin"}
MATRIX: dict[str, set[str]] = {
    "query": ADMINS | {"editor"},
    "validate": ALL,
    "admin_sql": ADMINS,
    "prompt_logs": ADMINS,
    "connections_read": ALL,
    "connections_write": ADMINS,
    "audit": ADMINS,
    "keys": ADMINS,
    "team_read": ALL,
    "team_write": ADMINS,
    "dashboards_share": ADMINS,
    "platform": set(),  # the operator's key only, never an organization's
}

# Every authenticated operation and its group. A route added without an entry here fails
# `test_every_operation_is_in_the_matrix`.
GROUP: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/query/{connection_id}"): "query",
    ("POST", "/api/v1/query/{connection_id}/export"): "query",
    ("POST", "/api/v1/run_sql"): "query",
    ("POST", "/v1/jobs"): "query",
    ("POST", "/api/v1/generate_sql"): "query",
    ("GET", "/api/v1/stream_explanation"): "query",
    ("POST", "/v1/queries"): "query",
    ("DELETE", "/v1/queries/{query_id}"): "query",
    ("GET", "/v1/queries"): "validate",
    ("GET", "/v1/queries/{query_id}"): "validate",
    ("GET", "/v1/jobs/{job_id}"): "query",
    ("POST", "/v1/jobs/{job_id}/cancel"): "query",
    ("POST", "/v1/jobs/{job_id}/links"): "query",
    ("POST", "/api/v1/query/{connection_id}/validate"): "validate",
    ("POST", "/v1/{org}/admin/sql_query"): "admin_sql",
    ("GET", "/v1/{org}/admin/get_prompt_logs/"): "prompt_logs",
    ("GET", "/v1/connections"): "connections_read",
    ("GET", "/v1/connections/{connection_id}"): "connections_read",
    ("POST", "/v1/connections/{connection_id}/test"): "connections_read",
    ("GET", "/v1/connections/{connection_id}/schema"): "connections_read",
    ("GET", "/v1/connections/{connection_id}/semantic_model"): "connections_read",
    ("GET", "/v1/connections/{connection_id}/semantic_model/versions"): "connections_read",
    ("POST", "/v1/connections"): "connections_write",
    ("PATCH", "/v1/connections/{connection_id}"): "connections_write",
    ("DELETE", "/v1/connections/{connection_id}"): "connections_write",
    ("PUT", "/v1/connections/{connection_id}/semantic_model"): "connections_write",
    ("GET", "/v1/audit"): "audit",
    ("POST", "/v1/keys"): "keys",
    ("GET", "/v1/keys"): "keys",
    ("DELETE", "/v1/keys/{key_id}"): "keys",
    ("GET", "/v1/team/members"): "team_read",
    ("GET", "/v1/team/members/{member_id}"): "team_read",
    ("GET", "/v1/team/service_accounts"): "team_read",
    ("POST", "/v1/team/members"): "team_write",
    ("PATCH", "/v1/team/members/{member_id}"): "team_write",
    ("DELETE", "/v1/team/members/{member_id}"): "team_write",
    ("POST", "/v1/team/service_accounts"): "team_write",
    ("GET", "/v1/dashboards"): "validate",
    ("GET", "/v1/dashboards/{dashboard_id}"): "validate",
    ("POST", "/v1/dashboards/{dashboard_id}/data"): "validate",
    ("POST", "/v1/dashboards"): "query",
    ("PATCH", "/v1/dashboards/{dashboard_id}"): "query",
    ("DELETE", "/v1/dashboards/{dashboard_id}"): "query",
    ("POST", "/v1/dashboards/{dashboard_id}/shares"): "dashboards_share",
    ("GET", "/v1/dashboards/{dashboard_id}/shares"): "dashboards_share",
    ("DELETE", "/v1/dashboards/{dashboard_id}/shares/{share_id}"): "dashboards_share",
    ("GET", "/v1/workflows"): "validate",
    ("GET", "/v1/workflows/{workflow_id}"): "validate",
    ("GET", "/v1/workflows/{workflow_id}/runs"): "validate",
    ("GET", "/v1/workflows/{workflow_id}/runs/{run_id}"): "validate",
    ("POST", "/v1/workflows"): "query",
    ("PATCH", "/v1/workflows/{workflow_id}"): "query",
    ("DELETE", "/v1/workflows/{workflow_id}"): "query",
    ("POST", "/v1/workflows/{workflow_id}/run"): "query",
    ("POST", "/v1/workflows/{workflow_id}/runs/{run_id}/cancel"): "query",
    ("GET", "/v1/platform/organizations"): "platform",
    ("POST", "/v1/platform/organizations"): "platform",
    ("GET", "/v1/platform/organizations/{org}"): "platform",
    ("PATCH", "/v1/platform/organizations/{org}"): "platform",
    ("DELETE", "/v1/platform/organizations/{org}"): "platform",
    ("POST", "/v1/platform/organizations/{org}/suspend"): "platform",
    ("POST", "/v1/platform/organizations/{org}/resume"): "platform",
    ("GET", "/v1/platform/connections"): "platform",
    ("POST", "/v1/platform/connections/{connection}/grants"): "platform",
    ("DELETE", "/v1/platform/connections/{connection}/grants/{org}"): "platform",
}

# Valid bodies, for the cross-organization probe: it must reach the handler's ownership
# check, not stop at body validation.
VALID_BODY: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/query/{connection_id}"): {"query": "SELECT 1"},
    ("POST", "/api/v1/query/{connection_id}/export"): {"query": "SELECT 1"},
    ("POST", "/api/v1/query/{connection_id}/validate"): {"query": "SELECT 1"},
    ("POST", "/v1/{org}/admin/sql_query"): {"sql_query": "SELECT 1", "async_query": False},
    ("PATCH", "/v1/connections/{connection_id}"): {"name": "stolen"},
    ("PUT", "/v1/connections/{connection_id}/semantic_model"): {
        "models": [{"name": "users", "columns": [{"name": "id"}]}]
    },
    ("PATCH", "/v1/team/members/{member_id}"): {"role": "viewer"},
    ("PATCH", "/v1/dashboards/{dashboard_id}"): {"name": "stolen"},
    ("PATCH", "/v1/workflows/{workflow_id}"): {"name": "stolen"},
}

# Required query parameters, sent with every probe.
QUERY: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/v1/{org}/admin/get_prompt_logs/"): {"prompt_log_prefix": "any"},
    ("GET", "/api/v1/stream_explanation"): {"queryId": "does-not-exist"},
}

_PARAM = re.compile(r"\{(\w+)\}")


@dataclass
class World:
    env: Env
    operations: list[tuple[str, str, dict[str, Any]]]
    ids: dict[str, str]  # path parameter -> a real id of this organization
    role_keys: dict[str, str]
    no_scope_key: str
    other_org_key: str
    operator_key: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    for env in open_env(tmp_path_factory.mktemp("walk")):
        services = env.org.services
        store = services.store
        role_keys = {"owner": env.org.key}
        for role in ("admin", "editor", "viewer"):
            with store.session() as session:
                session.add(
                    Member(id=new_id("mem"), org_id=env.org.id, email=f"{role}@acme.test",
                           role=role)
                )  # fmt: skip
            issued = orgs.create_key(store, env.org.id, name=role, member_email=f"{role}@acme.test")
            role_keys[role] = issued.api_key
        with store.session() as session:
            owner = orgs.first_owner_id(store, env.org.id)
            assert owner is not None
            empty = orgs.add_key(session, env.org.id, owner, "no scopes", frozenset(), None)
        other = orgs.create_organization(store, name="Other", owner_email="o@other.test")
        assert other.key is not None
        spec = env.client.get("/openapi.json").json()
        operations = [
            (method.upper(), path, op)
            for path, ops in spec["paths"].items()
            for method, op in ops.items()
        ]
        [duck] = [c for c in services.connections.list(env.org.id) if c.name == "duck"]
        owner_principal = authenticate(store, env.org.key)
        job = services.jobs.submit(owner_principal, "duck", JobSpec("SELECT 1 AS one"))
        saved = services.saved_queries.save(
            org_id=env.org.id, member_id=owner_principal.member_id, connection_id=duck.id,
            question="how many?", sql="SELECT 1", status="ok",
        )  # fmt: skip
        dashboard = services.dashboards.create(
            env.org.id, owner_principal.member_id, {"name": "walked"}
        )
        share = services.dashboards.share(owner_principal, dashboard.id)
        workflow = services.workflows.create(
            owner_principal,
            {
                "name": "walked",
                "steps": [{"type": "query", "connection_id": "duck", "sql": "SELECT 1"}],
            },
        )
        run = services.workflows.run(owner_principal, workflow.id)
        ids = {
            "query_id": saved.id,
            "dashboard_id": dashboard.id,
            "share_id": share.share.id,
            "workflow_id": workflow.id,
            "run_id": run.id,
            "job_id": job.job.id,
            "connection_id": duck.id,
            "key_id": orgs.create_key(store, env.org.id, name="target").key_id,
            "member_id": services.team.invite(
                None, env.org.id, "t@acme.test", Role.VIEWER
            ).member.id,
            "org": env.org.slug,
        }
        _, operator = operator_keys.create(store, "walk")
        yield World(env, operations, ids, role_keys, empty.api_key, other.key.api_key, operator)


def _authenticated(world: World) -> list[tuple[str, str, dict[str, Any]]]:
    return [o for o in world.operations if not o[2].get("x-public")]


def _call(
    client: TestClient,
    method: str,
    path: str,
    key: str,
    *,
    ids: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
) -> Any:
    """Call with every path parameter filled from ``ids``, or with ids that do not exist."""
    url = _PARAM.sub(lambda m: (ids or {}).get(m.group(1), "does-not-exist"), path)
    json_body = body if body is not None else ({} if method in ("POST", "PATCH", "PUT") else None)
    return client.request(
        method,
        url,
        json=json_body,
        params=QUERY.get((method, path)),
        headers={"Authorization": f"Bearer {key}"},
    )


def test_every_operation_is_in_the_matrix(world: World) -> None:
    listed = {(m, p) for m, p, _ in _authenticated(world)}
    assert listed == set(GROUP), "add new routes to GROUP (and MATRIX) in this test"
    public = {(m, p) for m, p, op in world.operations if op.get("x-public")}
    assert public == set(PUBLIC)
    for method, path, op in _authenticated(world):
        assert op["x-required-scopes"], (method, path)
        assert {"HTTPBearer", "APIKeyHeader"} <= {k for s in op["security"] for k in s}


def test_a_key_without_the_scope_is_403(world: World) -> None:
    for method, path, _ in _authenticated(world):
        r = _call(world.env.client, method, path, world.no_scope_key, ids=world.ids)
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["error"]["code"] == "authorization_error"


def test_each_stated_scope_is_enough(world: World) -> None:
    store = world.env.org.services.store
    owner = orgs.first_owner_id(store, world.env.org.id)
    assert owner is not None
    single: dict[str, str] = {}
    with store.session() as session:
        for scope in Scope:
            single[scope.value] = orgs.add_key(
                session, world.env.org.id, owner, scope.value, frozenset({scope}), None
            ).api_key
    single["operator"] = world.operator_key
    for method, path, op in _authenticated(world):
        for scope in op["x-required-scopes"]:
            r = _call(world.env.client, method, path, single[scope])
            assert r.status_code not in (401, 403), (method, path, scope, r.text)


@pytest.mark.parametrize("role", ["owner", "admin", "editor", "viewer"])
def test_permission_matrix(world: World, role: str) -> None:
    for method, path, op in _authenticated(world):
        group = GROUP[(method, path)]
        r = _call(world.env.client, method, path, world.role_keys[role])
        if role in MATRIX[group]:
            assert r.status_code not in (401, 403), (role, method, path, r.text)
        else:
            assert r.status_code == 403, (role, method, path, r.text)
            assert r.json()["error"]["code"] == "authorization_error"
        # The matrix and the role table agree.
        granted = {s.value for s in ROLE_SCOPES[Role(role)]}
        assert bool(granted & set(op["x-required-scopes"])) == (role in MATRIX[group])


def test_another_organizations_key_finds_nothing(world: World) -> None:
    scoped = [
        (m, p, o)
        for m, p, o in _authenticated(world)
        if _PARAM.search(p) and GROUP[(m, p)] != "platform"
    ]
    assert len(scoped) >= 10
    for method, path, _ in scoped:
        r = _call(
            world.env.client,
            method,
            path,
            world.other_org_key,
            ids=world.ids,
            body=VALID_BODY.get((method, path)),
        )
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["error"]["code"] == "not_found"
    # ... and its lists show none of this organization's records.
    for path in ("/v1/connections", "/v1/keys", "/v1/team/members", "/v1/audit"):
        text = _call(world.env.client, "GET", path, world.other_org_key).text
        for value in (world.ids["connection_id"], world.ids["key_id"], world.ids["member_id"]):
            assert value not in text, (path, value)
    # The probes changed nothing: the connection kept its name, the member their role.
    headers = {"Authorization": f"Bearer {world.env.org.key}"}
    conn = world.env.client.get(f"/v1/connections/{world.ids['connection_id']}", headers=headers)
    assert conn.json()["data"]["name"] == "duck"


def test_an_operator_key_opens_nothing_inside_an_organization(world: World) -> None:
    for method, path, _ in _authenticated(world):
        r = _call(world.env.client, method, path, world.operator_key, ids=world.ids)
        if GROUP[(method, path)] == "platform":
            assert r.status_code not in (401, 403), (method, path, r.text)
        else:
            assert r.status_code == 401, (method, path, r.text)
            assert r.json()["error"]["code"] == "authentication_error"
