"""Scaling over processes: one `sqlgate serve` process vs `--workers N`, same run.

Both serve the Chinook SQLite file (defaults: auth, audit, rate limits on with budgets too high
to refuse); wrk drives the 10-row query against each in turn, alternating, ``--rounds`` times.
Reported: medians of req/s, p50 and p99, and the N-worker/1-worker throughput ratio (target:
at least 1.8x with N = the number of cores, on an otherwise idle machine).

    .venv/bin/python bench/workers.py [--workers auto] [--duration 10] [--connections 16]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import (
    WrkResult,
    children_cpu_seconds,
    install_signal_handlers,
    lua_post_script,
    machine,
    median,
    run_wrk,
    source_state,
    start_sqlgate,
    table,
)
from overhead import HIGH_LIMITS

CHINOOK = Path("/work/shared/data/chinook/Chinook_Sqlite.sqlite")
SQL = "SELECT TrackId, Name, Composer, UnitPrice FROM Track ORDER BY TrackId LIMIT 10"
TARGET = 1.8
#: wrk's connections all belong to one organization: its concurrent-query cap (default 8) would
#: refuse some with 429 once there are more connections than that.
ENV = {**HIGH_LIMITS, "SQLGATE_ORG_MAX_CONCURRENT_QUERIES": "256"}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--database", type=Path, default=CHINOOK)
    p.add_argument("--workers", default="auto", help="processes of the second server (auto)")
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    p.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=3)
    args = p.parse_args()
    install_signal_handlers()
    wrk_opts = {"threads": args.threads, "connections": args.connections}
    print(
        f"# sqlgate: one process vs --workers {args.workers}  "
        f"({time.strftime('%Y-%m-%d %H:%M %Z')})"
    )
    print(f"machine: {machine()}")
    print(f"sqlgate source: {source_state()}")
    print(
        f"load: wrk -t{args.threads} -c{args.connections} -d{args.duration}s, "
        f"{args.rounds} rounds\n"
    )
    results: dict[str, list[WrkResult]] = {}
    servers = []
    with tempfile.TemporaryDirectory(prefix="sqlgate-bench-") as tmp_name:
        tmp = Path(tmp_name)
        db = tmp / "chinook.sqlite"
        shutil.copyfile(args.database, db)
        try:
            targets = {}
            for name, workers in (("1 process", "1"), (f"--workers {args.workers}", args.workers)):
                tag = f"s{len(targets)}"
                server, base, key = start_sqlgate(
                    tmp / tag, {"chinook": ("sqlite", db)}, tmp / f"{tag}.log", env=ENV,
                    workers=workers,
                )  # fmt: skip
                servers.append(server)
                script = lua_post_script(tmp / f"{tag}.lua", {"query": SQL}, {"X-API-Key": key})
                targets[name] = (f"{base}/api/v1/query/chinook", script)
            for url, script in targets.values():
                run_wrk(url, duration=args.warmup, script=script, **wrk_opts)
            for r in range(args.rounds):
                order = list(targets) if r % 2 == 0 else list(reversed(targets))
                for name in order:
                    url, script = targets[name]
                    server = servers[list(targets).index(name)]
                    before = children_cpu_seconds(server.pid)
                    res = run_wrk(url, duration=args.duration, script=script, **wrk_opts)
                    results.setdefault(name, []).append(res)
                    print(f"round {r + 1} {name:<14} {res.rps:8.0f} req/s  p50 {res.p50_ms:6.2f} ms"
                          f"  p99 {res.p99_ms:7.2f} ms  bad {res.bad}{_split(before, server.pid)}",
                          flush=True)  # fmt: skip
        finally:
            for server in servers:
                server.stop()
    rows = [
        (name, f"{median([x.rps for x in runs]):.0f}", f"{median([x.p50_ms for x in runs]):.2f}",
         f"{median([x.p99_ms for x in runs]):.2f}", sum(x.bad for x in runs))
        for name, runs in results.items()
    ]  # fmt: skip
    print(f"\nMedians of {args.rounds} rounds:")
    print(table(["server", "req/s", "p50 ms", "p99 ms", "bad"], rows))
    one, many = (median([x.rps for x in runs]) for runs in results.values())
    met = "yes" if many / one >= TARGET else "NO"
    print(f"\nScaling (--workers {args.workers} / 1 process): {many / one:.2f}x; "
          f">= {TARGET:g}x: {met}")  # fmt: skip
    return 1 if any(x.bad for runs in results.values() for x in runs) else 0


def _split(before: dict[int, float], pid: int) -> str:
    """How the run's CPU time spread over the worker processes (balance), if there are several.
    (The multiprocessing resource tracker, a child too, uses next to none.)"""
    after = children_cpu_seconds(pid)
    used = sorted((after[c] - before[c] for c in after if c in before), reverse=True)
    used = [u for u in used if u > 0.05]
    if len(used) < 2:
        return ""
    total = sum(used)
    return "  CPU per worker " + " / ".join(f"{u / total:.0%}" for u in used)


if __name__ == "__main__":
    sys.exit(main())
