"""What sqlgate's engine and JSON rendering add to the driver alone, for small results.

In one process, on the Chinook SQLite file (``/work/shared/data/chinook/Chinook_Sqlite.sqlite``
or ``--database``), for ``SELECT TrackId, Name, Composer, UnitPrice FROM Track ORDER BY TrackId
LIMIT n`` with n = 10, 100 and 1000:

* driver: ``sqlite3`` ``fetchall()`` on an open connection, then ``orjson.dumps`` of the rows:
  the floor, no checks and no columns;
* sqlgate: ``SQLiteEngine.execute`` (a pooled read-only session under a deadline, the type of
  every column) and the JSON body of ``POST /api/v1/query/{id}`` (``query_out`` + ``dumps``).

Each is timed over ``--number`` calls, ``--rounds`` rounds alternating which goes first; the
medians per call and their ratio are printed. No HTTP, authentication or audit: those are the
request path's (``overhead.py``).

    .venv/bin/python bench/answer_rows.py [--rounds 5] [--number 300]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
import timeit
from pathlib import Path

import orjson
from _common import machine, median, source_state, table, versions

from sqlgate.api.models import query_out
from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.results.jsonable import dumps

CHINOOK = Path("/work/shared/data/chinook/Chinook_Sqlite.sqlite")
SQL = "SELECT TrackId, Name, Composer, UnitPrice FROM Track ORDER BY TrackId LIMIT {n}"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--database", type=Path, default=CHINOOK, help="the Chinook SQLite file")
    p.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    p.add_argument("--number", type=int, default=300, help="calls per timing (default 300)")
    return p.parse_args()


def main() -> int:
    args = parse_args()
    print(f"# sqlgate answer vs the driver alone  ({time.strftime('%Y-%m-%d %H:%M %Z')})")
    print(f"machine: {machine()}")
    print(f"sqlgate source: {source_state()}")
    print(f"versions: {versions('sqlgate', 'orjson', 'pyarrow')}\n")
    engine = SQLiteEngine(args.database)
    uri = f"file:{args.database}?mode=ro"
    con = sqlite3.connect(uri, uri=True, check_same_thread=False)
    rows = []
    for n in (10, 100, 1000):
        sql = SQL.format(n=n)

        def driver(sql: str = sql) -> bytes:
            return orjson.dumps(con.execute(sql).fetchall())

        def sqlgate(sql: str = sql) -> bytes:
            return dumps(query_out(engine.execute(sql, None, timeout=10, row_limit=1000)))

        ours = orjson.loads(sqlgate())["rows"]
        if ours != orjson.loads(driver()):
            sys.exit(f"error: sqlgate's rows differ from the driver's for n={n}")
        times: dict[str, list[float]] = {"driver": [], "sqlgate": []}
        for r in range(args.rounds):
            order = [("driver", driver), ("sqlgate", sqlgate)]
            for name, fn in order if r % 2 == 0 else order[::-1]:
                times[name].append(timeit.timeit(fn, number=args.number) / args.number * 1000)
        d, s = median(times["driver"]), median(times["sqlgate"])
        rows.append((n, f"{d:.3f}", f"{s:.3f}", f"{s / d:.2f}x"))
        print(f"{n} rows: driver {d:.3f} ms, sqlgate {s:.3f} ms", flush=True)
    print(f"\nmedians of {args.rounds} rounds of {args.number} calls, ms per call:")
    print(table(["rows", "driver (fetchall + orjson)", "sqlgate (execute + JSON body)",
                 "sqlgate / driver"], rows))  # fmt: skip
    engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
