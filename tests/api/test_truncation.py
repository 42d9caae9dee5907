"""Every surface says when it cut a result: `truncated` on run_sql and questions, headers and a
last marker on exports, and the audit row."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from sqlgate.results.formats import FORMATS
from tests.conftest import Org, open_env

BIG = "SELECT range FROM range(100000000000)"


def _export(client: TestClient, org: Org, fmt: str, body: dict[str, Any]) -> Any:
    r = client.post(f"/api/v1/query/duck/export?format={fmt}", json=body, headers=org.headers())
    assert r.status_code == 200, r.text
    return r


def _rows(fmt: str, content: bytes) -> list[Any]:
    """The body as a list of rows, markers included (they are what a reader would meet)."""
    if fmt == "csv":
        return list(csv.reader(io.StringIO(content.decode())))[1:]
    if fmt == "json":
        return list(json.loads(content))
    if fmt == "ndjson":
        return [json.loads(line) for line in content.decode().splitlines()]
    if fmt == "parquet":
        return pq.read_table(io.BytesIO(content)).to_pylist()
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    return list(sheet.iter_rows(min_row=2, values_only=True))


MARKER = {"@sqlgate": {"truncated": True, "row_limit": 5, "rows": 5}}


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_an_export_cut_at_its_row_limit_says_so(client: TestClient, org: Org, fmt: str) -> None:
    r = _export(client, org, fmt, {"query": BIG, "row_limit": 5})
    assert r.headers["x-sqlgate-truncated"] == "true"
    assert r.headers["x-sqlgate-row-limit"] == "5"
    rows = _rows(fmt, r.content)
    if fmt in ("json", "ndjson"):
        assert rows[:5] == [{"range": i} for i in range(5)] and rows[5:] == [MARKER]
    else:
        assert len(rows) == 5
    if fmt == "parquet":
        footer = pq.read_metadata(io.BytesIO(r.content)).metadata
        assert footer[b"sqlgate.truncated"] == b"true" and footer[b"sqlgate.row_limit"] == b"5"


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_a_complete_export_keeps_its_plain_shape(client: TestClient, org: Org, fmt: str) -> None:
    r = _export(client, org, fmt, {"query": "SELECT range FROM range(5)", "row_limit": 5})
    assert r.headers["x-sqlgate-truncated"] == "false"
    rows = _rows(fmt, r.content)
    assert len(rows) == 5
    if fmt in ("json", "ndjson"):
        assert rows == [{"range": i} for i in range(5)]
    if fmt == "parquet":
        footer = pq.read_metadata(io.BytesIO(r.content)).metadata
        assert b"sqlgate.truncated" not in footer


def test_a_large_export_names_its_row_limit_and_marks_the_cut_at_the_end(
    client: TestClient, org: Org
) -> None:
    """Too large to know before the first byte: no X-Sqlgate-Truncated, the marker tells."""
    r = _export(client, org, "ndjson", {"query": BIG, "row_limit": 300_000})
    assert r.headers["x-sqlgate-row-limit"] == "300000"
    assert "x-sqlgate-truncated" not in r.headers
    lines = r.content.decode().splitlines()
    assert len(lines) == 300_001
    assert json.loads(lines[-1]) == {
        "@sqlgate": {"truncated": True, "row_limit": 300_000, "rows": 300_000}
    }


def test_excel_is_cut_at_its_sheet_size_and_says_so(
    client: TestClient, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(FORMATS, "excel", replace(FORMATS["excel"], max_rows=3))
    r = _export(client, org, "excel", {"query": BIG})
    assert r.headers["x-sqlgate-truncated"] == "true"
    assert r.headers["x-sqlgate-row-limit"] == "3"
    assert len(_rows("excel", r.content)) == 3


def _audit(client: TestClient, org: Org, action: str) -> dict[str, Any]:
    r = client.get("/v1/audit", params={"action": action, "limit": 1}, headers=org.headers())
    assert r.status_code == 200, r.text
    event: dict[str, Any] = r.json()["data"][0]
    return event


def test_the_audit_row_of_a_cut_result_says_so(client: TestClient, org: Org) -> None:
    _export(client, org, "csv", {"query": BIG, "row_limit": 7})
    event = _audit(client, org, "query.export")
    assert event["status"] == "ok" and event["row_count"] == 7
    assert event["detail"] == {"truncated": True, "row_limit": 7}

    _export(client, org, "csv", {"query": "SELECT 1 AS one"})
    assert _audit(client, org, "query.export")["detail"] is None

    r = client.post("/api/v1/query/duck", json={"query": BIG}, headers=org.headers())
    assert r.json()["truncated"] is True
    event = _audit(client, org, "query.execute")
    assert event["detail"] == {"truncated": True, "row_limit": 1000}


def test_run_sql_without_limit_says_it_cut(client: TestClient, org: Org) -> None:
    r = client.post(
        "/api/v1/run_sql",
        json={"sql": "SELECT range FROM range(60000)", "connection_id": "duck"},
        headers=org.headers(),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["records"]) == body["totalRows"] == 1000
    assert body["truncated"] is True

    whole = client.post(
        "/api/v1/run_sql",
        json={"sql": "SELECT range FROM range(60000)", "connection_id": "duck", "limit": 10000},
        headers=org.headers(),
    ).json()
    assert whole["totalRows"] == 10000 and whole["truncated"] is True
    small = client.post(
        "/api/v1/run_sql",
        json={"sql": "SELECT range FROM range(3)", "connection_id": "duck", "limit": 3},
        headers=org.headers(),
    ).json()
    assert small["totalRows"] == 3 and small["truncated"] is False


def test_a_question_with_more_rows_than_returned_says_so(client: TestClient, org: Org) -> None:
    r = client.post(
        "/v1/queries",
        json={"question": "List all tracks", "connection_id": "chinook"},
        headers=org.headers(),
    )
    assert r.status_code == 200, r.text
    results = r.json()["data"]["results"]
    assert results["row_count"] == len(results["rows"]) == 1000  # of 3,503 tracks
    assert results["truncated"] is True

    counted = client.post(
        "/v1/queries",
        json={"question": "How many tracks?", "connection_id": "chinook"},
        headers=org.headers(),
    ).json()["data"]["results"]
    assert counted["rows"] == [[3503]] and counted["truncated"] is False


def test_an_export_without_row_limit_stops_at_the_export_row_limit_and_says_so(
    tmp_path: Path,
) -> None:
    for env in open_env(tmp_path, export_row_limit=1000):
        for fmt in ("csv", "ndjson"):
            r = _export(env.client, env.org, fmt, {"query": BIG})
            assert r.headers["x-sqlgate-truncated"] == "true"
            assert r.headers["x-sqlgate-row-limit"] == "1000"
            rows = _rows(fmt, r.content)
            if fmt == "csv":
                assert len(rows) == 1000
            else:
                assert rows[-1] == {
                    "@sqlgate": {"truncated": True, "row_limit": 1000, "rows": 1000}
                }


def _job(client: TestClient, org: Org, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/v1/jobs", json={"connection_id": "duck", **body}, headers=org.headers())
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    for _ in range(30):
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}?wait=5", headers=org.headers()).json()
        if job["state"] in ("succeeded", "failed"):
            return job
    raise AssertionError(job)


def test_the_audit_row_of_an_async_job_says_how_it_ended(client: TestClient, org: Org) -> None:
    cut = _job(client, org, {"query": BIG, "row_limit": 100})
    assert cut["result"]["truncated"] is True
    event = _audit(client, org, "query.async")
    assert event["status"] == "ok" and event["detail"] == {"truncated": True, "row_limit": 100}

    slow = {"query": "SELECT range, range * 2 AS b FROM range(100000000000)", "timeout": 1}
    failed = _job(client, org, slow)
    assert failed["state"] == "failed" and failed["error"]["code"] == "timeout"
    event = _audit(client, org, "query.async")
    assert event["status"] == "error" and event["error_code"] == "timeout"
    assert event["row_count"] > 0  # rows were written before the deadline
