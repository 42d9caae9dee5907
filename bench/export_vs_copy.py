"""sqlgate's streaming exports vs DuckDB's own COPY, and the server's memory while exporting.

A DuckDB file with one 5,000,000-row table ``t`` (id, name, amount, ts) is created in a temporary
directory and registered in sqlgate as connection ``big``. Three cases, ``--runs`` rounds each,
alternating which side goes first:

* 1,000,000 rows (``SELECT * FROM t WHERE id < 1000000``) to CSV;
* all 5,000,000 rows to CSV;
* all 5,000,000 rows to Parquet.

sqlgate: POST /api/v1/query/big/export?format=..., streamed to a file by curl (curl's
``time_total``: request sent to last byte written), while psutil samples the server's RSS
(children included) every 50 ms. DuckDB: ``COPY (same query) TO 'file' (HEADER | FORMAT
parquet)`` in a separate Python process (``duckdb`` module, the file opened read-only, same
thread count as sqlgate's engine; timed inside that process: connect + COPY). Every file's rows
are counted. CPU seconds are reported beside the times, being less swayed by other work on a
shared machine: sqlgate's are the server's during the export plus curl's, COPY's its whole
process's (Python's start-up and the ``duckdb`` import included, about 0.1-0.2 s). Targets:
each case's median within 1.2x of COPY's, peak server RSS under 400 MB.

    .venv/bin/python bench/export_vs_copy.py [--runs 3] [--rows 5000000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import httpx
import psutil
import pyarrow.parquet as pq
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

TARGET_RATIO = 1.2
TARGET_PEAK_MB = 400
MB = 1024 * 1024

# Runs in its own process, so DuckDB's COPY competes with nothing of ours for memory or the GIL.
_COPY_SCRIPT = """
import json, sys, time
import duckdb
database, sql, out, options, threads = sys.argv[1:6]
started = time.perf_counter()
con = duckdb.connect(database, read_only=True, config={"threads": int(threads)})
con.execute("SET enable_progress_bar = false")  # it would print to stdout on long COPYs
con.execute(f"COPY ({sql}) TO '{out}' ({options})")
con.close()
print(json.dumps({"seconds": time.perf_counter() - started}))
"""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=5_000_000, help="rows in table t (default 5M)")
    p.add_argument("--export-rows", type=int, default=1_000_000, help="rows in (a) (default 1M)")
    p.add_argument("--runs", type=int, default=3, help="runs of each side in (a) (default 3)")
    p.add_argument(
        "--threads", type=int, default=2, help="DuckDB threads, for sqlgate and COPY (default 2)"
    )
    p.add_argument("--interval", type=float, default=0.05, help="RSS sampling period, s")
    p.add_argument("--tmp", type=Path, help="parent of the temporary directory (needs ~1 GB)")
    p.add_argument("--json", type=Path, help="also write the raw results here")
    return p.parse_args()


def create_table(path: Path, rows: int) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE t AS SELECT range AS id, 'name_' || range AS name, range * 1.5 AS amount,"
            " TIMESTAMP '2020-01-01' + INTERVAL (range) SECOND AS ts"
            f" FROM range({rows})"
        )


def count_lines(path: Path) -> int:
    lines = 0
    with path.open("rb") as f:
        while chunk := f.read(8 * MB):
            lines += chunk.count(b"\n")
    return lines


class RssSampler:
    """Peak RSS of a process and its children, sampled on a background thread."""

    def __init__(self, pid: int, interval: float) -> None:
        self._proc = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self.peak = self.baseline = self.rss()
        self.samples = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        total = self._proc.memory_info().rss
        for child in self._proc.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                total += child.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            self.samples += 1
            self._stop.wait(self._interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())


@dataclass
class Exporter:
    base: str
    key: str
    connection: str

    def export(self, sql: str, fmt: str, dest: Path) -> float:
        """Stream an export to ``dest``; returns seconds from request to last byte."""
        url = f"{self.base}/api/v1/query/{self.connection}/export?format={fmt}"
        body = json.dumps({"query": sql})
        curl = shutil.which("curl")
        if curl:
            out = subprocess.run(
                [curl, "-sS", "--fail", "-o", str(dest), "-w", "%{time_total}",
                 "-H", "Content-Type: application/json", "-H", f"X-API-Key: {self.key}",
                 "--data-binary", body, url],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            return float(out)
        started = time.perf_counter()
        headers = {"X-API-Key": self.key, "Content-Type": "application/json"}
        with (
            httpx.stream("POST", url, content=body, headers=headers, timeout=600) as response,
            dest.open("wb") as f,
        ):
            response.raise_for_status()
            for chunk in response.iter_raw(1024 * 1024):
                f.write(chunk)
        return time.perf_counter() - started


def children_cpu() -> float:
    """User + system CPU seconds of this script's finished child processes (curl, COPY's)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def duckdb_copy(database: Path, sql: str, dest: Path, options: str, threads: int) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _COPY_SCRIPT, str(database), sql, str(dest), options, str(threads)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(json.loads(out)["seconds"])


def rows_in(path: Path, fmt: str) -> int:
    """Data rows in an exported file (CSV: lines less the header)."""
    return count_lines(path) - 1 if fmt == "csv" else pq.read_metadata(path).num_rows


