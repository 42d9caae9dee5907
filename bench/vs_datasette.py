"""sqlgate vs Datasette: HTTP throughput and latency of the same SQL on the same SQLite file.

Both servers serve one copy of the Chinook database (sqlgate as connection ``chinook``, with
its defaults: key check, audit, the concurrency cap, and rate limits on with budgets a benchmark
never reaches, so every request is counted; Datasette in immutable mode, ``-i``), each a single
uvicorn process on 127.0.0.1, both with their default access logging. One wrk load (same
threads, connections, duration) drives:

* sqlgate:   POST /api/v1/query/chinook  {"query": SQL, "row_limit": 1000}  (X-API-Key header)
             -> {columns, rows: [[...]], row_count, truncated, execution_time_ms}
* Datasette: GET /chinook.json?sql=SQL   (its default JSON shape, "arrays")
             -> {database, rows: [[...]], columns, truncated, query_ms, ...}

Both answer with the rows as JSON arrays plus column names, the closest like-for-like pair.
Before measuring, both are checked to return the same rows. After a warm-up, every
(query, server) pair is run ``--rounds`` times, alternating which server goes first, and the
medians across rounds are reported with sqlgate/Datasette throughput ratios (target: >= 2x),
and each server's CPU time per request (user + system, all its threads), which a busy machine
sways less than requests per second.

    .venv/bin/python bench/vs_datasette.py [--duration 10] [--connections 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import urllib.parse
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
from overhead import HIGH_LIMITS

CHINOOK = Path("/work/shared/data/chinook/Chinook_Sqlite.sqlite")
QUERIES = {
    "10 rows": "SELECT TrackId, Name, Composer, UnitPrice FROM Track ORDER BY TrackId LIMIT 10",
    "1000 rows": "SELECT TrackId, Name, Composer, UnitPrice FROM Track ORDER BY TrackId LIMIT 1000",
}
ROW_LIMIT = 1000  # sqlgate's default row_limit; Datasette's max_returned_rows is set to match
TARGET_RATIO = 2.0


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--database", type=Path, default=CHINOOK, help="Chinook SQLite file")
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    p.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    p.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    p.add_argument("--rounds", type=int, default=3, help="measured runs per pair (default 3)")
    p.add_argument("--warmup", type=int, default=3, help="warm-up seconds per pair (default 3)")
    p.add_argument("--json", type=Path, help="also write the raw results here")
    p.add_argument(
        "--sqlgate-workers",
        type=int,
        default=1,
        help="sqlgate server processes (default 1, like Datasette's one process)",
    )
    return p.parse_args()


def check_same_rows(
    client: httpx.Client, sqlgate_url: str, key: str, datasette_url: str, sql: str
) -> tuple[int, int, int]:
    """Both servers return the same rows for ``sql``; returns (rows, sqlgate bytes, ds bytes)."""
    ours = client.post(
        sqlgate_url, json={"query": sql, "row_limit": ROW_LIMIT}, headers={"X-API-Key": key}
    )
    ours.raise_for_status()
    theirs = client.get(datasette_url)
    theirs.raise_for_status()
    a, b = ours.json(), theirs.json()
    if a["truncated"] or b["truncated"]:
        sys.exit(f"error: a server truncated the result of {sql!r}")
    if a["rows"] != b["rows"] or a["row_count"] != len(b["rows"]):
        sys.exit(f"error: sqlgate and Datasette disagree on {sql!r}")
    return a["row_count"], len(ours.content), len(theirs.content)


def main() -> int:
    args = parse_args()
    install_signal_handlers()
    wrk_opts = {"threads": args.threads, "connections": args.connections}
    print(f"# sqlgate vs Datasette  ({time.strftime('%Y-%m-%d %H:%M %Z')})")
    print(f"machine: {machine()}")
    print(f"sqlgate source: {source_state()}, {args.sqlgate_workers} server process(es)")
    print(f"versions: {versions('sqlgate', 'datasette', 'fastapi', 'uvicorn', 'sqlglot')}")
    print(
        f"load: wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency, "
        f"{args.warmup}s warm-up, {args.rounds} rounds alternating servers\n"
    )

    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="sqlgate-bench-") as tmp_name:
        tmp = Path(tmp_name)
        db = tmp / "chinook.sqlite"  # Datasette names the database after the file: "chinook"
        shutil.copyfile(args.database, db)
        try:
            sqlgate, sqlgate_base, key = start_sqlgate(
                tmp / "sqlgate",
                {"chinook": ("sqlite", db)},
                tmp / "sqlgate.log",
                env=HIGH_LIMITS,
                workers=args.sqlgate_workers,
            )
            servers.append(sqlgate)
            ds_port = free_port()
            datasette = Server(
                "datasette",
                [tool("datasette"), "serve", "-i", str(db), "--host", HOST,
                 "--port", str(ds_port), "--setting", "max_returned_rows", str(ROW_LIMIT)],
                tmp / "datasette.log",
            )  # fmt: skip
            servers.append(datasette)
            ds_base = f"http://{HOST}:{ds_port}"
            datasette.wait_ready(f"{ds_base}/-/versions.json")

            sqlgate_url = f"{sqlgate_base}/api/v1/query/chinook"
            pids = {"sqlgate": sqlgate.pid, "datasette": datasette.pid}
            targets: dict[str, dict[str, tuple[str, Path | None]]] = {}
            checks = []
            with httpx.Client(timeout=30) as client:
                for label, sql in QUERIES.items():
                    ds_url = f"{ds_base}/chinook.json?" + urllib.parse.urlencode({"sql": sql})
                    script = lua_post_script(
                        tmp / f"post-{len(targets)}.lua",
                        {"query": sql, "row_limit": ROW_LIMIT},
                        {"X-API-Key": key},
                    )
                    targets[label] = {"sqlgate": (sqlgate_url, script), "datasette": (ds_url, None)}
                    rows, ours, theirs = check_same_rows(client, sqlgate_url, key, ds_url, sql)
                    checks.append((label, rows, ours, theirs))
            print("Both servers return the same rows:")
            print(table(["query", "rows", "sqlgate body (B)", "Datasette body (B)"], checks))
            print()

            for label, pair in targets.items():
                for name, (url, script) in pair.items():
                    run_wrk(url, duration=args.warmup, script=script, **wrk_opts)
                    print(f"warmed up {name} / {label}", flush=True)

            results: dict[tuple[str, str], list[WrkResult]] = {}
            raw_rows = []
            for r in range(args.rounds):
                for label, pair in targets.items():
                    order = list(pair) if r % 2 == 0 else list(reversed(pair))
                    for name in order:
                        url, script = pair[name]
                        res = run_wrk(
                            url, duration=args.duration, script=script, pid=pids[name], **wrk_opts
                        )
                        results.setdefault((label, name), []).append(res)
                        raw_rows.append(
                            (r + 1, label, name, f"{res.rps:.0f}", f"{res.p50_ms:.2f}",
                             f"{res.p99_ms:.2f}", _cpu(res.cpu_ms), res.requests, res.bad)
                        )  # fmt: skip
                        print(
                            f"round {r + 1} {label:>9} {name:<9} {res.rps:8.0f} req/s  "
                            f"p50 {res.p50_ms:7.2f} ms  p99 {res.p99_ms:7.2f} ms  "
                            f"CPU {_cpu(res.cpu_ms)} ms/req  bad {res.bad}",
                            flush=True,
                        )
        finally:
            for server in servers:
                server.stop()

    print("\nAll runs:")
    print(table(["round", "query", "server", "req/s", "p50 ms", "p99 ms", "CPU ms/req",
                 "requests", "bad"], raw_rows))  # fmt: skip

    summary = []
    ratios = []
    for label in QUERIES:
        med: dict[str, float] = {}
        cpu: dict[str, float | None] = {}
        for name in ("sqlgate", "datasette"):
            runs = results[(label, name)]
            med[name] = median([x.rps for x in runs])
            cpu[name] = _median_cpu(runs)
            summary.append(
                (label, name, f"{med[name]:.0f}", f"{median([x.p50_ms for x in runs]):.2f}",
                 f"{median([x.p99_ms for x in runs]):.2f}", _cpu(cpu[name]),
                 sum(x.bad for x in runs))
            )  # fmt: skip
        ratio = med["sqlgate"] / med["datasette"]
        # Each round runs the two servers back to back, so a round's ratio sees similar noise.
        paired = [
            a.rps / b.rps
            for a, b in zip(results[(label, "sqlgate")], results[(label, "datasette")], strict=True)
        ]
        met = "yes" if ratio >= TARGET_RATIO else "NO"
        ours, theirs = cpu["sqlgate"], cpu["datasette"]
        cpu_ratio = f"{theirs / ours:.2f}x" if ours and theirs else "n/a"
        ratios.append((label, f"{med['sqlgate']:.0f}", f"{med['datasette']:.0f}",
                       f"{ratio:.2f}x", f"{min(paired):.2f}-{max(paired):.2f}x", cpu_ratio,
                       f">= {TARGET_RATIO:g}x: {met}"))  # fmt: skip
    print(f"\nMedians of {args.rounds} rounds:")
    print(
        table(["query", "server", "req/s", "p50 ms", "p99 ms", "CPU ms/req", "bad responses"],
              summary)
    )  # fmt: skip
    print("\nThroughput ratio (sqlgate / Datasette, median req/s; and Datasette's server CPU per")
    print("request / sqlgate's, steadier than req/s on a busy machine):")
    headers = ["query", "sqlgate req/s", "Datasette req/s", "ratio", "per-round range",
               "CPU ratio", "target"]  # fmt: skip
    print(table(headers, ratios))

    bad = sum(x.bad for runs in results.values() for x in runs)
    if bad:
        print(f"\nWARNING: {bad} non-2xx responses or socket errors; the numbers are suspect.")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    f"{label}/{name}": [vars(x) for x in runs]
                    for (label, name), runs in results.items()
                },
                indent=2,
            )
        )
    return 1 if bad else 0


def _cpu(ms: float | None) -> str:
    return "n/a" if ms is None else f"{ms:.3f}"


def _median_cpu(runs: list[WrkResult]) -> float | None:
    known = [x.cpu_ms for x in runs if x.cpu_ms is not None]
    return median(known) if known else None


if __name__ == "__main__":
    sys.exit(main())
