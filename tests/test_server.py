"""Through a real `sqlgate serve` process on a free port, as a user runs it."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from unittest.mock import patch

import httpx
import openpyxl
import pyarrow.parquet as pq
import pytest

from sqlgate.cli import main
from tests.conftest import CHINOOK_SQLITE

pytestmark = pytest.mark.server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sqlgate(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sqlgate", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def prepare(
    *args: str, data_dir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`sqlgate <args>` run in this process (the CLI's own `main`, its output captured), for
    preparing a data directory before a server starts: the same code as :func:`sqlgate`
    without the 2 to 3 s a new interpreter takes to import sqlgate. ``env`` is added to the
    environment while it runs; the environment is restored afterwards."""
    argv = [*args, "--data-dir", str(data_dir)]
    out, err = io.StringIO(), io.StringIO()
    with (
        patch.dict(os.environ, env or {}),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        code = main(argv)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def add_chinook(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return prepare(
        "connections", "add", "chinook", "--type", "sqlite",
        "--database", str(CHINOOK_SQLITE), data_dir=data_dir,
    )  # fmt: skip


def start_server(
    data_dir: Path, *args: str, env: dict[str, str] | None = None, https: bool = False
) -> tuple[subprocess.Popen[str], str]:
    """`sqlgate serve` on a free port, waited on until /healthz answers. Rate limits are off
    unless ``env`` (added to the environment) says otherwise. With ``https`` (the caller passes
    the TLS options) the wait does not check the certificate; the caller's requests should."""
    [started] = start_servers(data_dir, 1, *args, env=env, https=https)
    return started


def start_servers(
    data_dir: Path, count: int, *args: str, env: dict[str, str] | None = None, https: bool = False
) -> list[tuple[subprocess.Popen[str], str]]:
    """``count`` servers as :func:`start_server` starts one, on one data directory (prepared
    beforehand: the servers start together), each on its own port."""
    started = []
    for _ in range(count):
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "sqlgate", "serve", "--port", str(port),
             "--data-dir", str(data_dir), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "SQLGATE_RATE_LIMIT_ENABLED": "false", **(env or {})},
        )  # fmt: skip
        started.append((proc, f"{'https' if https else 'http'}://127.0.0.1:{port}"))
    deadline = time.monotonic() + 60
    for proc, base in started:
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1, verify=not https).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                for other, _ in started:
                    other.kill()
                pytest.fail(f"server did not start:\n{proc.stdout.read() if proc.stdout else ''}")
            time.sleep(0.2)
    return started


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("served")
    proc, base = start_server(data_dir, "--demo")
    yield base, data_dir
    proc.send_signal(signal.SIGINT)
    try:
        output, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("server did not stop on SIGINT")
    assert proc.returncode == 0, output
    assert f"{base}/docs" in output


@pytest.fixture(scope="module")
def key(server: tuple[str, Path]) -> str:
    _, data_dir = server
    first = sqlgate("init", "--json", data_dir=data_dir)
    assert first.returncode == 0, first.stderr
    payload = json.loads(first.stdout)
    assert payload["api_key"].startswith("sqg_") and payload["org_id"].startswith("org_")
    assert payload["connections"] == ["demo"]
    second = sqlgate("init", data_dir=data_dir)
    assert second.returncode == 0 and "already exists" in second.stdout
    assert "sqlgate keys create" in second.stdout
    return str(payload["api_key"])


def test_query_the_demo(server: tuple[str, Path], key: str) -> None:
    base, _ = server
    r = httpx.post(
        f"{base}/api/v1/query/demo",
        headers={"Authorization": f"Bearer {key}"},
        json={"query": "SELECT count(*) AS n FROM orders"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["rows"][0][0] > 1000
    joined = httpx.post(
        f"{base}/api/v1/query/demo",
        headers={"X-API-Key": key},
        json={
            "query": "SELECT date_trunc('year', o.order_date) AS y, sum(i.quantity) AS units "
            "FROM orders o JOIN order_items i USING (order_id) GROUP BY 1 ORDER BY 1"
        },
    ).json()
    assert joined["row_count"] >= 3


def test_validate(server: tuple[str, Path], key: str) -> None:
    base, _ = server
    r = httpx.post(
        f"{base}/api/v1/query/demo/validate",
        headers={"X-API-Key": key},
        json={"query": "DROP TABLE orders"},
    )
    assert r.status_code == 200
    assert r.json()["is_valid"] is False


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson", "excel", "parquet"])
def test_export_each_format(server: tuple[str, Path], key: str, fmt: str) -> None:
    base, _ = server
    r = httpx.post(
        f"{base}/api/v1/query/demo/export",
        params={"format": fmt},
        headers={"X-API-Key": key},
        timeout=60,
        json={"query": "SELECT * FROM customers ORDER BY customer_id LIMIT 100"},
    )
    assert r.status_code == 200, r.text
    if fmt == "csv":
        assert len(list(csv.reader(io.StringIO(r.text)))) == 101
    elif fmt == "json":
        assert len(r.json()) == 100
    elif fmt == "ndjson":
        assert len(r.text.splitlines()) == 100
    elif fmt == "excel":
        assert openpyxl.load_workbook(io.BytesIO(r.content)).active.max_row == 101
    else:
        assert pq.read_table(io.BytesIO(r.content)).num_rows == 100


def test_connections_add_from_cli(server: tuple[str, Path], key: str) -> None:
    base, data_dir = server
    added = sqlgate(
        "connections", "add", "chinook", "--type", "sqlite",
        "--database", str(CHINOOK_SQLITE), data_dir=data_dir,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    r = httpx.post(
        f"{base}/api/v1/query/chinook",
        headers={"X-API-Key": key},
        json={"query": "SELECT count(*) FROM Track"},
    )
    assert r.json()["rows"] == [[3503]]
    issued = sqlgate("keys", "create", "--scopes", "query:validate", "--json", data_dir=data_dir)
    limited = json.loads(issued.stdout)["api_key"]
    refused = httpx.post(
        f"{base}/api/v1/query/chinook", headers={"X-API-Key": limited}, json={"query": "SELECT 1"}
    )
    assert refused.status_code == 403


def test_serve_with_two_workers(tmp_path: Path) -> None:
    init = prepare("init", "--json", data_dir=tmp_path)
    key = json.loads(init.stdout)["api_key"]
    add_chinook(tmp_path)
    proc, base = start_server(tmp_path, "--workers", "2")
    try:
        r = httpx.post(f"{base}/api/v1/query/chinook", headers={"X-API-Key": key},
                       json={"query": "SELECT count(*) FROM Album"}, timeout=10)  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.json()["rows"] == [[347]]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
