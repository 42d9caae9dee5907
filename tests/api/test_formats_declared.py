"""The API's format choices and content types follow from the declarations in
results/formats.py (adding a format there adds it here)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from sqlgate.results.formats import ASYNC_FORMATS, EXPORT_DEFAULT, FORMATS
from tests.conftest import Org


def _schema(spec: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in ref:
        found: dict[str, Any] = spec["components"]["schemas"][ref["$ref"].rsplit("/", 1)[-1]]
        return found
    return ref


def test_export_lists_every_declared_format(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    export = spec["paths"]["/api/v1/query/{connection_id}/export"]["post"]
    [param] = [p for p in export["parameters"] if p["name"] == "format"]
    assert _schema(spec, param["schema"])["enum"] == list(FORMATS)
    assert param["schema"].get("default", EXPORT_DEFAULT) == EXPORT_DEFAULT
    content = export["responses"]["200"]["content"]
    assert set(content) == {f.content_type for f in FORMATS.values()}


def test_async_routes_list_the_formats_jobs_may_write(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert schemas["JobBody"]["properties"]["format"]["enum"] == list(ASYNC_FORMATS)
    assert schemas["SqlQueryBody"]["properties"]["format"]["enum"] == list(ASYNC_FORMATS)
    download = spec["paths"]["/v1/results/{job_id}/{file}"]["get"]
    assert set(download["responses"]["200"]["content"]) == {
        FORMATS[name].content_type for name in ASYNC_FORMATS
    }


def test_jobs_refuse_a_format_they_may_not_write(client: TestClient, org: Org) -> None:
    body = {"query": "SELECT 1", "format": "excel"}
    r = client.post("/v1/jobs", json=body, headers=org.headers())
    assert r.status_code == 422
