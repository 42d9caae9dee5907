"""The floor for bench/overhead.py: bare Starlette doing the same sqlite3 work as sqlgate.

``POST /query`` reads a JSON body ``{"query": ...}``, runs it on a pooled read-only sqlite3
connection in the thread pool (as sqlgate's SQLite engine does) and answers the rows as JSON in
sqlgate's shape. No authentication, limits, guard or audit: what is left is the price of HTTP,
JSON and sqlite3 in Python. Served by ``uvicorn bench._bare_starlette:app`` with the database
path in ``BARE_DATABASE``.
"""

from __future__ import annotations

import json
import os
import queue
import sqlite3
import time

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_DATABASE = os.environ.get("BARE_DATABASE", ":memory:")
_POOL: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue(8)


def _connect() -> sqlite3.Connection:
    uri = f"file:{_DATABASE}?mode=ro" if _DATABASE != ":memory:" else ":memory:"
    conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA query_only = ON")
    return conn


def _run(sql: str) -> bytes:
    started = time.perf_counter()
    try:
        conn = _POOL.get_nowait()
    except queue.Empty:
        conn = _connect()
    try:
        cursor = conn.execute(sql)
        names = [d[0] for d in cursor.description or ()]
        rows = cursor.fetchmany(1001)
    finally:
        try:
            _POOL.put_nowait(conn)
        except queue.Full:
            conn.close()
    out = {
        "columns": [{"name": n} for n in names],
        "rows": [list(r) for r in rows[:1000]],
        "row_count": min(len(rows), 1000),
        "truncated": len(rows) > 1000,
        "execution_time_ms": round((time.perf_counter() - started) * 1000, 3),
    }
    return json.dumps(out).encode()


async def query(request: Request) -> Response:
    body = json.loads(await request.body())
    return Response(await run_in_threadpool(_run, body["query"]), media_type="application/json")


async def health(_request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


app = Starlette(routes=[Route("/query", query, methods=["POST"]), Route("/healthz", health)])
