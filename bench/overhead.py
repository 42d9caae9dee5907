"""sqlgate's fixed cost per request: ``SELECT 1`` through ``sqlgate serve`` vs bare Starlette.

All are single uvicorn processes on 127.0.0.1 and run ``SELECT 1`` on a pooled read-only sqlite3
connection of the same file in the thread pool:

* sqlgate:  POST /api/v1/query/db {"query": "SELECT 1"} with X-API-Key, everything a real
            deployment does on: key check, rate limits (budgets set high enough never to refuse,
            so every request is counted), the SQL guard, the concurrency cap, the audit row;
* sqlgate --no-access-log: the same without the access log;
* bare:     POST /query {"query": "SELECT 1"} on the Starlette app in ``_bare_starlette.py``,
            without an access log (uvicorn's flushes a line per request): the floor.

The difference is what sqlgate adds to every query. wrk drives each server in turn (alternating
which goes first each round); medians of ``--rounds`` rounds, and the throughput ratio
bare/sqlgate (target under 1.5x). On Linux it also reads each server's CPU time (all threads)
around every run: CPU ms per request, and the ratio sqlgate/bare of those, which says how many
times more CPU a request costs through sqlgate and moves less with other work on the machine
than requests per second do.

    .venv/bin/python bench/overhead.py [--duration 10] [--connections 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _common import (
    HOST,
    Server,
    WrkResult,
    free_port,
    install_signal_handlers,
    lua_post_script,
    machine,
    median,
    run_wrk,
    source_state,
    start_sqlgate,
    table,
    tool,
    versions,
)

SQL = "SELECT 1"
TARGET_RATIO = 1.5
#: Rate limits stay on (each request is counted) with budgets a benchmark never reaches.
HIGH_LIMITS = {
    "SQLGATE_RATE_LIMIT_ENABLED": "true",
    "SQLGATE_RATE_LIMITS": json.dumps({"query": "100000000/minute", "default": "100000000/minute"}),
    "SQLGATE_ORG_RATE_LIMITS": json.dumps({"default": "100000000/minute"}),
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    p.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    p.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    p.add_argument("--rounds", type=int, default=3, help="measured runs per server (default 3)")
    p.add_argument("--warmup", type=int, default=3, help="warm-up seconds per server (default 3)")
    p.add_argument("--json", type=Path, help="also write the raw results here")
    return p.parse_args()


def start_bare(db: Path, log: Path) -> tuple[Server, str]:
    port = free_port()
    server = Server(
        "bare",
        [tool("uvicorn"), "_bare_starlette:app", "--host", HOST, "--port", str(port),
         "--app-dir", str(Path(__file__).resolve().parent), "--no-access-log"],
        log,
        env={"BARE_DATABASE": str(db)},
    )  # fmt: skip
    base = f"http://{HOST}:{port}"
    server.wait_ready(f"{base}/healthz")
    return server, base


def check(url: str, headers: dict[str, str]) -> None:
    """The server answers SELECT 1 with one row holding 1."""
    with httpx.Client(timeout=30) as client:
        response = client.post(url, json={"query": SQL}, headers=headers)
    response.raise_for_status()
    if response.json()["rows"] != [[1]]:
        sys.exit(f"error: unexpected answer from {url}: {response.text}")


def main() -> int:
    args = parse_args()
    install_signal_handlers()
    wrk_opts = {"threads": args.threads, "connections": args.connections}
    print(f"# sqlgate overhead: SELECT 1 vs bare Starlette  ({time.strftime('%Y-%m-%d %H:%M %Z')})")
    print(f"machine: {machine()}")
    print(f"sqlgate source: {source_state()}")
    print(f"versions: {versions('sqlgate', 'starlette', 'fastapi', 'uvicorn')}")
    print(
        f"load: wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency, "
        f"{args.warmup}s warm-up, {args.rounds} rounds alternating servers\n"
    )
    servers: list[Server] = []
    results: dict[str, list[WrkResult]] = {}
    with tempfile.TemporaryDirectory(prefix="sqlgate-bench-") as tmp_name:
        tmp = Path(tmp_name)
        db = tmp / "one.sqlite"
        with sqlite3.connect(db) as conn:
            conn.execute("CREATE TABLE t (x INTEGER)")
        try:
            targets = {}
            pids = {}
            for name, extra in (("sqlgate", ()), ("sqlgate --no-access-log", ("--no-access-log",))):
                tag = f"sqlgate{len(targets)}"
                server, base, key = start_sqlgate(
                    tmp / tag, {"db": ("sqlite", db)}, tmp / f"{tag}.log",
                    env=HIGH_LIMITS, extra_args=extra,
                )  # fmt: skip
                servers.append(server)
                pids[name] = server.pid
                targets[name] = (
                    f"{base}/api/v1/query/db",
                    lua_post_script(tmp / f"{tag}.lua", {"query": SQL}, {"X-API-Key": key}),
                )
                check(targets[name][0], {"X-API-Key": key})
            bare, bare_base = start_bare(db, tmp / "bare.log")
            servers.append(bare)
            pids["bare"] = bare.pid
            targets["bare"] = (
                f"{bare_base}/query",
                lua_post_script(tmp / "bare.lua", {"query": SQL}, {}),
            )
            check(targets["bare"][0], {})
            for url, script in targets.values():
                run_wrk(url, duration=args.warmup, script=script, **wrk_opts)
            for r in range(args.rounds):
                order = list(targets) if r % 2 == 0 else list(reversed(targets))
                for name in order:
                    url, script = targets[name]
                    res = run_wrk(
                        url, duration=args.duration, script=script, pid=pids[name], **wrk_opts
                    )
                    results.setdefault(name, []).append(res)
                    print(
                        f"round {r + 1} {name:<23} {res.rps:8.0f} req/s  "
                        f"p50 {res.p50_ms:6.2f} ms  p99 {res.p99_ms:6.2f} ms  "
                        f"CPU {_cpu(res.cpu_ms)} ms/req  bad {res.bad}",
                        flush=True,
                    )
        finally:
            for server in servers:
                server.stop()

    rows = []
    for name, runs in results.items():
        rows.append(
            (name, f"{median([x.rps for x in runs]):.0f}",
             f"{median([x.p50_ms for x in runs]):.2f}", f"{median([x.p99_ms for x in runs]):.2f}",
             f"{1000 / median([x.rps for x in runs]):.3f}", _cpu(_median_cpu(runs)),
             sum(x.bad for x in runs))
        )  # fmt: skip
    print(f"\nMedians of {args.rounds} rounds:")
    print(
        table(["server", "req/s", "p50 ms", "p99 ms", "ms per request", "CPU ms/req", "bad"], rows)
    )
    bare_runs = results["bare"]
    for name in ("sqlgate", "sqlgate --no-access-log"):
        ratio = median([x.rps for x in bare_runs]) / median([x.rps for x in results[name]])
        paired = [b.rps / s.rps for s, b in zip(results[name], bare_runs, strict=True)]
        met = "yes" if ratio < TARGET_RATIO else "NO"
        print(
            f"\nOverhead of {name} (bare req/s / its req/s): {ratio:.2f}x "
            f"(per round {min(paired):.2f}-{max(paired):.2f}x); target < {TARGET_RATIO:g}x: {met}"
        )
        ours, theirs = _median_cpu(results[name]), _median_cpu(bare_runs)
        if ours is not None and theirs:
            print(f"  CPU per request, {name} / bare: {ours / theirs:.2f}x")
    if args.json:
        args.json.write_text(json.dumps({k: [vars(x) for x in v] for k, v in results.items()}))
    bad = sum(x.bad for runs in results.values() for x in runs)
    if bad:
        print(f"\nWARNING: {bad} non-2xx responses or socket errors; the numbers are suspect.")
    return 1 if bad else 0


def _median_cpu(runs: list[WrkResult]) -> float | None:
    values = [x.cpu_ms for x in runs if x.cpu_ms is not None]
    return median(values) if values else None


def _cpu(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    sys.exit(main())
