"""Through a real server: every surface says when it cut a result (the export row limit, the
`run_sql` limit, the 1000 rows of a question), and the audit row records the cut."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.test_server import add_chinook, prepare, start_server

pytestmark = pytest.mark.server

EXPORT_ROW_LIMIT = 100_000


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    data_dir = tmp_path_factory.mktemp("cut")
    proc, base = start_server(
        data_dir, "--demo", env={"SQLGATE_EXPORT_ROW_LIMIT": str(EXPORT_ROW_LIMIT)}
    )
    assert proc.stdout is not None
    reader = threading.Thread(target=proc.stdout.read, daemon=True)  # keep the pipe drained
    reader.start()
    try:
        init = prepare("init", "--json", data_dir=data_dir)
        assert init.returncode == 0, init.stderr
        assert add_chinook(data_dir).returncode == 0
        yield base, {"X-API-Key": json.loads(init.stdout)["api_key"]}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        reader.join(timeout=5)


def _last_export(base: str, headers: dict[str, str]) -> dict[str, object]:
    events = httpx.get(
        f"{base}/v1/audit", params={"action": "query.export", "limit": 1}, headers=headers
    ).json()["data"]
    event: dict[str, object] = events[0]
    return event


def test_an_export_cut_at_the_export_row_limit_says_so(
    served: tuple[str, dict[str, str]],
) -> None:
    base, headers = served
    body = {"query": "SELECT range FROM range(100000000000)"}
    url = f"{base}/api/v1/query/demo/export"
    r = httpx.post(url, params={"format": "csv"}, json=body, headers=headers, timeout=60)
    assert r.status_code == 200
    assert r.headers["X-Sqlgate-Row-Limit"] == str(EXPORT_ROW_LIMIT)
    assert r.headers["X-Sqlgate-Truncated"] == "true"
    assert len(list(csv.reader(io.StringIO(r.text)))) == EXPORT_ROW_LIMIT + 1
    event = _last_export(base, headers)
    assert event["status"] == "ok" and event["row_count"] == EXPORT_ROW_LIMIT
    assert event["detail"] == {"truncated": True, "row_limit": EXPORT_ROW_LIMIT}

    r = httpx.post(url, params={"format": "ndjson"}, json=body, headers=headers, timeout=60)
    lines = r.text.splitlines()
    assert len(lines) == EXPORT_ROW_LIMIT + 1
    assert json.loads(lines[-1]) == {
        "@sqlgate": {"truncated": True, "row_limit": EXPORT_ROW_LIMIT, "rows": EXPORT_ROW_LIMIT}
    }

    whole = httpx.post(
        url, params={"format": "json"}, json={"query": "SELECT 1 AS one"}, headers=headers
    )
    assert whole.headers["X-Sqlgate-Truncated"] == "false" and whole.json() == [{"one": 1}]
    assert _last_export(base, headers)["detail"] is None


def test_run_sql_without_limit_says_it_cut(served: tuple[str, dict[str, str]]) -> None:
    base, headers = served
    r = httpx.post(
        f"{base}/api/v1/run_sql",
        json={"sql": "SELECT range AS n FROM range(60000)"},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["records"]) == body["totalRows"] == 1000
    assert body["truncated"] is True


def test_a_question_says_it_returned_part_of_the_answer(
    served: tuple[str, dict[str, str]],
) -> None:
    base, headers = served
    r = httpx.post(
        f"{base}/v1/queries",
        json={"question": "List all tracks", "connection_id": "chinook"},
        headers=headers,
        timeout=60,
    )
    assert r.status_code == 200, r.text
    results = r.json()["data"]["results"]
    assert results["row_count"] == 1000 and results["truncated"] is True  # of 3,503
