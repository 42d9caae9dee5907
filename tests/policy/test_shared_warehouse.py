"""Serving organizations from one shared warehouse: the operator's policy on a shared
connection binds every organization it is granted to, with each organization's attributes (set
by the operator) and its members' (set by its admins); an org admin may add restrictive
policies, never wider ones; grants, attributes and policies take effect at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sqlgate.container import Services
from tests.conftest import Env, open_env
from tests.policy.warehouse import CANARY, POLICY, build_file


@dataclass
class Shared:
    env: Env
    services: Services
    a: dict[str, str]
    b: dict[str, str]
    a_org: str
    b_org: str


def _headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[Shared]:
    warehouse = tmp_path / "warehouse.duckdb"
    build_file("duckdb", warehouse, copy=False)
    for env in open_env(tmp_path / "data"):
        services = env.org.services
        services.shared_connections.add(name="warehouse", type="duckdb", database=str(warehouse))
        a, a_key = services.organizations.create("Tenant A", attrs={"tenant_id": 1})
        b, b_key = services.organizations.create("Tenant B", attrs={"tenant_id": 2})
        for org in (a, b):
            services.shared_connections.grant("warehouse", org.slug, name="data")
        conn = services.shared_connections.get("warehouse")
        services.policies.deploy(None, conn, POLICY, "yaml")  # the operator, from the CLI
        yield Shared(env, services, _headers(a_key.api_key), _headers(b_key.api_key), a.id, b.id)


def _rows(shared: Shared, headers: dict[str, str], sql: str) -> list[list[object]]:
    r = shared.env.client.post("/api/v1/query/data", json={"query": sql}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["rows"]


def test_each_organization_sees_its_own_rows_of_the_shared_warehouse(shared: Shared) -> None:
    assert _rows(shared, shared.a, "SELECT id FROM orders ORDER BY id") == [[1], [2], [3]]
    assert _rows(shared, shared.b, "SELECT customer FROM orders") == [[CANARY], [CANARY]]
    assert _rows(shared, shared.a, "SELECT email FROM users") == [["***"], ["***"]]


def test_org_attributes_change_at_once(shared: Shared) -> None:
    shared.services.organizations.update(shared.a_org, attrs={"tenant_id": None})
    assert _rows(shared, shared.a, "SELECT count(*) FROM orders") == [[0]]
    shared.services.organizations.update(shared.a_org, attrs={"tenant_id": 1})
    assert _rows(shared, shared.a, "SELECT count(*) FROM orders") == [[3]]


def test_revoking_the_grant_takes_effect_at_once(shared: Shared) -> None:
    shared.services.shared_connections.revoke("warehouse", shared.b_org)
    r = shared.env.client.post("/api/v1/query/data", json={"query": "SELECT 1"}, headers=shared.b)
    assert r.status_code == 404, r.text


def test_an_org_admin_adds_restrictive_policies_only(shared: Shared) -> None:
    client = shared.env.client
    narrower = (
        "tables:\n  orders:\n    columns: {customer: hide}\n"
        "    rows:\n      - {name: small, type: restrictive, using: 'amount < 25'}\n"
    )
    put = client.put(
        "/v1/connections/data/access_policy",
        content=narrower,
        headers={**shared.a, "Content-Type": "application/yaml"},
    )
    assert put.status_code == 200, put.text
    assert put.json()["data"]["layer"] == "organization"
    assert _rows(shared, shared.a, "SELECT * FROM orders ORDER BY id") == [[1, 1, 10], [2, 1, 20]]
    assert _rows(shared, shared.b, "SELECT count(*) FROM orders") == [[2]]  # B unaffected
    got = client.get("/v1/connections/data/access_policy", headers=shared.a).json()["data"]
    assert [layer["layer"] for layer in got["layers"]] == ["operator", "organization"]
    for wider in (
        "tables:\n  orders:\n    rows:\n      - {name: all, using: 'true'}\n",
        "default: allow\n",
        "tables:\n  secrets: {}\n",
        "tables:\n  orders:\n    columns: {amount: {mask: '0'}}\n",
        "tables:\n  orders:\n    rows:\n"
        "      - {name: peek, type: restrictive, using: \"note = 'x'\"}\n",
    ):
        r = client.put(
            "/v1/connections/data/access_policy",
            content=wider,
            headers={**shared.a, "Content-Type": "application/yaml"},
        )
        assert r.status_code == 422, (wider, r.text)
        assert r.json()["error"]["code"] == "validation_error"
    assert _rows(shared, shared.a, "SELECT count(*) FROM orders") == [[2]]


def test_row_policies_by_role_and_member_attribute(shared: Shared, tmp_path: Path) -> None:
    policy = POLICY.replace(
        "    columns: {note: hide}\n",
        "    columns: {note: hide}\n"
        "    rows:\n"
        "      - {name: owners, roles: [owner], using: 'true'}\n"
        "      - {name: own, using: 'customer = member.customer'}\n",
    )
    conn = shared.services.shared_connections.get("warehouse")
    shared.services.policies.deploy(None, conn, policy, "yaml")
    assert _rows(shared, shared.a, "SELECT count(*) FROM orders") == [[3]]  # the owner
    viewer = shared.env.client.post(
        "/v1/team/members",
        json={"email": "v@a.test", "role": "editor"},
        headers=shared.a,
    )
    if viewer.status_code not in (200, 201):
        pytest.skip(f"inviting members is not available here: {viewer.text}")
    member_id = viewer.json()["data"]["id"]
    from sqlgate.auth.scopes import ROLE_SCOPES, Role
    from sqlgate.services import orgs

    with shared.services.store.session() as session:
        from sqlgate.store.models import Member

        row = session.get(Member, member_id)
        assert row is not None
        row.status = "active"
        row.attributes = {"customer": "bob"}
    key = orgs.create_key(
        shared.services.store,
        shared.a_org,
        name="editor",
        scopes=set(ROLE_SCOPES[Role.EDITOR]),
        member_email="v@a.test",
    ).api_key
    assert _rows(shared, _headers(key), "SELECT customer FROM orders") == [["bob"]]
    preview = shared.env.client.post(
        "/v1/connections/data/access_policy/preview",
        json={"query": "SELECT customer FROM orders", "member_id": member_id},
        headers=shared.a,
    )
    assert preview.status_code == 200, preview.text
    assert preview.json()["result"]["rows"] == [["bob"]]
    applied = preview.json()["access_policy"]
    assert "'bob'" in applied["sql"]
    assert sorted(applied["policies"]) == ["main.orders.own", "main.orders.tenant"]
    refused = shared.env.client.post(
        "/v1/connections/data/access_policy/preview",
        json={"query": "SELECT customer FROM orders", "member_id": member_id},
        headers=_headers(key),
    )
    assert refused.status_code == 403, refused.text
    plain = shared.env.client.post(
        "/api/v1/query/data", json={"query": "SELECT customer FROM orders"}, headers=_headers(key)
    )
    assert "__sg" not in plain.text and "sql" not in plain.json()
    shared.services.audit.flush()
    with shared.services.store.session() as session:
        from sqlalchemy import select

        from sqlgate.store.models import AuditEvent

        audited = session.scalar(
            select(AuditEvent).where(AuditEvent.action == "access_policy.preview")
        )
        assert audited is not None and audited.member_id == member_id
    with shared.services.store.session() as session:
        row = session.get(Member, member_id)
        row.attributes = {}
    assert _rows(shared, _headers(key), "SELECT customer FROM orders") == []


def test_an_org_condition_never_sees_rows_the_operator_hides(shared: Shared) -> None:
    """A restrictive condition that would fail on another tenant's row runs only on the rows
    the operator's policy already admits (its own fenced layer)."""
    probe = (
        "tables:\n  orders:\n    rows:\n      - name: probe\n        type: restrictive\n"
        "        using: \"CASE WHEN customer = 'CANARY' THEN CAST(customer AS INTEGER) "
        'ELSE 1 END = 1"\n'
    )
    put = shared.env.client.put(
        "/v1/connections/data/access_policy",
        content=probe,
        headers={**shared.a, "Content-Type": "application/yaml"},
    )
    assert put.status_code == 200, put.text
    for _ in range(3):
        assert _rows(shared, shared.a, "SELECT count(*) FROM orders") == [[3]]
        assert _rows(shared, shared.a, "SELECT id FROM orders WHERE amount > 0 ORDER BY id") == [
            [1],
            [2],
            [3],
        ]


