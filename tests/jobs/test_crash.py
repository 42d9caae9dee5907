"""`kill -9` the server while a job runs and while a result file is being written, then
restart: no job is stuck running, no partial file is served, the metadata store is intact,
and results finished before the crash still download."""

from __future__ import annotations

import io
import sqlite3
import time
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from tests.jobs.server import Served, init_data_dir

pytestmark = pytest.mark.server

COMPUTE = "SELECT count(*) FROM range(300000) a, range(300000) b WHERE a.range + b.range < 0"
# Tens of millions of rows to CSV: many seconds of writing chunk files.
STREAM = "SELECT range AS id, md5(range::VARCHAR) AS h FROM range(60000000)"


def partial_files(data_dir: Path, job_id: str) -> list[Path]:
    return list((data_dir / "results" / job_id).glob(".*.tmp"))


def test_kill_9_and_restart(tmp_path: Path) -> None:
    server = Served(
        tmp_path,
        init_data_dir(tmp_path),
        env={"SQLGATE_ASYNC_CHUNK_ROWS": "2000000", "SQLGATE_ASYNC_POLL_SECONDS": "0.2"},
    )
    server.start()
    try:
        # A result finished before the crash.
        done = server.wait_done(server.submit("SELECT id FROM t ORDER BY id").json()["job_id"])
        old_link = done["result"]["chunks"][0]["url"].removeprefix(server.base)
        old_bytes = httpx.get(server.base + old_link).content

        # 1. Killed while the engine computes (nothing written yet).
        computing = server.submit(COMPUTE).json()["job_id"]
        server.wait_state(computing, "running")
        time.sleep(0.5)
        server.kill9()
        server.start()
        job = server.job(computing)
        assert job["state"] == "failed" and job["error"]["code"] == "job_interrupted", job
        assert "submit the query again" in job["error"]["message"]

        # 2. Killed while a result file is being written.
        writing = server.submit(STREAM, format="csv").json()["job_id"]
        until = time.monotonic() + 60
        while not partial_files(tmp_path, writing):
            assert time.monotonic() < until, server.job(writing)
            time.sleep(0.05)
        running = server.job(writing)
        assert running["state"] == "running" and running["result"] is None
        links = httpx.post(f"{server.base}/v1/jobs/{writing}/links", headers=server.headers)
        assert links.status_code == 409  # nothing to download while it is written
        server.kill9()
        assert partial_files(tmp_path, writing)  # the crash left a partial file behind

        server.start()
        job = server.job(writing)
        assert job["state"] == "failed" and job["error"]["code"] == "job_interrupted", job
        assert job["result"] is None
        assert not (tmp_path / "results" / writing).exists()  # partial files removed
        assert not list((tmp_path / "results").glob("*/.*.tmp"))
        links = httpx.post(f"{server.base}/v1/jobs/{writing}/links", headers=server.headers)
        assert links.status_code == 409

        # Nothing is stuck running; the finished result survived, old link and all.
        for job_id in (done["job_id"], computing, writing):
            assert server.job(job_id)["state"] != "running"
        assert httpx.get(server.base + old_link).content == old_bytes  # (a new port)
        fresh = server.job(done["job_id"])["result"]["chunks"][0]["url"]
        assert pq.read_table(io.BytesIO(httpx.get(fresh).content)).num_rows == 100_000

        # The store is intact and the server works as before.
        again = server.wait_done(server.submit("SELECT count(*) AS n FROM t").json()["job_id"])
        assert again["state"] == "succeeded"
    finally:
        server.stop()
    with sqlite3.connect(tmp_path / "sqlgate.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        states = dict(
            db.execute("SELECT state, count(*) FROM query_jobs GROUP BY state").fetchall()
        )
    assert "running" not in states and states["failed"] == 2
