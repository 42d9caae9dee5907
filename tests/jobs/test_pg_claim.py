"""Several server processes sharing a PostgreSQL metadata store: a job is claimed and run by
exactly one of them; a cancel made in one reaches the process running the job; a job whose
process stopped reporting is failed, not left running."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from sqlgate.auth.principal import Principal, authenticate
from sqlgate.container import Services
from sqlgate.jobs.model import INTERRUPTED, JobState
from sqlgate.jobs.runner import JobRunner
from sqlgate.jobs.service import JobSpec
from sqlgate.services import orgs
from sqlgate.store.models import AuditEvent, QueryJob, utcnow
from tests.conftest import build_corpus_duckdb, make_settings
from tests.services import fresh_pg_database

pytestmark = pytest.mark.postgres


@pytest.fixture
def two_processes(tmp_path: Path) -> Iterator[tuple[Services, Services, Principal]]:
    """Two sets of services (as two server processes would build them) on one PostgreSQL
    store and one data dir."""
    with fresh_pg_database() as url:
        settings = make_settings(
            tmp_path, database_url=url, async_workers=3, async_org_concurrency=50,
            async_poll_seconds=0.1,
        )  # fmt: skip
        first = Services.build(settings)
        second = Services.build(settings)
        init = orgs.init_organization(first.store, name="Acme", owner_email="o@acme.test")
        assert init.key is not None
        build_corpus_duckdb(tmp_path / "databases" / "c.duckdb")
        first.connections.create(init.org_id, name="duck", type="duckdb", database="c.duckdb")
        principal = authenticate(first.store, init.key.api_key)
        try:
            yield first, second, principal
        finally:
            second.close()
            first.close()


def runner(services: Services) -> JobRunner:
    return JobRunner(services.settings, services.store, services.queries, services.jobs)


def test_concurrent_claims_never_take_one_job_twice(
    two_processes: tuple[Services, Services, Principal],
) -> None:
    first, second, principal = two_processes
    ids = {
        first.jobs.submit(principal, "duck", JobSpec(sql=f"SELECT {i} AS n")).job.id
        for i in range(40)
    }
    runners = [runner(first), runner(second)]
    claimed: list[tuple[str, str]] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def claim_all(r: JobRunner) -> None:
        start.wait()
        while (job := r._claim()) is not None:
            with lock:
                claimed.append((job.id, r.identity))

    threads = [threading.Thread(target=claim_all, args=(runners[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    taken = [job_id for job_id, _ in claimed]
    assert sorted(taken) == sorted(ids)  # every job once, none twice
    with first.store.session() as session:
        rows = session.execute(select(QueryJob.id, QueryJob.runner, QueryJob.state)).all()
    owners = dict(claimed)
    assert all(state == "running" and owners[job_id] == who for job_id, who, state in rows)


def test_two_running_pools_run_each_job_once(
    two_processes: tuple[Services, Services, Principal],
) -> None:
    first, second, principal = two_processes
    pools = [runner(first), runner(second)]
    for pool in pools:
        pool.start()
    try:
        jobs = {}
        for i in range(30):
            services = (first, second)[i % 2]
            sql = f"SELECT {i} AS n FROM range({i + 1})"
            jobs[services.jobs.submit(principal, "duck", JobSpec(sql=sql)).job.id] = (sql, i + 1)
        until = time.monotonic() + 60
        while True:
            with first.store.session() as session:
                states = dict(session.execute(select(QueryJob.id, QueryJob.state)).all())
            if all(s == "succeeded" for s in states.values()):
                break
            assert time.monotonic() < until, states
            time.sleep(0.1)
        for job_id, (_sql, rows) in jobs.items():
            view = first.jobs.peek(job_id)
            assert view is not None and view.row_count == rows
    finally:
        for pool in pools:
            pool.stop()
    first.audit.flush()
    second.audit.flush()
    with first.store.session() as session:
        audited = session.scalars(
            select(AuditEvent.sql).where(AuditEvent.action == "query.async")
        ).all()
    assert sorted(audited) == sorted(sql for sql, _ in jobs.values())  # each ran exactly once


def test_cancel_from_another_process_and_stale_jobs(
    two_processes: tuple[Services, Services, Principal],
) -> None:
    first, second, principal = two_processes
    pool = runner(first)
    pool.start()
    try:
        slow = "SELECT count(*) FROM range(300000) a, range(300000) b WHERE a.range + b.range < 0"
        job_id = first.jobs.submit(principal, "duck", JobSpec(sql=slow)).job.id
        until = time.monotonic() + 20
        while (view := first.jobs.peek(job_id)) is not None and view.state != JobState.RUNNING:
            assert time.monotonic() < until
            time.sleep(0.05)
        started = time.monotonic()
        second.jobs.cancel(principal, job_id)  # the other process: only the store connects them
        while (view := first.jobs.peek(job_id)) is not None and not view.finished:
            assert time.monotonic() - started < 10
            time.sleep(0.05)
        assert view is not None and view.state == JobState.CANCELED
    finally:
        pool.stop()

    # A job left running by a process on another host that stopped reporting.
    orphan = first.jobs.submit(principal, "duck", JobSpec(sql="SELECT 1")).job.id
    with first.store.session() as session:
        session.execute(
            update(QueryJob)
            .where(QueryJob.id == orphan)
            .values(
                state="running",
                runner="elsewhere:1:dead",
                heartbeat_at=utcnow() - timedelta(minutes=5),
            )
        )
    assert runner(second).fail_stale() == [orphan]
    view = first.jobs.peek(orphan)
    assert view is not None and view.state == JobState.FAILED and view.error_code == INTERRUPTED
