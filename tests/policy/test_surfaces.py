"""Every surface that runs SQL holds the policy: exports, async jobs, validation, the schema
endpoint, dashboards (and their cache after a policy change), and each query's audit row says
what the policy did without the rewritten SQL ever reaching the caller."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from sqlgate.store.models import AuditEvent
from tests.policy.warehouse import CANARY, POLICY, Warehouse


def test_exports_in_every_format_hold_the_policy(house: Warehouse) -> None:
    for fmt in ("csv", "json", "ndjson", "parquet", "excel"):
        r = house.client.post(
            f"/api/v1/query/{house.a.connection}/export?format={fmt}",
            json={"query": "SELECT * FROM orders UNION ALL SELECT * FROM orders"},
            headers=house.a.headers(),
        )
        assert r.status_code == 200, (fmt, r.text)
        assert CANARY.encode() not in r.content and b"777001" not in r.content, fmt
        assert b"a-note" not in r.content, fmt
    csv = house.client.post(
        f"/api/v1/query/{house.a.connection}/export?format=csv",
        json={"query": "SELECT customer FROM orders ORDER BY id"},
        headers=house.a.headers(),
    )
    assert csv.text.replace('"', "").split() == ["customer", "alice", "bob", "carol"]
    refused = house.client.post(
        f"/api/v1/query/{house.a.connection}/export?format=csv",
        json={"query": "SELECT * FROM secrets"},
        headers=house.a.headers(),
    )
    assert refused.status_code == 422 and CANARY not in refused.text


def test_async_jobs_hold_the_policy(house: Warehouse) -> None:
    r = house.client.post(
        "/v1/jobs",
        json={
            "connection_id": house.a.connection,
            "query": "SELECT customer, amount FROM orders UNION ALL SELECT name, id FROM users",
            "format": "csv",
        },
        headers=house.a.headers(),
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    until = time.monotonic() + 60
    while True:
        job = house.client.get(f"/v1/jobs/{job_id}?wait=5", headers=house.a.headers()).json()
        if job["state"] in ("succeeded", "failed", "canceled"):
            break
        assert time.monotonic() < until, job
    assert job["state"] == "succeeded", job
    content = b"".join(house.client.get(c["url"]).content for c in job["result"]["chunks"])
    assert CANARY.encode() not in content and b"777001" not in content
    lines = sorted(content.decode().replace('"', "").split())
    assert lines == sorted(
        ["customer,amount", "alice,10", "bob,20", "carol,30", "alice,1", "bob,2"]
    )
    # The hybrid wait on the query endpoint runs as a job too.
    hybrid = house.client.post(
        f"/api/v1/query/{house.a.connection}",
        json={"query": "SELECT customer FROM orders ORDER BY id", "wait_timeout": 20},
        headers=house.a.headers(),
    )
    assert hybrid.status_code == 200, hybrid.text
    assert hybrid.json()["rows"] == [["alice"], ["bob"], ["carol"]]


def test_validate_sees_only_what_the_policy_shows(house: Warehouse) -> None:
    def validate(sql: str) -> dict[str, Any]:
        r = house.client.post(
            f"/api/v1/query/{house.a.connection}/validate",
            json={"query": sql},
            headers=house.a.headers(),
        )
        assert r.status_code == 200, r.text
        return r.json()

    ok = validate("SELECT customer FROM orders")
    assert ok["is_valid"] is True and not ok.get("warning")
    hidden = validate("SELECT note FROM orders")
    assert "note" in (hidden.get("warning") or ""), hidden  # unknown, as if it did not exist
    secret = validate("SELECT * FROM secrets")
    assert secret["is_valid"] is False and "secrets" in secret["error"]
    assert validate("SELECT * FROM sqlite_master")["is_valid"] is False


def test_the_schema_endpoint_shows_visible_tables_and_columns_only(house: Warehouse) -> None:
    r = house.client.get(
        f"/v1/connections/{house.a.connection}/schema?refresh=true", headers=house.a.headers()
    )
    assert r.status_code == 200, r.text
    tables = {
        t["name"]: [c["name"] for c in t["columns"]]
        for s in r.json()["data"]["schemas"]
        for t in s["tables"]
    }
    assert tables == {
        "orders": ["id", "org_id", "customer", "amount"],
        "users": ["id", "org_id", "name", "email"],
    }


def test_each_query_is_audited_with_what_the_policy_did(house: Warehouse) -> None:
    sql = f"SELECT u.name, o.amount FROM users u JOIN orders o ON o.id = u.id -- {time.time()}"
    r = house.run(house.a, sql)
    assert r.status_code == 200, r.text
    assert "__sg" not in r.text
    detail = _audit_detail(house, sql)
    policy = detail["access_policy"]
    assert policy["versions"]["operator"] >= 1
    assert sorted(t.split(".")[-1] for t in policy["tables"]) == ["orders", "users"]
    assert any(h.endswith("users.pw_hash") for h in policy["hidden"])
    assert any(h.endswith("orders.note") for h in policy["hidden"])
    assert any(m.endswith("users.email") for m in policy["masked"])
    assert any(p.endswith("orders.tenant") for p in policy["policies"])


def _audit_detail(house: Warehouse, sql: str) -> dict[str, Any]:
    house.services.audit.flush() if hasattr(house.services.audit, "flush") else None
    for _ in range(100):
        with house.services.store.session() as session:
            row = session.scalar(
                select(AuditEvent).where(AuditEvent.sql == sql).order_by(AuditEvent.id.desc())
            )
        if row is not None:
            assert row.sql == sql  # the query as sent, never the rewritten text
            return row.detail or {}
        time.sleep(0.05)
    raise AssertionError("no audit row")


def test_dashboard_cache_does_not_outlive_a_policy_change(house: Warehouse) -> None:
    c = house.nobody
    house.attributes[c.org_id] = {"tenant_id": 1}
    try:
        body = {
            "name": "Orders",
            "widgets": [
                {
                    "type": "table",
                    "sql": "SELECT customer FROM orders ORDER BY id",
                    "connection_id": c.connection,
                    "position": {"x": 0, "y": 0, "w": 12, "h": 4},
                    "refresh_interval": 3600,
                }
            ],
        }
        made = house.client.post("/v1/dashboards", json=body, headers=c.headers())
        assert made.status_code == 201, made.text
        dash = made.json()["data"]["dashboard_id"]

        def rows() -> Any:
            r = house.client.get(f"/v1/dashboards/{dash}", headers=c.headers())
            assert r.status_code == 200, r.text
            widget = r.json()["data"]["widgets"][0]
            return (widget.get("data") or {}).get("rows"), widget.get("error")

        assert rows()[0] == [["alice"], ["bob"], ["carol"]]
        assert rows()[0] == [["alice"], ["bob"], ["carol"]]  # served from the cache
        house.attributes[c.org_id] = {"tenant_id": 2}
        assert rows()[0] == [[CANARY], [CANARY]]  # new attributes: not the cached rows
        house.deploy(POLICY.replace("note: hide", "note: hide, customer: hide"), tenants=(c,))
        data, error = rows()
        assert data is None and error is not None  # the column is gone at once
    finally:
        house.attributes[c.org_id] = {}
        house.deploy(POLICY, tenants=(c,))


def test_the_semantic_model_draft_shows_visible_tables_and_columns_only(house: Warehouse) -> None:
    r = house.client.get(
        f"/v1/connections/{house.a.connection}/semantic_model?format=yaml",
        headers=house.a.headers(),
    )
    assert r.status_code == 200, r.text
    document = r.json()["data"]["document"]
    assert "orders" in document and "customer" in document
    for hidden in ("note", "pw_hash", "secrets"):
        assert hidden not in document, hidden
