"""POST /api/v1/query/{connection_id}: the core path, on DuckDB and SQLite."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Org

ENGINES = ["duck", "lite"]


def run(client: TestClient, org: Org, conn: str, body: dict[str, object]) -> dict[str, object]:
    response = client.post(f"/api/v1/query/{conn}", json=body, headers=org.headers())
    assert response.status_code == 200, response.text
    data: dict[str, object] = response.json()
    return data


@pytest.mark.parametrize("conn", ENGINES)
def test_select_returns_columns_rows_and_counts(client: TestClient, org: Org, conn: str) -> None:
    data = run(client, org, conn, {"query": "SELECT id, name FROM users ORDER BY id"})
    assert [c["name"] for c in data["columns"]] == ["id", "name"]  # type: ignore[index]
    assert data["rows"][0] == [1, "Ada"]  # type: ignore[index]
    assert data["row_count"] == 4
    assert data["truncated"] is False
    assert isinstance(data["execution_time_ms"], float)


@pytest.mark.parametrize("conn", ENGINES)
def test_row_limit_truncates_and_says_so(client: TestClient, org: Org, conn: str) -> None:
    data = run(client, org, conn, {"query": "SELECT id FROM users ORDER BY id", "row_limit": 2})
    assert data["rows"] == [[1], [2]]
    assert data["truncated"] is True
    exact = run(client, org, conn, {"query": "SELECT id FROM users", "row_limit": 4})
    assert exact["row_count"] == 4
    assert exact["truncated"] is False


def test_default_row_limit_is_1000(client: TestClient, org: Org) -> None:
    data = run(client, org, "duck", {"query": "SELECT * FROM range(5000)"})
    assert data["row_count"] == 1000
    assert data["truncated"] is True


@pytest.mark.parametrize(
    ("conn", "sql"),
    [
        ("duck", "SELECT name FROM users WHERE id = $id"),
        ("lite", "SELECT name FROM users WHERE id = :id"),
    ],
)
def test_named_parameters_bind(client: TestClient, org: Org, conn: str, sql: str) -> None:
    data = run(client, org, conn, {"query": sql, "params": {"id": 3}})
    assert data["rows"] == [["alan"]]
    # A value that looks like SQL stays a value.
    by_name = sql.replace("id = ", "name = ").replace("$id", "$name").replace(":id", ":name")
    injected = run(client, org, conn, {"query": by_name, "params": {"name": "x' OR '1'='1"}})
    assert injected["row_count"] == 0


@pytest.mark.parametrize(
    ("conn", "sql"),
    [
        ("duck", "SELECT name FROM users WHERE id = $id"),
        ("lite", "SELECT name FROM users WHERE id = :id"),
    ],
)
@pytest.mark.parametrize(("params", "word"), [({}, "missing"), ({"id": 1, "other": 2}, "unknown")])
def test_parameter_mismatch_is_422(
    client: TestClient, org: Org, conn: str, sql: str, params: dict[str, int], word: str
) -> None:
    response = client.post(
        f"/api/v1/query/{conn}", json={"query": sql, "params": params}, headers=org.headers()
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert word in error["message"]


def test_types_and_not_null_from_duckdb(client: TestClient, org: Org) -> None:
    data = run(
        client,
        org,
        "duck",
        {
            "query": "SELECT 1::INTEGER AS i, 2.50::DECIMAL(10,2) AS d, 'x' AS s, "
            "TIMESTAMP '2024-01-02 03:04:05' AS ts, DATE '2024-01-02' AS dt, true AS b, NULL AS n"
        },
    )
    types = {c["name"]: c["type"] for c in data["columns"]}  # type: ignore[union-attr]
    assert types["i"] == "INTEGER"
    assert types["d"].startswith("DECIMAL")
    assert types["s"] == "VARCHAR"
    assert types["ts"] == "TIMESTAMP"
    assert types["dt"] == "DATE"
    assert types["b"] == "BOOLEAN"
    assert data["rows"] == [[1, 2.5, "x", "2024-01-02T03:04:05", "2024-01-02", True, None]]


def test_decimals_are_exact_json_numbers(client: TestClient, org: Org) -> None:
    response = client.post(
        "/api/v1/query/duck",
        json={"query": "SELECT 123456789012345678.12::DECIMAL(38,2) AS big"},
        headers=org.headers(),
    )
    assert b"123456789012345678.12" in response.content


def test_sqlite_types_follow_values(client: TestClient, org: Org) -> None:
    data = run(
        client, org, "chinook", {"query": "SELECT TrackId, Name, UnitPrice FROM Track LIMIT 3"}
    )
    types = [c["type"] for c in data["columns"]]  # type: ignore[union-attr]
    assert types == ["BIGINT", "VARCHAR", "DOUBLE"]
    assert data["row_count"] == 3


@pytest.mark.parametrize(
    ("conn", "sql"),
    [
        ("duck", "SELECT count(*) FROM range(1000000000000)"),
        (
            "lite",
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
            "SELECT count(*) FROM r",
        ),
    ],
)
def test_timeout_stops_the_query_and_server_keeps_answering(
    client: TestClient, org: Org, conn: str, sql: str
) -> None:
    outcome: dict[str, object] = {}

    def slow() -> None:
        started = time.monotonic()
        r = client.post(
            f"/api/v1/query/{conn}", json={"query": sql, "timeout": 1}, headers=org.headers()
        )
        outcome.update(status=r.status_code, body=r.json(), seconds=time.monotonic() - started)

    worker = threading.Thread(target=slow)
    worker.start()
    time.sleep(0.2)
    # While the slow query runs, other requests are answered promptly.
    fast_started = time.monotonic()
    fast = client.post("/api/v1/query/duck", json={"query": "SELECT 1"}, headers=org.headers())
    assert fast.status_code == 200
    assert time.monotonic() - fast_started < 0.8
    worker.join(10)
    assert outcome["status"] == 504
    assert outcome["body"]["error"]["code"] == "timeout"  # type: ignore[index]
    assert 0.9 < outcome["seconds"] < 3  # type: ignore[operator]


def test_run_sql_uses_default_connection(client: TestClient, org: Org) -> None:
    response = client.post(
        "/api/v1/run_sql",
        json={"sql": "SELECT id, name FROM users ORDER BY id", "limit": 2},
        headers=org.headers(),
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["records"] == [
        {"id": 1, "name": "Ada"},
        {"id": 2, "name": "O'Brien; DROP TABLE users"},
    ]
    assert data["totalRows"] == 2
    assert data["columns"][0] == {
        "name": "id",
        "type": "INTEGER",
        "notNull": True,  # the primary key
        "properties": {},
    }
    assert data["threadId"] and data["id"]
    again = client.post(
        "/api/v1/run_sql",
        json={"sql": "SELECT 1 AS one", "threadId": data["threadId"], "connection_id": "lite"},
        headers=org.headers(),
    ).json()
    assert again["threadId"] == data["threadId"]
    assert again["records"] == [{"one": 1}]


def test_admin_sql_query_shape(client: TestClient, org: Org) -> None:
    response = client.post(
        f"/v1/{org.id}/admin/sql_query",
        json={"sql_query": "SELECT * FROM range(1500) t(x)", "async_query": False},
        headers=org.headers(),
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert set(data) == {"execution_time_ms", "result", "truncated", "columns"}
    assert len(data["result"]) == 1000
    assert data["truncated"] is True
    assert data["columns"] == [{"name": "x", "type": "BIGINT"}]
    by_slug = client.post(
        f"/v1/{org.slug}/admin/sql_query",
        json={"sql_query": "SELECT 1", "async_query": False},
        headers={**org.headers(), "X-ORG-ID": org.id},
    )
    assert by_slug.status_code == 200


def test_admin_sql_query_async_and_other_orgs(client: TestClient, org: Org) -> None:
    r = client.post(
        f"/v1/{org.id}/admin/sql_query",
        json={"sql_query": "SELECT 1", "async_query": True},
        headers=org.headers(),
    )
    assert r.status_code == 202  # a job (tests/api/test_jobs*.py)
    assert r.json()["job_id"].startswith("job_")
    other = client.post(
        "/v1/org_someoneelse/admin/sql_query",
        json={"sql_query": "SELECT 1", "async_query": False},
        headers=org.headers(),
    )
    assert other.status_code == 404


def test_admin_sql_query_needs_admin_scope(client: TestClient, org: Org) -> None:
    key = org.key_with("query:execute")
    r = client.post(
        f"/v1/{org.id}/admin/sql_query",
        json={"sql_query": "SELECT 1", "async_query": False},
        headers=org.headers(key),
    )
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "authorization_error"


def test_every_query_is_audited(client: TestClient, org: Org) -> None:
    from sqlalchemy import select

    from sqlgate.store.models import AuditEvent

    marker = f"SELECT 'audit-{time.time_ns()}' AS m"
    run(client, org, "duck", {"query": marker})
    client.post("/api/v1/query/duck", json={"query": "DROP TABLE users"}, headers=org.headers())
    org.services.audit.flush()
    with org.services.store.session() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.sql.in_([marker, "DROP TABLE users"]))
        ).all()
    by_sql = {e.sql: e for e in events}
    ok = by_sql[marker]
    assert (ok.status, ok.row_count, ok.org_id, ok.action) == ("ok", 1, org.id, "query.execute")
    assert ok.member_id and ok.key_id and ok.connection_id and ok.duration_ms is not None
    assert by_sql["DROP TABLE users"].status == "rejected"


@pytest.mark.parametrize("conn", ENGINES)
def test_not_null_comes_from_the_catalog(client: TestClient, org: Org, conn: str) -> None:
    data = run(
        client,
        org,
        conn,
        {
            "query": "SELECT u.id, u.org_id, u.name, count(*) AS n, o.id AS order_id FROM users u "
            "LEFT JOIN orders o ON o.user_id = u.id GROUP BY u.id, u.org_id, u.name, o.id"
        },
    )
    flags = {c["name"]: c["notNull"] for c in data["columns"]}  # type: ignore[union-attr]
    # id is the primary key and org_id NOT NULL; name is nullable; count is never null;
    # orders.id is NOT NULL in its table but the LEFT JOIN can make it null.
    assert flags == {"id": True, "org_id": True, "name": False, "n": True, "order_id": False}
    star = run(client, org, conn, {"query": "SELECT * FROM users"})
    assert [c["notNull"] for c in star["columns"]][:3] == [True, True, False]  # type: ignore[union-attr]


def test_validate_names_unknown_tables(client: TestClient, org: Org) -> None:
    r = client.post(
        "/api/v1/query/duck/validate", json={"query": "SELECT * FROM userz"}, headers=org.headers()
    )
    body = r.json()
    assert body["is_valid"] is True
    assert body["warning"] == "Unknown table: userz"
