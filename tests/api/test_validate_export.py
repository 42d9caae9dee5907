"""Validate (always 200, documented shapes) and export (every format, streamed)."""

from __future__ import annotations

import csv
import io
import json

import duckdb
import openpyxl
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Org


def test_validate_valid_shape(client: TestClient, org: Org) -> None:
    r = client.post(
        "/api/v1/query/duck/validate",
        json={"query": "SELECT o.amount, u.name FROM orders o JOIN users u ON u.id = o.user_id"},
        headers=org.headers(),
    )
    assert r.status_code == 200
    body = r.json()
    assert body["is_valid"] is True
    assert body["query_type"] == "select"
    assert body["tables"] == ["orders", "users"]
    assert {"amount", "name"} <= set(body["columns"])
    assert "warning" in body


@pytest.mark.parametrize("conn", ["duck", "lite"])
def test_validate_invalid_shape(client: TestClient, org: Org, conn: str) -> None:
    r = client.post(
        f"/api/v1/query/{conn}/validate",
        json={"query": "CREATE TABLE t AS SELECT 1"},
        headers=org.headers(),
    )
    assert r.status_code == 200
    body = r.json()
    assert body["is_valid"] is False
    assert body["query_type"] == "create"
    assert body["error"]
    assert "position" in body


def test_validate_syntax_error_has_line_and_column(client: TestClient, org: Org) -> None:
    r = client.post(
        "/api/v1/query/duck/validate",
        json={"query": "SELECT 1\nFROM users WHERE (id = 1"},
        headers=org.headers(),
    )
    body = r.json()
    assert body["is_valid"] is False
    assert body["line"] == 2


def test_validate_with_validate_only_scope(client: TestClient, org: Org) -> None:
    key = org.key_with("query:validate")
    ok = client.post(
        "/api/v1/query/duck/validate", json={"query": "SELECT 1"}, headers=org.headers(key)
    )
    assert ok.status_code == 200
    refused = client.post(
        "/api/v1/query/duck", json={"query": "SELECT 1"}, headers=org.headers(key)
    )
    assert refused.status_code == 403


EXPORT_SQL = "SELECT id, name, created_at FROM users ORDER BY id"


def export(client: TestClient, org: Org, conn: str, fmt: str, sql: str = EXPORT_SQL) -> bytes:
    r = client.post(
        f"/api/v1/query/{conn}/export?format={fmt}", json={"query": sql}, headers=org.headers()
    )
    assert r.status_code == 200, r.text
    disposition = r.headers["content-disposition"]
    ext = {"excel": "xlsx"}.get(fmt, fmt)
    assert disposition.startswith("attachment;") and disposition.endswith(f'.{ext}"')
    return r.content


@pytest.mark.parametrize("conn", ["duck", "lite"])
def test_export_csv_neutralises_formulas(client: TestClient, org: Org, conn: str) -> None:
    rows = list(csv.reader(io.StringIO(export(client, org, conn, "csv").decode())))
    assert rows[0] == ["id", "name", "created_at"]
    assert rows[1][:2] == ["1", "Ada"]
    assert rows[4][1] == '\'=HYPERLINK("http://evil")'
    assert len(rows) == 5


@pytest.mark.parametrize("conn", ["duck", "lite"])
def test_export_json_and_ndjson(client: TestClient, org: Org, conn: str) -> None:
    records = json.loads(export(client, org, conn, "json"))
    assert [r["id"] for r in records] == [1, 2, 3, 4]
    assert records[3]["name"] == '=HYPERLINK("http://evil")'  # data formats keep data as is
    lines = export(client, org, conn, "ndjson").decode().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [1, 2, 3, 4]


@pytest.mark.parametrize("conn", ["duck", "lite"])
def test_export_parquet(client: TestClient, org: Org, conn: str) -> None:
    table = pq.read_table(io.BytesIO(export(client, org, conn, "parquet")))
    assert table.column("id").to_pylist() == [1, 2, 3, 4]


@pytest.mark.parametrize("conn", ["duck", "lite"])
def test_export_excel(client: TestClient, org: Org, conn: str) -> None:
    book = openpyxl.load_workbook(io.BytesIO(export(client, org, conn, "excel")))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0] == ("id", "name", "created_at")
    assert rows[1][:2] == (1, "Ada")
    assert rows[4][1].startswith("'=")


def test_export_is_not_capped_at_row_limit_max(client: TestClient, org: Org) -> None:
    body = export(client, org, "duck", "parquet", "SELECT * FROM range(250000) t(x)")
    assert pq.read_table(io.BytesIO(body)).num_rows == 250000
    con = duckdb.connect()
    csv_body = export(client, org, "duck", "csv", "SELECT * FROM range(50000) t(x)")
    assert csv_body.count(b"\n") == 50001
    con.close()


def test_export_errors_before_streaming_are_json(client: TestClient, org: Org) -> None:
    r = client.post(
        "/api/v1/query/duck/export?format=csv",
        json={"query": "SELECT nosuchcolumn FROM users"},
        headers=org.headers(),
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "query_error"
    bad_format = client.post(
        "/api/v1/query/duck/export?format=xml", json={"query": "SELECT 1"}, headers=org.headers()
    )
    assert bad_format.status_code == 422