def main() -> int:
    args = parse_args()
    install_signal_handlers()
    n, total = args.export_rows, args.rows
    print(f"# sqlgate export vs DuckDB COPY  ({time.strftime('%Y-%m-%d %H:%M %Z')})")
    print(f"machine: {machine()}")
    print(f"sqlgate source: {source_state()}")
    print(f"versions: {versions('sqlgate', 'duckdb', 'pyarrow', 'fastapi', 'uvicorn')}")
    print(f"DuckDB threads: {args.threads} (sqlgate engine and COPY); download client: "
          f"{'curl' if shutil.which('curl') else 'httpx'}\n")  # fmt: skip

    failures: list[str] = []
    report: dict[str, object] = {}
    cases = [
        (f"{n:,} rows CSV", "csv", f"SELECT * FROM t WHERE id < {n}", n),
        (f"{total:,} rows CSV", "csv", "SELECT * FROM t", total),
        (f"{total:,} rows Parquet", "parquet", "SELECT * FROM t", total),
    ]
    summary = []
    peak = 0
    with tempfile.TemporaryDirectory(prefix="sqlgate-bench-", dir=args.tmp) as tmp_name:
        tmp = Path(tmp_name)
        database = tmp / "big.duckdb"
        started = time.perf_counter()
        create_table(database, total)
        print(f"created {database.name}: {total:,} rows, {database.stat().st_size / MB:.0f} MB "
              f"in {time.perf_counter() - started:.1f}s", flush=True)  # fmt: skip

        server, base, key = start_sqlgate(
            tmp / "sqlgate",
            {"big": ("duckdb", database)},
            tmp / "sqlgate.log",
            env={"SQLGATE_DUCKDB_THREADS": str(args.threads)},
        )
        try:
            exporter = Exporter(base, key, "big")
            # Warm-up: opens the engine, reads the file into the page cache, once each side.
            exporter.export(cases[0][2], "csv", tmp / "warm.csv")
            duckdb_copy(database, cases[0][2], tmp / "warm.csv", "HEADER", args.threads)
            rss_before = RssSampler(server.pid, args.interval).rss()
            for label, fmt, sql, expected in cases:
                times: dict[str, list[float]] = {"sqlgate": [], "duckdb": []}
                cpus: dict[str, list[float]] = {"sqlgate": [], "duckdb": []}
                sizes: dict[str, int] = {}
                peaks = []
                options = "HEADER" if fmt == "csv" else "FORMAT parquet"
                out = tmp / f"out.{fmt}"
                for run in range(args.runs):
                    order = ["sqlgate", "duckdb"] if run % 2 == 0 else ["duckdb", "sqlgate"]
                    for side in order:
                        cpu_before = children_cpu(), cpu_seconds(server.pid) or 0.0
                        if side == "sqlgate":
                            with RssSampler(server.pid, args.interval) as rss:
                                seconds = exporter.export(sql, fmt, out)
                            peaks.append(rss.peak)
                        else:
                            seconds = duckdb_copy(database, sql, out, options, args.threads)
                        cpu = children_cpu() - cpu_before[0]
                        if side == "sqlgate":  # the server's too (the client's is curl's)
                            cpu += (cpu_seconds(server.pid) or 0.0) - cpu_before[1]
                        cpus[side].append(cpu)
                        got = rows_in(out, fmt)
                        sizes[side] = out.stat().st_size
                        if got != expected:
                            failures.append(f"{label}: {side} wrote {got:,} rows, not {expected:,}")
                        times[side].append(seconds)
                        print(f"{label} run {run + 1} {side:<8} {seconds:6.3f}s  {got:,} rows  "
                              f"{sizes[side] / MB:.1f} MB  CPU {cpu:.2f}s", flush=True)  # fmt: skip
                        out.unlink()
                ours, theirs = median(times["sqlgate"]), median(times["duckdb"])
                ratio = ours / theirs
                peak = max(peak, *peaks)
                if ratio > TARGET_RATIO:
                    failures.append(f"{label}: {ratio:.2f}x COPY (target <= {TARGET_RATIO:g}x)")
                cpu_ratio = median(cpus["sqlgate"]) / median(cpus["duckdb"])
                report[label] = {"times": times, "cpus": cpus, "sizes": sizes, "ratio": ratio,
                                 "cpu_ratio": cpu_ratio, "peaks": peaks}  # fmt: skip
                summary.append(
                    (label, f"{ours:.3f}", f"{theirs:.3f}", f"{ratio:.2f}x",
                     f"{min(times['sqlgate']):.3f}-{max(times['sqlgate']):.3f}",
                     f"{min(times['duckdb']):.3f}-{max(times['duckdb']):.3f}",
                     f"{sizes['sqlgate'] / MB:.0f} / {sizes['duckdb'] / MB:.0f}",
                     f"{median(cpus['sqlgate']):.2f} / {median(cpus['duckdb']):.2f} "
                     f"({cpu_ratio:.2f}x)",
                     f"{max(peaks) / MB:.0f}")
                )  # fmt: skip
        finally:
            server.stop()

    print(f"\nmedians of {args.runs} rounds; server RSS before the cases: "
          f"{rss_before / MB:.0f} MB")  # fmt: skip
    print(table(["case", "sqlgate s", "COPY s", "ratio", "sqlgate range", "COPY range",
                 "file MB (sqlgate / COPY)", "CPU s (sqlgate / COPY)", "peak RSS MB"],
                summary))  # fmt: skip
    met_peak = "yes" if peak < TARGET_PEAK_MB * MB else "NO"
    if peak >= TARGET_PEAK_MB * MB:
        failures.append(f"peak RSS {peak / MB:.0f} MB (target < {TARGET_PEAK_MB} MB)")
    print(f"\ntargets: every ratio <= {TARGET_RATIO:g}x; peak RSS {peak / MB:.0f} MB "
          f"(target < {TARGET_PEAK_MB} MB: {met_peak})")  # fmt: skip
    return finish(report, args.json, failures)


if __name__ == "__main__":
    sys.exit(main())
