"""1,000 enabled workflows due at the same second: how many fire within 5 s of their time, and
the scheduler's CPU while nothing is due.

One sqlgate process (``--workers`` workflow workers, default 2) serves a DuckDB file. The
script creates
``--workflows`` workflows through ``POST /v1/workflows``, each a ``SELECT 1`` query step on a
six-field cron schedule (``S M H * * *``) naming one second, ``--lead`` seconds ahead. While it
waits for that second it measures the server process's CPU (nothing is due: the scheduler and
the workers only look), then reads every run from the metadata store and reports, per run, how
late it was claimed (the run inserted), started, and finished, relative to its scheduled time.

Targets: every workflow fires (its run is claimed and started) within 5 s of its time; idle
CPU under 1 %. Exit status 1 if a target is missed.

    .venv/bin/python bench/workflows_scheduler.py [--workflows 1000] [--lead 90]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import psutil
from _common import install_signal_handlers, machine, source_state, start_sqlgate, table

TARGET_SECONDS = 5.0
IDLE_CPU_TARGET = 1.0


def _parse(value: str | None) -> datetime | None:
    if value is None:
        return None
    when = datetime.fromisoformat(value)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _quantiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return pick(0.5), pick(0.95), ordered[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=1000)
    parser.add_argument("--lead", type=int, default=90, help="Seconds from now to the due time")
    parser.add_argument("--idle", type=float, default=20.0, help="Seconds of CPU measuring")
    parser.add_argument("--workers", type=int, default=2, help="SQLGATE_WORKFLOW_WORKERS")
    args = parser.parse_args()
    install_signal_handlers()
    work = Path(tempfile.mkdtemp(prefix="sqlgate-bench-wf-"))
    try:
        data = work / "data"
        data.mkdir()
        with duckdb.connect(str(work / "shop.duckdb")) as con:
            con.execute("CREATE TABLE t AS SELECT 1 AS one")
        server, base, key = start_sqlgate(
            data,
            {"shop": ("duckdb", work / "shop.duckdb")},
            work / "server.log",
            env={"SQLGATE_WORKFLOW_WORKERS": str(args.workers)},
        )
        due = (datetime.now(UTC) + timedelta(seconds=args.lead)).replace(microsecond=0)
        cron = f"{due.second} {due.minute} {due.hour} * * *"
        body = {
            "trigger": {"type": "schedule", "cron": cron, "timezone": "UTC"},
            "steps": [{"type": "query", "connection_id": "shop", "sql": "SELECT 1 AS one"}],
        }
        started = time.monotonic()
        with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=30) as client:
            for i in range(args.workflows):
                r = client.post("/v1/workflows", json={**body, "name": f"wf {i}"})
                r.raise_for_status()
        created_in = time.monotonic() - started
        if datetime.now(UTC) + timedelta(seconds=args.idle + 5) > due:
            sys.exit(f"creating took {created_in:.0f}s: raise --lead")
        proc = psutil.Process(server.pid)
        time.sleep(2)
        cpu0, wall0 = proc.cpu_times(), time.monotonic()
        time.sleep(args.idle)
        cpu1, wall1 = proc.cpu_times(), time.monotonic()
        idle_cpu = 100 * ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) / (wall1 - wall0)
        wait = (due - datetime.now(UTC)).total_seconds() + 60
        print(f"created {args.workflows} workflows in {created_in:.1f}s; due {due:%H:%M:%S} UTC")
        time.sleep(max(0.0, wait))
        with sqlite3.connect(data / "sqlgate.db") as db:
            rows = db.execute(
                "SELECT scheduled_for, created_at, started_at, finished_at, status "
                "FROM workflow_runs"
            ).fetchall()
        server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    lags: dict[str, list[float]] = {"claimed": [], "started": [], "finished": []}
    statuses: dict[str, int] = {}
    for scheduled, created, begun, ended, status in rows:
        statuses[status] = statuses.get(status, 0) + 1
        at = _parse(scheduled)
        for name, value in (("claimed", created), ("started", begun), ("finished", ended)):
            when = _parse(value)
            if at is not None and when is not None:
                lags[name].append((when - at).total_seconds())
    report = []
    within: dict[str, int] = {}
    for name, values in lags.items():
        within[name] = sum(1 for v in values if v <= TARGET_SECONDS)
        p50, p95, worst = _quantiles(values) if values else (float("nan"),) * 3
        report.append([name, len(values), within[name], f"{p50:.2f}", f"{p95:.2f}", f"{worst:.2f}"])
    print(f"sqlgate {source_state()}; {machine()}")
    print(f"runs: {len(rows)} {statuses}")
    print(
        table(["event", "runs", f"within {TARGET_SECONDS:g} s", "p50 s", "p95 s", "max s"], report)
    )
    print(f"server CPU with {args.workflows} enabled workflows, nothing due: {idle_cpu:.2f} %")
    print(
        f"(median claim lag {statistics.median(lags['claimed']) if lags['claimed'] else 0:.2f} s)"
    )
    ok = within["claimed"] == within["started"] == args.workflows and idle_cpu < IDLE_CPU_TARGET
    print("targets met" if ok else "a target was missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
