"""An idle server process keeps the metadata store quiet: of its job workers one at a time looks
for queued jobs (every ``async_poll_seconds``), its workflow workers sleep until the scheduler or
a manual run wakes them; yet a job submitted here starts at once, jobs queued by another process
are all taken by the poller and the workers it wakes, and stopping still stops every thread."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from sqlgate.auth.principal import Principal, authenticate
from sqlgate.container import Services
from sqlgate.jobs.runner import JobRunner
from sqlgate.jobs.service import JobSpec
from sqlgate.services import orgs
from sqlgate.store.models import QueryJob
from tests.conftest import build_corpus_duckdb, make_settings

POLL = 0.1


@pytest.fixture
def two_processes(tmp_path: Path) -> Iterator[tuple[Services, Services, Principal]]:
    """Two sets of services, as two server processes would build them, on one SQLite store."""
    settings = make_settings(
        tmp_path, async_workers=4, async_org_concurrency=50, async_poll_seconds=POLL,
        workflow_workers=4, scheduler_interval=POLL,
    )  # fmt: skip
    first = Services.build(settings)
    second = Services.build(settings)
    init = orgs.init_organization(first.store, name="Acme", owner_email="o@acme.test")
    assert init.key is not None
    build_corpus_duckdb(tmp_path / "databases" / "c.duckdb")
    first.connections.create(init.org_id, name="duck", type="duckdb", database="c.duckdb")
    try:
        yield first, second, authenticate(first.store, init.key.api_key)
    finally:
        second.close()
        first.close()


def _statements(services: Services) -> Counter[str]:
    """Counts of the store's statements from now on: job claims (the SELECT of queued jobs)
    and workflow run claims (the UPDATE of the oldest queued run)."""
    seen: Counter[str] = Counter()

    def count(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        text = " ".join(sql.split()).lower()
        if text.startswith("select query_jobs.id, query_jobs.org_id"):
            seen["job_looks"] += 1
        elif text.startswith("update workflow_runs") and "queued" in text:
            seen["run_looks"] += 1

    event.listen(services.store.engine, "before_cursor_execute", count)
    return seen


def _wait_done(services: Services, ids: set[str], seconds: float) -> float:
    started = time.monotonic()
    while True:
        with services.store.session() as session:
            states = dict(session.execute(select(QueryJob.id, QueryJob.state)).all())
        if all(states.get(i) == "succeeded" for i in ids):
            return time.monotonic() - started
        assert time.monotonic() - started < seconds, states
        time.sleep(0.02)


def test_an_idle_process_looks_at_the_store_once_per_interval(
    two_processes: tuple[Services, Services, Principal],
) -> None:
    first, _second, _principal = two_processes
    runner = JobRunner(first.settings, first.store, first.queries, first.jobs)
    runner.start()
    first.workflow_engine.start()
    try:
        time.sleep(0.5)  # the first look of every worker
        seen = _statements(first)
        time.sleep(2.0)
    finally:
        first.workflow_engine.stop()
        runner.stop()
    # One poller, every POLL seconds: about 20 looks in 2 s (four workers each polling: 80).
    assert 10 <= seen["job_looks"] <= 2.0 / POLL + 6, seen
    # Workflow workers are woken by the scheduler's look, which found nothing queued.
    assert seen["run_looks"] == 0, seen


def test_jobs_start_at_once_here_and_within_the_interval_from_elsewhere(
    two_processes: tuple[Services, Services, Principal],
) -> None:
    first, second, principal = two_processes
    runner = JobRunner(first.settings, first.store, first.queries, first.jobs)
    runner.start()
    try:
        time.sleep(0.5)  # every worker idle: one polls, three sleep
        # Queued by another process (its runner is not started): the poller takes one and
        # wakes the others, so all eight run, four at a time.
        elsewhere = {
            second.jobs.submit(principal, "duck", JobSpec(sql=f"SELECT {i} AS n")).job.id
            for i in range(8)
        }
        assert _wait_done(first, elsewhere, 10) < 5
        with first.store.session() as session:
            runners = set(
                session.scalars(select(QueryJob.runner).where(QueryJob.id.in_(elsewhere)))
            )
        assert runners == {runner.identity}
        time.sleep(0.5)
        here = first.jobs.submit(principal, "duck", JobSpec(sql="SELECT 1 AS n")).job.id
        assert _wait_done(first, {here}, 5) < 2
    finally:
        started = time.monotonic()
        runner.stop()
        assert time.monotonic() - started < 5  # no worker is left asleep
