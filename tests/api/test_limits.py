"""Row and time limits per surface: the query service applies them (routers only parse), with
the documented numbers and messages, and every caller of a surface gets the same maxima."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sqlgate.errors import ValidationError
from sqlgate.services import orgs
from sqlgate.services.limits import ADMIN, ASYNC, EXPORT, QUERY, RUN_SQL, Limits
from sqlgate.services.query import QueryRequest
from tests.conftest import Org, make_settings


def _refused(r: Any, field: str, message: str) -> None:
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert (error["code"], error["field"], error["message"]) == (
        "validation_error",
        field,
        message,
    )


@pytest.mark.parametrize(
    ("path", "body", "field", "message"),
    [
        (
            "/api/v1/query/duck",
            {"row_limit": 10_001},
            "row_limit",
            "row_limit must be at most 10000",
        ),
        ("/api/v1/query/duck", {"timeout": 121}, "timeout", "timeout must be at most 120"),
        (
            "/api/v1/query/duck/export",
            {"row_limit": 10_000_001},
            "row_limit",
            "row_limit must be at most 10000000",
        ),
        ("/api/v1/query/duck/export", {"timeout": 120.5}, "timeout", "timeout must be at most 120"),
        (
            "/v1/jobs",
            {"row_limit": 100_000_001},
            "row_limit",
            "row_limit must be at most 100000000",
        ),
        ("/v1/jobs", {"timeout": 21_601}, "timeout", "timeout must be at most 21600"),
    ],
)
def test_maxima_over_http(
    client: TestClient, org: Org, path: str, body: dict[str, Any], field: str, message: str
) -> None:
    r = client.post(path, json={"query": "SELECT 1", **body}, headers=org.headers())
    _refused(r, field, message)


def test_run_sql_names_its_own_field(client: TestClient, org: Org) -> None:
    body = {"sql": "SELECT 1", "limit": 10_001, "connection_id": "duck"}
    r = client.post("/api/v1/run_sql", json=body, headers=org.headers())
    _refused(r, "limit", "limit must be at most 10000")


def test_admin_sql_query_is_fixed_at_1000_rows(client: TestClient, org: Org) -> None:
    body = {"sql_query": "SELECT * FROM range(1500)", "async_query": False, "connection_id": "duck"}
    r = client.post(f"/v1/{org.slug}/admin/sql_query", json=body, headers=org.headers())
    assert r.status_code == 200, r.text
    assert len(r.json()["result"]) == 1000 and r.json()["truncated"] is True


def test_the_service_applies_the_maxima_whoever_calls(org: Org) -> None:
    """Not the router: the CLI and the question path call the service directly."""
    principal = orgs.operator(org.services.store, org.id)
    queries = org.services.queries
    with pytest.raises(ValidationError) as caught:
        queries.execute(principal, "duck", QueryRequest("SELECT 1", row_limit=10_001))
    assert (caught.value.message, caught.value.details["field"]) == (
        "row_limit must be at most 10000",
        "row_limit",
    )
    too_many = QueryRequest("SELECT 1", row_limit=10_001)
    with pytest.raises(ValidationError, match=r"^limit must be at most 10000"):
        queries.execute(principal, "duck", too_many, surface=RUN_SQL)
    with pytest.raises(ValidationError, match="timeout must be at most 120"):
        queries.export(principal, "duck", QueryRequest("SELECT 1", timeout=121))
    many = QueryRequest("SELECT * FROM range(1500)")
    ran = queries.execute(principal, "duck", many, surface=ADMIN)
    assert ran.result.row_count == 1000 and ran.result.truncated


def test_documented_numbers(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert QUERY.limits(settings) == Limits(1000, 10_000, 30, 120)
    assert RUN_SQL.limits(settings) == Limits(1000, 10_000, 30, 120, row_field="limit")
    assert EXPORT.limits(settings) == Limits(10_000_000, 10_000_000, 30, 120)
    assert ADMIN.limits(settings) == Limits(1000, 1000, 30, 30)
    assert ASYNC.limits(settings) == Limits(100_000_000, 100_000_000, 3600, 21_600)


def test_defaults_and_maxima_apply_to_what_is_not_asked() -> None:
    limits = Limits(row_default=50, row_max=10, timeout_default=60, timeout_max=20)
    assert limits.apply(None, None) == (10, 20)  # a default above the maximum is capped too
    assert limits.apply(3, 1.5) == (3, 1.5)
    assert Limits(5, 10, 6, 20).apply(None, None) == (5, 6)


def test_timeouts_read_as_written() -> None:
    with pytest.raises(ValidationError, match=r"^timeout must be at most 21600$"):
        Limits(1, 1, 1, 21_600.0).apply(None, 30_000)
    with pytest.raises(ValidationError, match=r"^timeout must be at most 0.5$"):
        Limits(1, 1, 0.25, 0.5).apply(None, 1)
