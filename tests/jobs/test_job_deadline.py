"""A job's timeout holds while its result files are written: with small files (a few rows
each), one batch or chunk the engine hands over becomes thousands of fsynced files, and a job
past its deadline must stop within a moment, not once that batch is all written.

Each query below returns far more rows than its job can write as 2-row files in its 1 s
timeout. The job must end as any timed-out job does (``failed`` with the ``timeout`` error,
an ``error`` audit row with the rows read, no files left) within a few seconds, on every engine
and format: DuckDB and SQLite through Arrow batches (in process), PostgreSQL through Arrow
batches (Parquet) and through its own CSV text (a CSV job)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.test_pg_csv_export import pg_body, pg_url  # noqa: F401 - pg_url is a fixture
from tests.api.test_servers import mysql_body
from tests.conftest import Env, open_env
from tests.jobs.test_pg_csv_job import last_audit
from tests.mysql_services import fresh_mysql_database

TIMEOUT = 1
#: How long past its timeout a job may take to stop and report (the engine's interrupt, closing
#: its session, deleting the files written so far, the poll that sees the outcome).
SLACK = 3

#: Endless or huge results, whose first batch alone is tens of thousands of 2-row files.
MANY_ROWS = {
    "duck": "SELECT range AS n, 'row ' || range AS s FROM range(1000000000)",
    "lite": (
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) "
        "SELECT n, 'row ' || n AS s FROM t"
    ),
    "my": "SELECT a.n * 1000 + b.n AS n, CONCAT('row ', b.n) AS s FROM thousand a, thousand b",
    "pg": (  # two series, as one would materialise before its first row
        "SELECT a * 100000 + b AS n, 'row ' || b AS s "
        "FROM generate_series(0, 99999) AS a, generate_series(1, 100000) AS b"
    ),
}


@pytest.fixture(scope="module")
def small_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield from open_env(tmp_path_factory.mktemp("deadline"), async_chunk_rows=2)


def run_job(
    env: Env, connection: str, fmt: str, query: str, **body: Any
) -> tuple[dict[str, Any], float]:
    """Submit a job, wait for its end; the job and the seconds from submission to its end."""
    started = time.monotonic()
    r = env.client.post(
        "/v1/jobs",
        json={"connection_id": connection, "format": fmt, "query": query, **body},
        headers=env.org.headers(),
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    until = started + 120
    while True:
        job: dict[str, Any] = env.client.get(
            f"/v1/jobs/{job_id}?wait=1", headers=env.org.headers()
        ).json()
        if job["state"] in ("succeeded", "failed", "canceled"):
            return job, time.monotonic() - started
        assert time.monotonic() < until, job


def assert_stops_at_its_timeout(
    env: Env, connection: str, fmt: str, timeout: float = TIMEOUT
) -> None:
    job, elapsed = run_job(env, connection, fmt, MANY_ROWS[connection], timeout=timeout)
    assert job["state"] == "failed", job
    assert job["error"]["code"] == "timeout", job
    assert f"timeout of {timeout:g} s" in job["error"]["message"]
    assert elapsed < timeout + SLACK, f"the job ended {elapsed:.1f} s after it was submitted"
    event = last_audit(env)
    assert (event["status"], event["error_code"]) == ("error", "timeout")
    assert event["row_count"] > 0  # rows were read, and files written, before the deadline
    # The files written so far are deleted (just after the job is marked failed).
    directory = env.org.services.jobs.results.job_dir(job["job_id"])
    until = time.monotonic() + SLACK
    while directory.exists():
        assert time.monotonic() < until, sorted(p.name for p in directory.iterdir())[:5]
        time.sleep(0.05)
    # The connection still answers.
    again, _ = run_job(env, connection, fmt, "SELECT 3 AS three")
    assert again["state"] == "succeeded" and again["result"]["row_count"] == 1, again


@pytest.mark.parametrize("fmt", ["parquet", "csv", "json", "ndjson"])
def test_a_duckdb_job_in_small_files_stops_at_its_timeout(small_files: Env, fmt: str) -> None:
    assert_stops_at_its_timeout(small_files, "duck", fmt)


def test_a_sqlite_job_in_small_files_stops_at_its_timeout(small_files: Env) -> None:
    assert_stops_at_its_timeout(small_files, "lite", "csv")


@pytest.fixture(scope="module")
def pg_small_files(
    tmp_path_factory: pytest.TempPathFactory,
    pg_url: str,  # noqa: F811
) -> Iterator[Env]:
    for env in open_env(tmp_path_factory.mktemp("deadline-pg"), async_chunk_rows=2):
        created = env.client.post(
            "/v1/connections", json=pg_body(pg_url, "pg"), headers=env.org.headers()
        )
        assert created.status_code == 201, created.text
        yield env


@pytest.mark.postgres
@pytest.mark.parametrize("fmt", ["csv", "parquet"])  # the server's CSV text; Arrow batches
def test_a_postgres_job_in_small_files_stops_at_its_timeout(pg_small_files: Env, fmt: str) -> None:
    assert_stops_at_its_timeout(pg_small_files, "pg", fmt)


def test_a_cancel_stops_a_job_in_small_files_at_once(small_files: Env) -> None:
    """The same checks between files carry a cancel: it no longer waits for the engine's
    batch to be written as thousands of files."""
    env = small_files
    r = env.client.post(
        "/v1/jobs",
        json={"connection_id": "duck", "format": "csv", "query": MANY_ROWS["duck"], "timeout": 600},
        headers=env.org.headers(),
    )
    job_id = r.json()["job_id"]
    until = time.monotonic() + 20
    while env.client.get(f"/v1/jobs/{job_id}", headers=env.org.headers()).json()["row_count"] < 10:
        assert time.monotonic() < until  # files are being written
        time.sleep(0.05)
    started = time.monotonic()
    canceled = env.client.post(f"/v1/jobs/{job_id}/cancel", headers=env.org.headers())
    assert canceled.status_code == 200, canceled.text
    while True:
        job = env.client.get(f"/v1/jobs/{job_id}?wait=1", headers=env.org.headers()).json()
        if job["state"] != "running":
            break
        assert time.monotonic() < started + 60, job
    assert job["state"] == "canceled" and job["error"]["code"] == "canceled", job
    assert time.monotonic() - started < SLACK


@pytest.fixture(scope="module")
def my_small_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with fresh_mysql_database() as db:
        with db.admin() as admin, admin.cursor() as cursor:
            cursor.execute("CREATE TABLE thousand (n INT PRIMARY KEY)")
            cursor.execute(
                "INSERT INTO thousand VALUES " + ", ".join(f"({i})" for i in range(1000))
            )
        for env in open_env(tmp_path_factory.mktemp("deadline-my"), async_chunk_rows=2):
            created = env.client.post(
                "/v1/connections", json=mysql_body(db, "my"), headers=env.org.headers()
            )
            assert created.status_code == 201, created.text
            yield env


@pytest.mark.postgres  # the marker of the tests that need the database servers
def test_a_mariadb_job_in_small_files_stops_at_its_timeout(my_small_files: Env) -> None:
    # The driver reads rows one by one in Python: its first batch took over 1 s here.
    assert_stops_at_its_timeout(my_small_files, "my", "csv", timeout=3)
