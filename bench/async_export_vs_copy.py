"""sqlgate's async export (a job writing Parquet result files) vs DuckDB's own COPY ... TO
Parquet, and the server's memory while the job runs.

A DuckDB file with one 5,000,000-row table ``t`` (id, name, amount, ts) is created in a temporary
directory and registered in sqlgate as connection ``big``. Then, ``--runs`` times each,
alternating which goes first:

* sqlgate: ``POST /v1/jobs {"query": "SELECT * FROM t", "format": "parquet"}``, then long-poll
  ``GET /v1/jobs/{id}?wait=50`` until it succeeded. Wall time: submit sent to "succeeded" seen
  by the client (includes queueing and polling). The server's own run time (``finished_at -
  started_at``) is reported too. psutil samples the server's RSS (children included) every 50 ms.
* DuckDB: ``COPY (SELECT * FROM t) TO 'file.parquet' (FORMAT parquet)`` in a separate Python
  process (the file opened read-only, same thread count as sqlgate's engine; connect + COPY).

The result files must hold 5,000,000 rows. Targets: sqlgate's median wall time within 1.5x of
COPY's, and peak server RSS under 500 MB.

    .venv/bin/python bench/async_export_vs_copy.py [--runs 3] [--rows 5000000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
import pyarrow.parquet as pq
from _common import (
    finish,
    install_signal_handlers,
    machine,
    median,
    source_state,
    start_sqlgate,
    table,
    versions,
)
from export_vs_copy import MB, RssSampler, create_table

TARGET_RATIO = 1.5
TARGET_PEAK_MB = 500

# Runs in its own process, so DuckDB's COPY competes with nothing of ours for memory or the GIL.
# No progress bar: DuckDB prints one to stdout for queries longer than two seconds.
_COPY_SCRIPT = """
import json, sys, time
import duckdb
database, sql, out, threads = sys.argv[1:5]
started = time.perf_counter()
con = duckdb.connect(database, read_only=True, config={"threads": int(threads)})
con.execute("SET enable_progress_bar = false")
con.execute(f"COPY ({sql}) TO '{out}' (FORMAT parquet)")
con.close()
print(json.dumps({"seconds": time.perf_counter() - started}))
"""


def duckdb_copy(database: Path, sql: str, dest: Path, threads: int) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _COPY_SCRIPT, str(database), sql, str(dest), str(threads)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(json.loads(out.strip().splitlines()[-1])["seconds"])


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=5_000_000, help="rows in table t (default 5M)")
    p.add_argument("--runs", type=int, default=3, help="runs of each side (default 3)")
    p.add_argument(
        "--threads", type=int, default=2, help="DuckDB threads, for sqlgate and COPY (default 2)"
    )
    p.add_argument("--interval", type=float, default=0.05, help="RSS sampling period, s")
    p.add_argument("--tmp", type=Path, help="parent of the temporary directory (needs ~1 GB)")
    p.add_argument("--json", type=Path, help="also write the raw results here")
    return p.parse_args()


def async_export(base: str, key: str, sql: str) -> tuple[float, float, dict[str, object]]:
    """Submit, long-poll until finished; (client wall s, server run s, final job)."""
    headers = {"X-API-Key": key}
    started = time.perf_counter()
    r = httpx.post(
        f"{base}/v1/jobs",
        json={"query": sql, "connection_id": "big", "format": "parquet"},
        headers=headers,
        timeout=60,
    )
    r.raise_for_status()
    job = r.json()
    while job["state"] not in ("succeeded", "failed", "canceled"):
        job = httpx.get(
            f"{base}/v1/jobs/{job['job_id']}", params={"wait": 50}, headers=headers, timeout=120
        ).json()
    wall = time.perf_counter() - started
    if job["state"] != "succeeded":
        raise RuntimeError(f"job did not succeed: {job}")
    run = (
        datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])
    ).total_seconds()
    return wall, run, job


def main() -> int:
    args = parse_args()
    install_signal_handlers()
    total = args.rows
    print(
        f"# sqlgate async export vs DuckDB COPY to Parquet  ({time.strftime('%Y-%m-%d %H:%M %Z')})"
    )
    print(f"machine: {machine()}")
    print(f"sqlgate source: {source_state()}")
    print(f"versions: {versions('sqlgate', 'duckdb', 'pyarrow', 'fastapi', 'uvicorn')}")
    print(f"DuckDB threads: {args.threads} (sqlgate engine and COPY)\n")

    failures: list[str] = []
    report: dict[str, object] = {}
    sql = "SELECT * FROM t"
    with tempfile.TemporaryDirectory(prefix="sqlgate-bench-", dir=args.tmp) as tmp_name:
        tmp = Path(tmp_name)
        database = tmp / "big.duckdb"
        started = time.perf_counter()
        create_table(database, total)
        print(f"created {database.name}: {total:,} rows, {database.stat().st_size / MB:.0f} MB "
              f"in {time.perf_counter() - started:.1f}s", flush=True)  # fmt: skip
        data_dir = tmp / "sqlgate"
        server, base, key = start_sqlgate(
            data_dir,
            {"big": ("duckdb", database)},
            tmp / "sqlgate.log",
            env={"SQLGATE_DUCKDB_THREADS": str(args.threads)},
        )
        out = tmp / "copy.parquet"
        times: dict[str, list[float]] = {"sqlgate": [], "duckdb": []}
        server_runs: list[float] = []
        peaks: list[int] = []
        sizes: dict[str, int] = {}
        try:
            # Warm-up: opens the engine, reads the file into the page cache, once each side.
            async_export(base, key, "SELECT * FROM t LIMIT 100000")
            duckdb_copy(database, sql, out, args.threads)
            for run in range(args.runs):
                order = ["sqlgate", "duckdb"] if run % 2 == 0 else ["duckdb", "sqlgate"]
                for side in order:
                    if side == "sqlgate":
                        with RssSampler(server.pid, args.interval) as rss:
                            seconds, ran, job = async_export(base, key, sql)
                        peaks.append(rss.peak)
                        server_runs.append(ran)
                        files = sorted((data_dir / "results" / str(job["job_id"])).glob("part-*"))
                        rows = sum(pq.read_metadata(f).num_rows for f in files)
                        sizes[side] = sum(f.stat().st_size for f in files)
                        extra = f"server run {ran:6.3f}s  peak RSS {rss.peak / MB:.0f} MB"
                    else:
                        seconds = duckdb_copy(database, sql, out, args.threads)
                        rows = pq.read_metadata(out).num_rows
                        sizes[side] = out.stat().st_size
                        out.unlink()
                        extra = ""
                    if rows != total:
                        failures.append(f"{side} wrote {rows:,} rows, expected {total:,}")
                    times[side].append(seconds)
                    print(f"run {run + 1} {side:<8} {seconds:6.3f}s  {rows:,} rows  "
                          f"{sizes[side] / MB:.0f} MB  {extra}", flush=True)  # fmt: skip
        finally:
            server.stop()

    ours, theirs = median(times["sqlgate"]), median(times["duckdb"])
    ratio = ours / theirs
    peak = max(peaks)
    report = {
        "times": times,
        "server_runs": server_runs,
        "peaks": peaks,
        "sizes": sizes,
        "ratio": ratio,
    }
    print(f"\n{total:,} rows to Parquet, medians of {args.runs} runs:")
    labels = {"sqlgate": "sqlgate async job (submit → succeeded)", "duckdb": "DuckDB COPY"}
    rows_table = [
        (labels[side], f"{median(t):.3f}", f"{min(t):.3f}", f"{max(t):.3f}",
         f"{total / median(t) / 1e6:.2f}", f"{sizes[side] / MB:.0f}")
        for side, t in times.items()
    ]  # fmt: skip
    print(table(["", "median s", "min s", "max s", "M rows/s", "file MB"], rows_table))
    print(
        f"\nsqlgate server-side run time (started → finished), median: {median(server_runs):.3f}s"
    )
    met_ratio = "yes" if ratio <= TARGET_RATIO else "NO"
    print(
        f"sqlgate / COPY wall time ratio: {ratio:.2f}x (target <= {TARGET_RATIO:g}x: {met_ratio})"
    )
    met_peak = "yes" if peak < TARGET_PEAK_MB * MB else "NO"
    print(f"peak server RSS during the jobs: {peak / MB:.0f} MB "
          f"(target < {TARGET_PEAK_MB} MB: {met_peak})")  # fmt: skip
    return finish(report, args.json, failures)


if __name__ == "__main__":
    sys.exit(main())
