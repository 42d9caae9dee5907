"""Bad input of every kind gets the one error body and the right status, never a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Org


def assert_error(response, status: int, code: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    error: dict[str, object] = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    return error


def test_missing_key(client: TestClient) -> None:
    assert_error(
        client.post("/api/v1/query/duck", json={"query": "SELECT 1"}), 401, "authentication_error"
    )


@pytest.mark.parametrize(
    "header",
    [
        {"Authorization": "Bearer sqg_not-a-real-key-at-all-000000"},
        {"Authorization": "Bearer nope"},
        {"X-API-Key": "sqg_not-a-real-key-at-all-000000"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
)
def test_invalid_key(client: TestClient, header: dict[str, str]) -> None:
    assert_error(
        client.post("/api/v1/query/duck", json={"query": "SELECT 1"}, headers=header),
        401,
        "authentication_error",
    )


def test_x_api_key_header_works(client: TestClient, org: Org) -> None:
    r = client.post(
        "/api/v1/query/duck", json={"query": "SELECT 1"}, headers={"X-API-Key": org.key}
    )
    assert r.status_code == 200


def test_x_org_id_must_match(client: TestClient, org: Org) -> None:
    headers = {**org.headers(), "X-ORG-ID": "org_other"}
    assert_error(
        client.post("/api/v1/query/duck", json={"query": "SELECT 1"}, headers=headers),
        403,
        "authorization_error",
    )


def test_malformed_json(client: TestClient, org: Org) -> None:
    r = client.post(
        "/api/v1/query/duck",
        content=b'{"query": ',
        headers={**org.headers(), "Content-Type": "application/json"},
    )
    error = assert_error(r, 422, "validation_error")
    assert "JSON" in str(error["message"])


@pytest.mark.parametrize(
    "body",
    [
        {"query": 5},
        {"query": "SELECT 1", "row_limit": "10"},
        {"query": "SELECT 1", "row_limit": 0},
        {"query": "SELECT 1", "row_limit": 10001},
        {"query": "SELECT 1", "timeout": 121},
        {"query": "SELECT 1", "timeout": -1},
        {"query": "SELECT 1", "params": [1, 2]},
        {"query": "SELECT 1", "surprise": True},
        {},
        [],
    ],
)
def test_wrong_types_and_ranges(client: TestClient, org: Org, body: object) -> None:
    assert_error(
        client.post("/api/v1/query/duck", json=body, headers=org.headers()), 422, "validation_error"
    )


def test_oversized_body(client: TestClient, org: Org) -> None:
    big = "SELECT '" + "x" * 2_000_000 + "'"
    assert_error(
        client.post("/api/v1/query/duck", json={"query": big}, headers=org.headers()),
        413,
        "payload_too_large",
    )


def test_oversized_chunked_body(client: TestClient, org: Org) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"query": "SELECT \''
        for _ in range(40):
            yield b"x" * 65536
        yield b"'\"}"

    r = client.post(
        "/api/v1/query/duck",
        content=chunks(),
        headers={**org.headers(), "Content-Type": "application/json"},
    )
    assert_error(r, 413, "payload_too_large")


def test_unknown_route_and_method(client: TestClient, org: Org) -> None:
    assert_error(client.get("/api/v1/nothing-here", headers=org.headers()), 404, "not_found")
    assert_error(client.get("/api/v1/query/duck", headers=org.headers()), 405, "method_not_allowed")


def test_unknown_connection(client: TestClient, org: Org) -> None:
    assert_error(
        client.post(
            "/api/v1/query/conn_doesnotexist", json={"query": "SELECT 1"}, headers=org.headers()
        ),
        404,
        "not_found",
    )


def test_sql_error_has_code(client: TestClient, org: Org) -> None:
    error = assert_error(
        client.post(
            "/api/v1/query/duck", json={"query": "SELECT nosuch FROM users"}, headers=org.headers()
        ),
        400,
        "query_error",
    )
    assert "nosuch" in str(error["message"])


def test_syntax_error_has_line_and_column(client: TestClient, org: Org) -> None:
    error = assert_error(
        client.post(
            "/api/v1/query/duck",
            json={"query": "SELECT 1 FROM\nusers WHERE ((("},
            headers=org.headers(),
        ),
        422,
        "sql_syntax_error",
    )
    assert error["line"] == 2
    assert isinstance(error["column"], int)


def test_forbidden_sql_names_the_reason(client: TestClient, org: Org) -> None:
    error = assert_error(
        client.post(
            "/api/v1/query/duck", json={"query": "DELETE FROM users"}, headers=org.headers()
        ),
        422,
        "sql_not_allowed",
    )
    assert error["reason"]
    assert error["query_type"] == "delete"


def test_healthz_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    spec = client.get("/openapi.json").json()
    for path in [
        "/api/v1/query/{connection_id}",
        "/api/v1/query/{connection_id}/validate",
        "/api/v1/query/{connection_id}/export",
        "/api/v1/run_sql",
        "/v1/{org}/admin/sql_query",
        "/v1/connections",
    ]:
        assert path in spec["paths"], path
    # Every field of every schema is described.
    for name, schema in spec["components"]["schemas"].items():
        if name.startswith(("HTTPValidationError", "ValidationError")):
            continue
        for field, props in schema.get("properties", {}).items():
            assert props.get("description"), f"{name}.{field} has no description"


def test_curl_style_form_content_type_is_read_as_json(client: TestClient, org: Org) -> None:
    # `curl -d '{"query": ...}'` sends application/x-www-form-urlencoded.
    r = client.post(
        "/api/v1/query/duck",
        content=b'{"query": "SELECT 42 AS answer"}',
        headers={**org.headers(), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == [[42]]


def test_docs_work_offline(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text  # every asset comes from this server
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/docs-assets/swagger-ui.css").status_code == 200
