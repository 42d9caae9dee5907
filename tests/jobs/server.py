"""A real `sqlgate serve` process for the async-query tests, with its log in a file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from tests.test_server import free_port, prepare


def make_duckdb(path: Path) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE t AS SELECT range AS id, 'name_' || range AS name FROM range(100000)"
        )
    return path


def init_data_dir(data_dir: Path) -> tuple[str, str]:
    """An org with an owner key and a DuckDB connection `big` (table `t`, 100,000 rows).
    Returns the key and the org id."""
    data_dir.mkdir(parents=True, exist_ok=True)
    init = prepare("init", "--json", data_dir=data_dir)
    assert init.returncode == 0, init.stderr
    db = make_duckdb(data_dir / "big.duckdb")
    added = prepare("connections", "add", "big", "--type", "duckdb", "--database", str(db),
                    data_dir=data_dir)  # fmt: skip
    assert added.returncode == 0, added.stderr
    payload = json.loads(init.stdout)
    return str(payload["api_key"]), str(payload["org_id"])


@dataclass
class Served:
    data_dir: Path
    ids: tuple[str, str]  # (owner key, org id)
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    base: str = ""

    @property
    def log(self) -> Path:
        return self.data_dir / "server.log"

    @property
    def key(self) -> str:
        return self.ids[0]

    @property
    def org_id(self) -> str:
        return self.ids[1]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def start(self) -> None:
        port = free_port()
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sqlgate", "serve", "--port", str(port),
                 "--data-dir", str(self.data_dir)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "SQLGATE_RATE_LIMIT_ENABLED": "false", **self.env},
            )  # fmt: skip
        self.base = f"http://127.0.0.1:{port}"
        until = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > until:
                self.proc.kill()
                pytest.fail(f"server did not start:\n{self.log.read_text()}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    # --- API helpers ---------------------------------------------------------------------

    def submit(self, query: str, **body: Any) -> httpx.Response:
        return httpx.post(
            f"{self.base}/v1/jobs",
            json={"query": query, "connection_id": "big", **body},
            headers=self.headers,
            timeout=30,
        )

    def job(self, job_id: str, wait: float = 0) -> dict[str, Any]:
        r = httpx.get(
            f"{self.base}/v1/jobs/{job_id}", params={"wait": wait}, headers=self.headers,
            timeout=wait + 30,
        )  # fmt: skip
        assert r.status_code == 200, r.text
        job: dict[str, Any] = r.json()
        return job

    def wait_done(self, job_id: str, limit: float = 120) -> dict[str, Any]:
        until = time.monotonic() + limit
        while True:
            job = self.job(job_id, wait=5)
            if job["state"] in ("succeeded", "failed", "canceled"):
                return job
            assert time.monotonic() < until, job

    def wait_state(self, job_id: str, state: str, limit: float = 30) -> dict[str, Any]:
        until = time.monotonic() + limit
        while True:
            job = self.job(job_id)
            if job["state"] == state:
                return job
            assert time.monotonic() < until, job
            time.sleep(0.05)
