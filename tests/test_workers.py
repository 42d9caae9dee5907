"""`sqlgate serve --workers N|auto`: N processes, each with its own listening socket in the
port's SO_REUSEPORT group (the kernel spreads connections over them), stopped cleanly."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.test_server import add_chinook, prepare, sqlgate, start_server

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT balancing"),
]


def _listeners(port: int) -> int:
    """Listening TCP sockets on ``port`` (state 0A in /proc/net/tcp)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                count += 1
    return count


def test_each_worker_listens_and_answers(tmp_path: Path) -> None:
    key = json.loads(prepare("init", "--json", data_dir=tmp_path).stdout)["api_key"]
    add_chinook(tmp_path)
    proc, base = start_server(tmp_path, "--workers", "3")
    try:
        port = int(base.rsplit(":", 1)[1])
        for _ in range(30):  # new connections land on every worker's socket
            with httpx.Client(headers={"X-API-Key": key}, timeout=10) as client:
                r = client.post(
                    f"{base}/api/v1/query/chinook", json={"query": "SELECT count(*) FROM Album"}
                )
                assert r.status_code == 200 and r.json()["rows"] == [[347]], r.text
        assert _listeners(port) == 3
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    assert output.count("Application shutdown complete") == 3, output


def test_workers_auto_and_bad_counts(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "sqlgate", "serve", "--data-dir", str(tmp_path), "--workers"]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    # Both together: each is a whole interpreter start.
    refusals = [subprocess.Popen([*argv, bad], **pipes) for bad in ("0", "many")]
    for refusal in refusals:
        _, err = refusal.communicate(timeout=120)
        assert refusal.returncode == 2 and "--workers" in err, err
    prepare("init", data_dir=tmp_path)
    proc, base = start_server(tmp_path, "--workers", "auto")
    try:
        assert httpx.get(f"{base}/healthz").status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output


def test_a_taken_port_is_an_error(tmp_path: Path) -> None:
    prepare("init", data_dir=tmp_path)
    proc, base = start_server(tmp_path)  # one process on a plain socket holds the port
    try:
        port = base.rsplit(":", 1)[1]
        r = sqlgate("serve", "--workers", "2", "--port", port, data_dir=tmp_path)
        assert r.returncode != 0
        assert "address already in use" in (r.stdout + r.stderr).lower()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
