"""What a `sqlgate serve` process holds in memory, step by step from a fresh start.

Starts the server as the other benchmarks do (``start_sqlgate``: one process, rate limits off)
with a small SQLite connection ``s`` (100 customers) and a DuckDB file ``big`` of ``--rows`` rows
(the table of ``export_vs_copy.py``), then reads the server's resident memory (``VmRSS`` of
``/proc/PID/status``) at rest, after a ``SELECT 1`` on each connection, after a 1,000,000-row CSV
export (the warm-up ``export_vs_copy.py`` makes before it reports "server RSS before the cases"),
and after two questions (``POST /api/v1/generate_sql``, the offline engine), timing the first
and the second; with ``--exports``, also the peak while all rows are exported to CSV, then to
Parquet (sampled every 50 ms, as ``export_vs_copy.py`` samples it), and what is left after each.
``--starts`` fresh servers are measured; medians are printed. One request at a time: no load.

    .venv/bin/python bench/memory_at_rest.py [--starts 3] [--rows 5000000] [--exports]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import duckdb
from _common import install_signal_handlers, machine, median, source_state, start_sqlgate, table

MB = 1024 * 1024
QUESTIONS = ("how many customers are in Paris", "average age of customers by city")


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def post(url: str, key: str, body: dict[str, object]) -> bytes:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"X-API-Key": key, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=600) as response:
        return bytes(response.read())


def export(base: str, key: str, sql: str, dest: Path, fmt: str = "csv") -> None:
    subprocess.run(
        ["curl", "-sS", "--fail", "-o", str(dest), "-H", "Content-Type: application/json",
         "-H", f"X-API-Key: {key}", "--data-binary", json.dumps({"query": sql}),
         f"{base}/api/v1/query/big/export?format={fmt}"],
        check=True,
    )  # fmt: skip
    dest.unlink()


def export_peak(pid: int, base: str, key: str, fmt: str, dest: Path) -> float:
    """The server's largest resident memory, sampled every 50 ms, while all rows export."""
    peak = [resident_mb(pid)]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak.append(resident_mb(pid))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        export(base, key, "SELECT * FROM t", dest, fmt)
    finally:
        done.set()
        sampler.join()
    return max(*peak, resident_mb(pid))


def one_start(
    tmp: Path, run: int, connections: dict[str, tuple[str, Path]], exports: bool
) -> dict[str, float]:
    server, base, key = start_sqlgate(
        tmp / f"data{run}",
        connections,
        tmp / f"sqlgate{run}.log",
        env={"SQLGATE_DUCKDB_THREADS": "2"},
    )
    try:
        settle = 1.0
        time.sleep(settle)
        out = {"at rest": resident_mb(server.pid)}
        post(f"{base}/api/v1/query/s", key, {"query": "SELECT 1"})
        out["after SELECT 1 (SQLite)"] = resident_mb(server.pid)
        post(f"{base}/api/v1/query/big", key, {"query": "SELECT 1"})
        out["after SELECT 1 (DuckDB)"] = resident_mb(server.pid)
        export(base, key, "SELECT * FROM t WHERE id < 1000000", tmp / "warm.csv")
        time.sleep(settle)  # an idle encoder gives back what it freed after half a second
        out["after a 1M-row CSV export"] = resident_mb(server.pid)
        for i, question in enumerate(QUESTIONS):
            started = time.perf_counter()
            post(f"{base}/api/v1/generate_sql", key, {"question": question, "connection_id": "s"})
            out[f"question {i + 1} ms"] = (time.perf_counter() - started) * 1000
        out["after two questions"] = resident_mb(server.pid)
        for fmt in ("csv", "parquet") if exports else ():
            out[f"peak, all rows to {fmt}"] = export_peak(
                server.pid, base, key, fmt, tmp / f"all.{fmt}"
            )
            time.sleep(settle)
            out[f"after that {fmt} export"] = resident_mb(server.pid)
        return out
    finally:
        server.stop()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--starts", type=int, default=3, help="fresh servers measured (default 3)")
    p.add_argument("--rows", type=int, default=5_000_000, help="rows in big.t (default 5M)")
    p.add_argument("--exports", action="store_true", help="also the peak of two full exports")
    args = p.parse_args()
    install_signal_handlers()
    print(f"# sqlgate memory at rest  ({time.strftime('%Y-%m-%d %H:%M %Z')})")
    print(f"machine: {machine()}")
    print(f"sqlgate source: {source_state()}\n")
    with tempfile.TemporaryDirectory(prefix="sqlgate-bench-") as name:
        tmp = Path(name)
        small = tmp / "s.sqlite"
        lite = sqlite3.connect(small)
        with lite:
            lite.execute(
                "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, city TEXT, age INT)"
            )
            lite.executemany(
                "INSERT INTO customers VALUES (?, ?, ?, ?)",
                [(i, f"n{i}", "Paris" if i % 2 else "Rome", 20 + i % 50) for i in range(100)],
            )
        lite.close()
        with duckdb.connect(str(tmp / "big.duckdb")) as duck:
            duck.execute(
                "CREATE TABLE t AS SELECT range AS id, 'name_' || range AS name, "
                "range * 1.5 AS amount, TIMESTAMP '2020-01-01' + INTERVAL (range) SECOND AS ts"
                f" FROM range({args.rows})"
            )
        connections = {"s": ("sqlite", small), "big": ("duckdb", tmp / "big.duckdb")}
        runs = []
        for run in range(args.starts):
            runs.append(one_start(tmp, run, connections, args.exports))
            print(f"start {run + 1}: " + ", ".join(f"{k} {v:.0f}" for k, v in runs[-1].items()))
    rows = [
        (step, f"{median([r[step] for r in runs]):.0f}", f"{min(r[step] for r in runs):.0f}"
         f"-{max(r[step] for r in runs):.0f}")
        for step in runs[0]
    ]  # fmt: skip
    print(f"\nmedians of {args.starts} fresh servers (MB resident, or ms)")
    print(table(["step", "median", "range"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
