"""sqlgate's CSV export from PostgreSQL vs ``psql \\copy`` of the same query, and memory.

A table ``bench_rows`` (id int, name text, amount numeric(12,2), created_at timestamptz,
flag bool) with ``--rows`` rows is created in database ``sqlgate_bench`` on the PostgreSQL server
(``--pg``, default 127.0.0.1:5432, user postgres) if it is not there yet. sqlgate is started on a
temporary data dir and the database registered as a ``postgresql`` connection through
``POST /v1/connections``. Then, ``--runs`` times each, alternating which goes first:

* sqlgate: ``POST /api/v1/query/pg/export?format=csv`` of ``SELECT * FROM bench_rows``, streamed to
  a file by curl (``time_total``: request sent to last byte written), while psutil samples the
  server's RSS every 50 ms;
  With ``--job``, instead an async job: ``POST /v1/jobs {"format": "csv"}`` of the same query,
  long-polled until it succeeded (submit to "succeeded" seen; the result files are on the
  server's disk), its manifest's row count checked;
* psql:    ``psql -c "\\copy (SELECT * FROM bench_rows) TO 'file' CSV HEADER"``, the whole process
  timed (start-up included; about 10 ms).

CPU seconds are reported beside the times (less swayed by other work on a shared machine):
sqlgate's server during the export plus curl's, psql's whole process; the PostgreSQL server's
own work, the same COPY for both, is in neither. Both files must have ``rows + 1`` lines.
Target: sqlgate's median within 1.2x of psql's, with a bounded server RSS.

    .venv/bin/python bench/export_pg_vs_psql.py [--runs 5] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
from _common import (
    cpu_seconds,
    finish,
    install_signal_handlers,
    machine,
    median,
    source_state,
    start_sqlgate,
    table,
    versions,
)
from export_vs_copy import MB, Exporter, RssSampler, children_cpu, count_lines

TARGET_RATIO = 1.2
SQL = "SELECT * FROM bench_rows"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="rows (default 1M)")
    p.add_argument("--runs", type=int, default=5, help="runs of each side (default 5)")
    p.add_argument("--host", default="127.0.0.1", help="PostgreSQL host")
    p.add_argument("--port", type=int, default=5432, help="PostgreSQL port")
    p.add_argument("--user", default="postgres", help="PostgreSQL user (trust auth)")
    p.add_argument("--tmp", type=Path, help="parent of the temporary directory")
    p.add_argument("--job", action="store_true", help="sqlgate side as an async CSV job")
    p.add_argument("--json", type=Path, help="also write the raw results here")
    return p.parse_args()


def ensure_table(args: argparse.Namespace) -> None:
    admin = f"host={args.host} port={args.port} user={args.user} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as con:
        if not con.execute("SELECT 1 FROM pg_database WHERE datname = 'sqlgate_bench'").fetchone():
            con.execute("CREATE DATABASE sqlgate_bench")
    dsn = f"host={args.host} port={args.port} user={args.user} dbname=sqlgate_bench"
    with psycopg.connect(dsn, autocommit=True) as con:
        exists = con.execute("SELECT to_regclass('bench_rows') IS NOT NULL").fetchone()
        if exists and exists[0]:
            count = con.execute("SELECT count(*) FROM bench_rows").fetchone()
            if count and count[0] == args.rows:
                return
        con.execute("DROP TABLE IF EXISTS bench_rows")
        con.execute(
            "CREATE TABLE bench_rows AS SELECT g AS id, 'customer ' || g AS name, "
            "round((g % 100000) / 7.0, 2)::numeric(12,2) AS amount, "
            "TIMESTAMPTZ '2024-01-01 00:00:00+00' + g * interval '1 second' AS created_at, "
            f"g % 3 = 0 AS flag FROM generate_series(1, {args.rows}) AS g"
        )
        con.execute("VACUUM ANALYZE bench_rows")


def psql_copy(args: argparse.Namespace, dest: Path) -> float:
    psql = shutil.which("psql")
    if not psql:
        sys.exit("error: psql not found (Debian package postgresql-client)")
    started = time.perf_counter()
    subprocess.run(
        [psql, "-h", args.host, "-p", str(args.port), "-U", args.user, "-d", "sqlgate_bench",
         "-X", "-q", "-c", f"\\copy ({SQL}) TO '{dest}' CSV HEADER"],
        check=True,
    )  # fmt: skip
    return time.perf_counter() - started


def job_export(base: str, key: str) -> tuple[float, int, int]:
    """An async CSV job of SQL: (seconds from submit to "succeeded" seen, rows, bytes)."""
    headers = {"X-API-Key": key}
    started = time.perf_counter()
    r = httpx.post(
        f"{base}/v1/jobs",
        json={"query": SQL, "connection_id": "pg", "format": "csv"},
        headers=headers,
        timeout=60,
    )
    r.raise_for_status()
    job = r.json()
    while job["state"] not in ("succeeded", "failed", "canceled"):
        job = httpx.get(
            f"{base}/v1/jobs/{job['job_id']}", params={"wait": 50}, headers=headers, timeout=120
        ).json()
    seconds = time.perf_counter() - started
    if job["state"] != "succeeded":
        raise RuntimeError(f"job did not succeed: {job}")
    return seconds, int(job["row_count"]), int(job["byte_count"])


def main() -> int:
    args = parse_args()
    install_signal_handlers()
    print(f"# sqlgate PostgreSQL export vs psql \\copy  ({time.strftime('%Y-%m-%d %H:%M %Z')})")
    print(f"machine: {machine()}")
    print(f"sqlgate source: {source_state()}")
    print(f"versions: {versions('sqlgate', 'psycopg', 'pyarrow', 'fastapi', 'uvicorn')}")
    started = time.perf_counter()
    ensure_table(args)
    print(f"table bench_rows: {args.rows:,} rows (ready in {time.perf_counter() - started:.1f}s)\n")

    failures: list[str] = []
    times: dict[str, list[float]] = {"sqlgate": [], "psql": []}
    cpus: dict[str, list[float]] = {"sqlgate": [], "psql": []}
    peaks: list[int] = []
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="sqlgate-bench-", dir=args.tmp) as tmp_name:
        tmp = Path(tmp_name)
        server, base, key = start_sqlgate(tmp / "sqlgate", {}, tmp / "sqlgate.log")
        try:
            created = httpx.post(
                f"{base}/v1/connections",
                headers={"X-API-Key": key},
                json={"type": "postgresql", "name": "pg", "host": args.host, "port": args.port,
                      "database": "sqlgate_bench", "username": args.user},
                timeout=30,
            )  # fmt: skip
            created.raise_for_status()
            exporter = Exporter(base, key, "pg")
            out = tmp / "out.csv"
            if args.job:
                job_export(base, key)  # warm-up: pool, page cache
            else:
                exporter.export(SQL, "csv", out)  # warm-up: pool, page cache
            psql_copy(args, out)
            for run in range(args.runs):
                order = ["sqlgate", "psql"] if run % 2 == 0 else ["psql", "sqlgate"]
                for side in order:
                    cpu_before = children_cpu(), cpu_seconds(server.pid) or 0.0
                    if side == "sqlgate" and args.job:
                        with RssSampler(server.pid, 0.05) as rss:
                            seconds, lines, size = job_export(base, key)
                        peaks.append(rss.peak)
                        lines += 1  # the header, as in the files compared
                        out.write_bytes(b"")
                    elif side == "sqlgate":
                        with RssSampler(server.pid, 0.05) as rss:
                            seconds = exporter.export(SQL, "csv", out)
                        peaks.append(rss.peak)
                    else:
                        seconds = psql_copy(args, out)
                    cpu = children_cpu() - cpu_before[0]
                    if side == "sqlgate":
                        cpu += (cpu_seconds(server.pid) or 0.0) - cpu_before[1]
                    cpus[side].append(cpu)
                    if not (side == "sqlgate" and args.job):
                        lines, size = count_lines(out), out.stat().st_size
                    sizes[side] = size
                    if lines != args.rows + 1:
                        failures.append(f"{side} CSV has {lines:,} lines, not {args.rows + 1:,}")
                    times[side].append(seconds)
                    print(f"run {run + 1} {side:<8} {seconds:6.3f}s  {lines:,} lines  "
                          f"{sizes[side] / MB:.1f} MB  CPU {cpu:.2f}s", flush=True)  # fmt: skip
                    out.unlink()
        finally:
            server.stop()

    rows = [
        (side, f"{median(t):.3f}", f"{min(t):.3f}", f"{max(t):.3f}",
         f"{args.rows / median(t) / 1e6:.2f}", f"{sizes[side] / MB:.1f}",
         f"{median(cpus[side]):.2f}")
        for side, t in times.items()
    ]  # fmt: skip
    what = "an async CSV job" if args.job else "the CSV export route"
    print(f"\nsqlgate side: {what}")
    print(f"{args.rows:,} rows to CSV, medians of {args.runs} runs:")
    print(table(["", "median s", "min s", "max s", "M rows/s", "file MB", "CPU s"], rows))
    ratio = median(times["sqlgate"]) / median(times["psql"])
    met = "yes" if ratio <= TARGET_RATIO else "NO"
    print(f"\nsqlgate / psql time ratio: {ratio:.2f}x (target <= {TARGET_RATIO:g}x: {met})")
    print(f"server peak RSS while exporting: {max(peaks) / MB:.0f} MB")
    report = {"times": times, "cpus": cpus, "ratio": ratio, "peaks": peaks}
    return finish(report, args.json, failures)


if __name__ == "__main__":
    sys.exit(main())
