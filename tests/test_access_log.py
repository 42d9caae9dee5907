"""`sqlgate serve`'s access log: one line per request, shortly after it (written in the
background), and none with `--no-access-log`."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.test_server import start_server

pytestmark = pytest.mark.server


def _served_output(tmp_path: Path, *args: str) -> tuple[str, str]:
    """Serve, send one request, wait briefly, stop; the server's output before and after
    the stop."""
    proc, base = start_server(tmp_path, *args)
    try:
        assert httpx.get(f"{base}/healthz?probe=access-log").status_code == 200
        time.sleep(0.5)  # the access log is flushed in the background, within 0.05 s
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=20)
    except BaseException:
        proc.kill()
        raise
    return base, output


def test_each_request_is_logged_and_flushed(tmp_path: Path) -> None:
    _, output = _served_output(tmp_path)
    assert '"GET /healthz?probe=access-log HTTP/1.1" 200' in output


def test_no_access_log(tmp_path: Path) -> None:
    _, output = _served_output(tmp_path, "--no-access-log")
    assert "probe=access-log" not in output
    assert "Application startup complete" in output  # the other logs are still there


def test_a_line_is_out_before_the_server_stops(tmp_path: Path) -> None:
    proc, base = start_server(tmp_path)
    try:
        assert proc.stdout is not None
        assert httpx.get(f"{base}/healthz?probe=early").status_code == 200
        deadline = time.monotonic() + 5
        seen = ""
        while "probe=early" not in seen and time.monotonic() < deadline:
            seen += proc.stdout.readline()
        assert "probe=early" in seen
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
