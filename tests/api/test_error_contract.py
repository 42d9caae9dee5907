"""The one error table: the README shows it, every subclass keeps to it, every operation's
OpenAPI responses are drawn from it; and request errors say what is wrong and where."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

import sqlgate.app  # noqa: F401  (imports every error class)
from sqlgate.errors import ERROR_TABLE, SqlgateError, error_table_markdown
from tests.conftest import Org

README = Path(__file__).resolve().parents[2] / "README.md"


def _subclasses(cls: type[SqlgateError]) -> set[type[SqlgateError]]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


def test_readme_error_table_is_the_code_table() -> None:
    assert error_table_markdown() in README.read_text(), (
        "README's error table differs from sqlgate.errors.ERROR_TABLE; paste:\n"
        + error_table_markdown()
    )


def test_every_error_class_is_in_the_table() -> None:
    rows = {(k.code, k.status) for k in ERROR_TABLE}
    for cls in {SqlgateError, *_subclasses(SqlgateError)}:
        assert (cls.code, cls.status) in rows, cls


def test_every_operation_documents_errors_in_the_one_schema(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    codes = {k.code for k in ERROR_TABLE}
    assert "HTTPValidationError" not in str(document)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) < 400:
                    continue
                listed = response.get("x-error-codes")
                assert listed and set(listed) <= codes, (method, path, status)
            if "x-required-scopes" in operation:
                assert {"401", "403", "429"} <= set(operation["responses"]), (method, path)
            if "requestBody" in operation:
                assert {"413", "422"} <= set(operation["responses"]), (method, path)


def _post(client: TestClient, org: Org, body: bytes, content_type: str) -> dict[str, object]:
    headers = {**org.headers(), "Content-Type": content_type}
    r = client.post("/api/v1/run_sql", content=body, headers=headers)
    assert r.status_code in (415, 422), r.text
    error: dict[str, object] = r.json()["error"]
    return {"status": r.status_code, **error}


def test_malformed_json_names_line_and_column(client: TestClient, org: Org) -> None:
    error = _post(client, org, b'{"sql": "SELECT 1",\n  "limit": }', "application/json")
    assert error["code"] == "validation_error"
    assert (error["line"], error["column"]) == (2, 12)
    assert "line 2, column 12" in str(error["message"])
    assert all(d["field"] is None for d in error["details"])  # type: ignore[attr-defined]


def test_empty_body_says_so(client: TestClient, org: Org) -> None:
    error = _post(client, org, b"", "application/json")
    assert error["code"] == "validation_error"
    assert "empty" in str(error["message"])


def test_a_body_that_is_not_an_object_says_what_it_is(client: TestClient, org: Org) -> None:
    error = _post(client, org, b"[1, 2]", "application/json")
    assert error["message"] == "The request body must be a JSON object, not an array"


def test_json_sent_as_text_plain_names_the_content_type(client: TestClient, org: Org) -> None:
    error = _post(client, org, b'{"sql": "SELECT 1"}', "text/plain")
    assert (error["status"], error["code"]) == (415, "unsupported_media_type")
    assert "text/plain" in str(error["message"]) and "application/json" in str(error["message"])


def test_invalid_utf8_names_line_and_column(client: TestClient, org: Org) -> None:
    error = _post(client, org, b'{"sql":\n "SELECT \xff"}', "application/json")
    assert error["code"] == "validation_error"
    assert (error["line"], error["column"]) == (2, 10)


def test_schemas_refuse_what_the_server_refuses(client: TestClient, org: Org) -> None:
    h = org.headers()
    for path, body in [
        ("/api/v1/run_sql", {"sql": ""}),
        ("/api/v1/query/duck", {"query": ""}),
        ("/v1/team/members", {"email": "000", "role": "viewer"}),
    ]:
        r = client.post(path, json=body, headers=h)
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error", r.text
    r = client.get("/v1/queries", params={"cursor": "x" * 200}, headers=h)
    assert r.status_code == 422, r.text
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert schema["ConnectionCreate"]["allOf"][0]["then"]["properties"]["host"] is False
