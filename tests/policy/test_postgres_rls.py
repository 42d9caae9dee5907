"""The second layer on PostgreSQL: the policy's row rules as native row-level security, holding
with sqlgate's guard switched off and its rewrite bypassed (queries straight to the engine,
with only the caller's attributes as SET LOCAL settings), for a login that owns no table."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sqlgate.errors import SqlgateError
from tests.policy.warehouse import CANARY, POLICY, Warehouse, open_warehouse, statements
from tests.services import PG_ADMIN_URL, fresh_pg_database

NATIVE = POLICY + "native_rls: true\n"


@dataclass
class Native:
    house: Warehouse
    ddl: list[str]
    problems_before: list[str]
    problems_after: list[str]


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Native]:
    import psycopg

    role = f"sqlgate_reader_{secrets.token_hex(4)}"
    admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    admin.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        with fresh_pg_database() as url:
            with psycopg.connect(url, autocommit=True) as con:
                for sql in statements(copy=False):
                    con.execute(sql)
                con.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
                con.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
            host = PG_ADMIN_URL.split("@", 1)[1].split("/", 1)[0].split(":", 1)[0]
            spec = {
                "type": "postgresql",
                "host": host,
                "port": 5432,
                "username": role,
                "database": url.rsplit("/", 1)[1],
            }
            root = Path(tmp_path_factory.mktemp("policy-native"))
            with open_warehouse("postgres", root, spec, spec, sql_guard=False) as house:
                house.deploy(NATIVE)
                conn = house.services.connections.get(house.a.org_id, house.a.connection)
                ddl, before = house.services.policies.native_rls(conn)
                with psycopg.connect(url, autocommit=True) as con:
                    for sql in ddl:
                        con.execute(sql)
                _, after = house.services.policies.native_rls(conn)
                yield Native(house, ddl, before, after)
    finally:
        admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        admin.close()


def _raw(native: Native, sql: str, settings: dict[str, str] | None) -> list[dict[str, Any]]:
    """``sql`` straight to the engine: no guard, no rewrite, only the settings."""
    house = native.house
    conn = house.services.connections.get(house.a.org_id, house.a.connection)
    engine = house.services.connections.engine(conn)
    result = engine.execute(sql, None, timeout=10, row_limit=1000, settings=settings)
    return result.table.to_pylist()


def _settings(tenant: Any, role: str = "owner") -> dict[str, str]:
    return {
        "sqlgate.org_tenant_id": "" if tenant is None else str(tenant),
        "sqlgate.member_role": role,
    }


def test_the_ddl_forces_row_level_security_and_revokes_set_config(native: Native) -> None:
    text = "\n".join(native.ddl)
    assert 'ALTER TABLE "public"."orders" FORCE ROW LEVEL SECURITY' in text
    assert 'ALTER TABLE "public"."secrets" FORCE ROW LEVEL SECURITY' in text
    assert "AS RESTRICTIVE FOR SELECT" in text and "CURRENT_SETTING('sqlgate.org_tenant_id'" in text
    assert "REVOKE EXECUTE ON FUNCTION pg_catalog.set_config" in text
    assert any("set_config" in p for p in native.problems_before)
    assert native.problems_after == []


def test_rows_without_sqlgate_depend_only_on_the_settings(native: Native) -> None:
    rows = _raw(native, "SELECT id, customer FROM orders ORDER BY id", _settings(1))
    assert [r["customer"] for r in rows] == ["alice", "bob", "carol"]
    rows = _raw(native, "SELECT customer FROM orders", _settings(2))
    assert [r["customer"] for r in rows] == [CANARY, CANARY]
    for settings in (None, _settings(None), _settings("1 OR true"), _settings("x'y")):
        try:
            rows = _raw(native, "SELECT * FROM orders", settings)
        except SqlgateError:
            continue  # a value that is not an integer: refused, never all rows
        assert rows == [], settings
    assert _raw(native, "SELECT * FROM secrets", _settings(1)) == []
    whole = _raw(native, "SELECT count(*) AS n, sum(amount) AS s FROM orders", _settings(1))
    assert whole == [{"n": 3, "s": 60}]


def test_a_query_cannot_change_the_settings(native: Native) -> None:
    for sql in (
        "SELECT set_config('sqlgate.org_tenant_id', '2', true) AS s, customer FROM orders",
        "SELECT customer FROM orders WHERE set_config('sqlgate.org_tenant_id', '2', true) = '2'",
    ):
        with pytest.raises(SqlgateError) as refused:
            _raw(native, sql, _settings(1))
        assert "permission denied" in refused.value.message
    for sql in ("SET sqlgate.org_tenant_id = '2'", "RESET ALL"):
        with pytest.raises(SqlgateError):
            _raw(native, sql, _settings(1))


def test_through_http_with_the_guard_off_both_layers_hold(native: Native) -> None:
    house = native.house
    r = house.run(house.a, "SELECT customer FROM orders ORDER BY id")
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == [["alice"], ["bob"], ["carol"]]
    assert house.run(house.nobody, "SELECT count(*) FROM orders").json()["rows"] == [[0]]
    probe = house.run(
        house.a, "SELECT set_config('sqlgate.org_tenant_id', '2', true) AS s FROM orders"
    )
    assert probe.status_code in (400, 422) and CANARY not in probe.text


def _csv_job(native: Native, who: Any, sql: str) -> str:
    house = native.house
    body = {"connection_id": who.connection, "query": sql, "format": "csv"}
    r = house.client.post("/v1/jobs", json=body, headers=who.headers())
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    for _ in range(30):
        job = house.client.get(f"/v1/jobs/{job_id}?wait=5", headers=who.headers()).json()
        if job["state"] in ("succeeded", "failed", "canceled"):
            break
    assert job["state"] == "succeeded", job
    return b"".join(house.client.get(c["url"]).content for c in job["result"]["chunks"]).decode()


def test_a_csv_job_holds_both_layers(native: Native) -> None:
    """An async CSV job sends PostgreSQL's own COPY text, in a session carrying the caller's
    settings: the native rules hold there too."""
    house = native.house
    text = _csv_job(native, house.a, "SELECT customer FROM orders ORDER BY id")
    assert text == '"customer"\n"alice"\n"bob"\n"carol"\n'
    assert CANARY not in text
    assert _csv_job(native, house.nobody, "SELECT customer FROM orders") == '"customer"\n'
