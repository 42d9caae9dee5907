"""1,000 enabled workflows due at the same second: how late each fires, and the server's CPU
while nothing is due.

Each round starts one sqlgate process (``--workers`` workflow workers, default 4) on a DuckDB
file, with a fresh metadata store (SQLite in the data directory, or a new PostgreSQL database
with ``--postgres URL``). While the server has no workflow it measures the process's CPU for
``--idle`` seconds (the peer: the same server, nothing scheduled); it then creates
``--workflows`` workflows through ``POST /v1/workflows``, each a ``SELECT 1`` query step on a
six-field cron schedule (``S M H * * *``) naming one second ``--lead`` seconds ahead, and
measures the CPU again while they wait (nothing due: the scheduler only looks). After the
second has come it reads every run from the metadata store and reports, per run, how late it
was claimed (its run inserted, ``queued``), started (``running``: the fire latency) and
finished, relative to its scheduled time.

Targets: every workflow starts within 5 s of its time; the server's CPU with the workflows
waiting stays under 1 %. The summary is the median over ``--rounds`` rounds (default 3) of each
figure; exit status 1 if a median misses a target.

    .venv/bin/python bench/workflows_scheduler.py [--workflows 1000] [--rounds 3] [--lead 45]
    .venv/bin/python bench/workflows_scheduler.py --postgres postgresql://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import psutil
import sqlalchemy as sa
from _common import install_signal_handlers, machine, source_state, start_sqlgate, table

TARGET_SECONDS = 5.0
IDLE_CPU_TARGET = 1.0
EVENTS = ("claimed", "started", "finished")


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _quantiles(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return float("nan"), float("nan"), float("nan")
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return pick(0.5), pick(0.95), ordered[-1]


def _cpu(proc: psutil.Process, seconds: float) -> float:
    """The process's CPU over ``seconds``, in % of one core."""
    cpu0, wall0 = proc.cpu_times(), time.monotonic()
    time.sleep(seconds)
    cpu1, wall1 = proc.cpu_times(), time.monotonic()
    used = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    return 100 * used / (wall1 - wall0)


@contextmanager
def _metadata_store(postgres: str | None, data: Path) -> Iterator[str]:
    """The metadata store's URL: a new PostgreSQL database (dropped after), or SQLite."""
    if postgres is None:
        yield f"sqlite:///{data / 'sqlgate.db'}"
        return
    name = f"sqlgate_bench_wf_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(
        postgres.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _runs(url: str) -> list[Any]:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    sa.text(
                        "SELECT scheduled_for, created_at, started_at, finished_at, status "
                        "FROM workflow_runs"
                    )
                )
            )
    finally:
        engine.dispose()


def one_round(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    data = work / "data"
    data.mkdir()
    with duckdb.connect(str(work / "shop.duckdb")) as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS one")
    with _metadata_store(args.postgres, data) as url:
        os.environ["SQLGATE_DATABASE_URL"] = url  # for `sqlgate init` and the server
        server, base, key = start_sqlgate(
            data,
            {"shop": ("duckdb", work / "shop.duckdb")},
            work / "server.log",
            env={"SQLGATE_WORKFLOW_WORKERS": str(args.workers)},
        )
        try:
            proc = psutil.Process(server.pid)
            time.sleep(2)
            empty_cpu = _cpu(proc, args.idle)
            due = (datetime.now(UTC) + timedelta(seconds=args.lead)).replace(microsecond=0)
            body = {
                "trigger": {
                    "type": "schedule",
                    "cron": f"{due.second} {due.minute} {due.hour} * * *",
                    "timezone": "UTC",
                },
                "steps": [{"type": "query", "connection_id": "shop", "sql": "SELECT 1 AS one"}],
            }
            started = time.monotonic()
            with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=30) as client:
                for i in range(args.workflows):
                    r = client.post("/v1/workflows", json={**body, "name": f"wf {i}"})
                    r.raise_for_status()
            created_in = time.monotonic() - started
            if datetime.now(UTC) + timedelta(seconds=args.idle + 3) > due:
                sys.exit(f"creating took {created_in:.0f}s: raise --lead")
            time.sleep(2)
            waiting_cpu = _cpu(proc, args.idle)
            deadline = due + timedelta(seconds=60)
            time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 3)
            while True:
                rows = _runs(url)
                done = sum(1 for r in rows if r.finished_at is not None)
                if done >= args.workflows or datetime.now(UTC) > deadline:
                    break
                time.sleep(1)
        finally:
            server.stop()
            os.environ.pop("SQLGATE_DATABASE_URL", None)
    lags: dict[str, list[float]] = {name: [] for name in EVENTS}
    for row in rows:
        at = _aware(row.scheduled_for)
        for name, value in zip(EVENTS, row[1:4], strict=True):
            when = _aware(value)
            if at is not None and when is not None:
                lags[name].append((when - at).total_seconds())
    result: dict[str, Any] = {"runs": len(rows), "empty_cpu": empty_cpu, "cpu": waiting_cpu}
    for name, values in lags.items():
        result[name] = (sum(1 for v in values if v <= TARGET_SECONDS), *_quantiles(values))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lead", type=int, default=45, help="Seconds from now to the due time")
    parser.add_argument("--idle", type=float, default=15.0, help="Seconds of each CPU measure")
    parser.add_argument("--workers", type=int, default=4, help="SQLGATE_WORKFLOW_WORKERS")
    parser.add_argument("--postgres", help="A PostgreSQL URL: the metadata store goes there")
    args = parser.parse_args()
    install_signal_handlers()
    results = []
    for n in range(args.rounds):
        work = Path(tempfile.mkdtemp(prefix="sqlgate-bench-wf-"))
        try:
            result = one_round(args, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        results.append(result)
        print(
            f"round {n + 1}: {result['runs']} runs; started within {TARGET_SECONDS:g} s: "
            f"{result['started'][0]}, max {result['started'][3]:.2f} s; CPU idle "
            f"{result['empty_cpu']:.2f} % without workflows, {result['cpu']:.2f} % with them",
            flush=True,
        )

    def med(values: list[float]) -> float:
        return float(statistics.median(values))

    rows = []
    for name in EVENTS:
        within, p50, p95, worst = (med([r[name][i] for r in results]) for i in range(4))
        rows.append([name, f"{within:g}", f"{p50:.2f}", f"{p95:.2f}", f"{worst:.2f}"])
    store = "PostgreSQL" if args.postgres else "SQLite"
    print(f"\nsqlgate {source_state()}; {machine()}")
    print(
        f"{args.workflows} workflows due at one second, {args.workers} workflow workers, "
        f"{store} metadata store; medians of {args.rounds} rounds, seconds after the due time:"
    )
    print(table(["event", f"within {TARGET_SECONDS:g} s", "p50 s", "p95 s", "max s"], rows))
    empty = med([r["empty_cpu"] for r in results])
    waiting = med([r["cpu"] for r in results])
    print(
        f"server CPU, nothing due: {empty:.2f} % with no workflow, {waiting:.2f} % with "
        f"{args.workflows} enabled ({waiting - empty:+.2f} points)"
    )
    started_all = med([r["started"][0] for r in results]) >= args.workflows
    ok = started_all and waiting < IDLE_CPU_TARGET
    print("targets met" if ok else "a target was missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