def test_a_deploy_from_another_process_applies_within_the_cache_time(shared: Shared) -> None:
    """The server remembers a connection's latest policy versions as it remembers connection
    lookups (``SQLGATE_CONNECTION_CACHE_SECONDS``, 1 s by default): a deploy made elsewhere (the
    CLI while the server runs, another worker) binds its queries within that time."""
    from sqlgate.services.access_policies import AccessPolicies

    services = shared.services
    assert services.settings.connection_cache_seconds == 1.0
    assert _rows(shared, shared.a, "SELECT count(*) FROM orders") == [[3]]
    elsewhere = AccessPolicies(services.store, services.connections)  # another process's
    narrower = POLICY.replace(
        "    columns: {note: hide}\n",
        "    columns: {note: hide}\n"
        "    rows:\n      - {name: small, type: restrictive, using: 'amount < 25'}\n",
        1,
    )
    assert narrower != POLICY
    elsewhere.deploy(None, services.shared_connections.get("warehouse"), narrower, "yaml")
    deadline = time.monotonic() + 1.0 + 2.0  # the cache time, and slack for a busy machine
    while _rows(shared, shared.a, "SELECT count(*) FROM orders") != [[2]]:
        assert time.monotonic() < deadline, "the deploy made elsewhere never applied"
        time.sleep(0.05)
