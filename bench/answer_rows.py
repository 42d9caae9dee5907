"""What sqlgate's engine and JSON rendering add to the driver alone, for small results.

In one process, on the Chinook SQLite file (``/work/shared/data/chinook/Chinook_Sqlite.sqlite``
or ``--database``), for ``SELECT TrackId, Name, Composer, UnitPrice FROM Track ORDER BY TrackId
LIMIT n`` with n = 10, 100 and 1000:

* driver: ``sqlite3`` ``fetchall()`` on an open connection, then ``orjson.dumps`` of the rows:
  the floor, no checks and no columns;
* sqlgate: ``SQLiteEngine.execute`` (a pooled read-only session under a deadline, the type of
  every column) and the JSON body of ``POST /api/v1/query/{id}`` (``query_out`` + ``dumps``).

With ``--engine mysql``, the same rows on MySQL/MariaDB (``--mysql-host``, default 127.0.0.1:3306,
user root without a password): table ``Track`` is copied from the Chinook file into database
``sqlgate_bench_answer`` if it is not there yet; the driver is PyMySQL's ``fetchall()`` on an
open connection, its decimals written as JSON numbers (as sqlgate writes them).

Each is timed over ``--number`` calls, ``--rounds`` rounds alternating which goes first; the
medians per call and their ratio are printed. No HTTP, authentication or audit: those are the
request path's (``overhead.py``).

    .venv/bin/python bench/answer_rows.py [--rounds 5] [--number 300] [--engine mysql]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
from _common import machine, median, source_state, table, versions

from sqlgate.api.models import query_out
from sqlgate.engines.base import Engine
from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.results.jsonable import dumps

CHINOOK = Path("/work/shared/data/chinook/Chinook_Sqlite.sqlite")
SQL = "SELECT TrackId, Name, Composer, UnitPrice FROM Track ORDER BY TrackId LIMIT {n}"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--database", type=Path, default=CHINOOK, help="the Chinook SQLite file")
    p.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    p.add_argument("--number", type=int, default=300, help="calls per timing (default 300)")
    p.add_argument("--engine", choices=["sqlite", "mysql"], default="sqlite")
    p.add_argument("--mysql-host", default="127.0.0.1", help="MySQL/MariaDB host (root, trust)")
    return p.parse_args()


MYSQL_DATABASE = "sqlgate_bench_answer"


def mysql_side(args: argparse.Namespace) -> tuple[Engine, Callable[[str], bytes]]:
    """The Chinook tracks on MySQL/MariaDB (copied once), sqlgate's engine and the driver."""
    import pymysql

    from sqlgate.engines.base import ConnectionSpec
    from sqlgate.engines.mysql import MySQLEngine

    options = {"host": args.mysql_host, "port": 3306, "user": "root", "password": ""}
    con = pymysql.connect(**options, autocommit=True)
    with con.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS {MYSQL_DATABASE}")
        cursor.execute(f"USE {MYSQL_DATABASE}")
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS Track (TrackId INT PRIMARY KEY, Name VARCHAR(200) "
            "NOT NULL, Composer VARCHAR(220), UnitPrice DECIMAL(10,2) NOT NULL)"
        )
        cursor.execute("SELECT COUNT(*) FROM Track")
        if cursor.fetchone()[0] == 0:
            with sqlite3.connect(f"file:{args.database}?mode=ro", uri=True) as lite:
                tracks = lite.execute("SELECT TrackId, Name, Composer, UnitPrice FROM Track")
                cursor.executemany("INSERT INTO Track VALUES (%s, %s, %s, %s)", list(tracks))
    spec = ConnectionSpec(
        id="conn_bench", type="mysql", database=MYSQL_DATABASE, updated_at=datetime.now(UTC),
        host=args.mysql_host, port=3306, username="root", password="",
    )  # fmt: skip

    def fragment(value: object) -> object:
        return orjson.Fragment(str(value))

    def driver(sql: str) -> bytes:
        with con.cursor() as cursor:
            cursor.execute(sql)
            return orjson.dumps(cursor.fetchall(), default=fragment)

    return MySQLEngine(spec), driver


def main() -> int:
    args = parse_args()
    print(f"# sqlgate answer vs the driver alone  ({time.strftime('%Y-%m-%d %H:%M %Z')})")
    print(f"machine: {machine()}")
    print(f"sqlgate source: {source_state()}")
    print(f"versions: {versions('sqlgate', 'orjson', 'pyarrow')}\n")
    print(f"engine: {args.engine}\n")
    if args.engine == "mysql":
        engine, fetch = mysql_side(args)
    else:
        engine = SQLiteEngine(args.database)
        uri = f"file:{args.database}?mode=ro"
        con = sqlite3.connect(uri, uri=True, check_same_thread=False)

        def fetch(sql: str) -> bytes:
            return orjson.dumps(con.execute(sql).fetchall())

    rows = []
    for n in (10, 100, 1000):
        sql = SQL.format(n=n)

        def driver(sql: str = sql) -> bytes:
            return fetch(sql)

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
