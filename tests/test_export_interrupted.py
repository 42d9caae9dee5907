"""An export whose query times out after its first rows went out, through a real server: no
client can take the short body for a whole file (httpx, curl, pandas), the formats that can
carry one end with an error marker, and the audit row records the failure."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sqlgate.results.formats import FORMATS
from tests.test_server import prepare, start_server

pytestmark = pytest.mark.server

#: Rows at once, then more than its 1 s timeout: the first batches stream before the deadline.
SLOW = {"query": "SELECT range, range * 2 AS b FROM range(10000000000)", "timeout": 1}
STREAMED = [name for name in FORMATS if name != "excel"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    data_dir = tmp_path_factory.mktemp("interrupted")
    proc, base = start_server(data_dir, "--demo", env={"SQLGATE_EXPORT_ROW_LIMIT": "5000000000"})
    # Each aborted export is logged: read the log as it comes, or the pipe fills and the
    # server blocks on its next log line.
    assert proc.stdout is not None
    reader = threading.Thread(target=proc.stdout.read, daemon=True)
    reader.start()
    try:
        init = prepare("init", "--json", data_dir=data_dir)
        assert init.returncode == 0, init.stderr
        yield base, json.loads(init.stdout)["api_key"]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        reader.join(timeout=5)


def _url(base: str, fmt: str) -> str:
    return f"{base}/api/v1/query/demo/export?format={fmt}"


@pytest.mark.parametrize("fmt", STREAMED)
def test_httpx_sees_an_incomplete_transfer(served: tuple[str, str], fmt: str) -> None:
    base, key = served
    received = bytearray()
    with httpx.stream(
        "POST", _url(base, fmt), json=SLOW, headers={"X-API-Key": key}, timeout=60
    ) as r:
        assert r.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):  # noqa: PT012 - raised mid-iteration
            for chunk in r.iter_bytes():
                received += chunk
    assert len(received) > 1_000_000  # rows went out before the deadline
    if fmt in ("json", "ndjson"):
        tail = bytes(received[-400:]).decode(errors="replace")
        assert '{"@sqlgate":{"error":{"code":"timeout"' in tail
    if fmt == "ndjson":
        last = json.loads(bytes(received).rstrip(b"\n").rsplit(b"\n", 1)[1])
        assert last["@sqlgate"]["error"]["code"] == "timeout" and last["@sqlgate"]["rows"] > 0
    if fmt == "json":
        with pytest.raises(json.JSONDecodeError):
            json.loads(bytes(received))
    if fmt == "parquet":
        assert not received.endswith(b"PAR1")  # the footer is never written


def test_excel_is_spooled_whole_so_its_timeout_is_an_error_status(
    served: tuple[str, str],
) -> None:
    base, key = served
    r = httpx.post(_url(base, "excel"), json=SLOW, headers={"X-API-Key": key}, timeout=60)
    assert r.status_code == 504
    assert r.json()["error"]["code"] == "timeout"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_curl_exits_with_an_error(served: tuple[str, str], fmt: str, tmp_path: Path) -> None:
    base, key = served
    out = tmp_path / f"export.{fmt}"
    done = subprocess.run(
        ["curl", "-sS", "--fail", "-o", str(out), "-H", f"X-API-Key: {key}",
         "-H", "Content-Type: application/json", "-d", json.dumps(SLOW), _url(base, fmt)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    # 18: the transfer closed with data outstanding; 22: an HTTP error status (Excel's 504).
    assert done.returncode == (22 if fmt == "excel" else 18), done.stderr


def test_pandas_read_csv_fails(served: tuple[str, str]) -> None:
    pandas = pytest.importorskip("pandas")
    base, key = served
    request = urllib.request.Request(
        _url(base, "csv"),
        data=json.dumps(SLOW).encode(),
        headers={"X-API-Key": key, "Content-Type": "application/json"},
    )
    with pytest.raises(Exception) as caught:
        pandas.read_csv(urllib.request.urlopen(request, timeout=60))
    assert (
        "IncompleteRead" in type(caught.value).__name__ or "incomplete" in str(caught.value).lower()
    )


def test_the_audit_row_records_the_failure(served: tuple[str, str]) -> None:
    base, key = served
    with (
        httpx.stream(
            "POST", _url(base, "ndjson"), json=SLOW, headers={"X-API-Key": key}, timeout=60
        ) as r,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        for _ in r.iter_bytes():
            pass
    events = httpx.get(
        f"{base}/v1/audit", params={"action": "query.export", "limit": 1},
        headers={"X-API-Key": key},
    ).json()["data"]  # fmt: skip
    assert events[0]["status"] == "error" and events[0]["error_code"] == "timeout"
    assert events[0]["row_count"] > 0
