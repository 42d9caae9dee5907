"""A dashboard's current data: every widget's query run through the query service as the caller
(surface ``DASHBOARD``: guard, read-only engine, row caps, timeouts, slots, audit), in parallel
within the organization's concurrency cap, each result kept for its refresh interval.

A widget that fails carries its own ``error``; the others still answer.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlgate.auth.concurrency import ConcurrencyLimiter
from sqlgate.auth.principal import Principal
from sqlgate.errors import NotFound, RateLimitExceeded, SqlgateError
from sqlgate.library.dashboard_filters import for_query
from sqlgate.library.saved_queries import SavedQueries
from sqlgate.library.widget_shapes import shape
from sqlgate.results.jsonable import rows_as_arrays
from sqlgate.services.connections import ConnectionService
from sqlgate.services.limits import DASHBOARD
from sqlgate.services.query import QueryRequest, QueryService, analyze_sql

#: Without an organization cap, at most this many widget queries of one request run at once.
MAX_PARALLEL = 8
#: How long a widget waits for a slot when the organization's other queries hold them all.
SLOT_WAIT_SECONDS = 5.0
CACHE_ENTRIES = 1024


@dataclass(frozen=True)
class Source:
    """What a widget runs: its SQL on its connection, with the filter values it declares."""

    connection_id: str
    sql: str
    params: dict[str, Any]
    row_limit: int | None
    timeout: float | None
    #: The caller's access policy on the connection (versions, role, attributes), if any.
    policy: str = ""

    def key(self, principal: Principal) -> str:
        # Everything that changes the rows: the organization, who runs it (row policies may
        # differ by member), the access policy as it binds them, the connection, the SQL, the
        # parameter values and the caps.
        return json.dumps(
            [
                principal.org_id,
                principal.member_id,
                self.policy,
                self.connection_id,
                self.sql,
                sorted(self.params.items()),
                self.row_limit,
                self.timeout,
            ],
            default=str,
        )


class ResultCache:
    """Widget results by :meth:`Source.key`, each until its own expiry (LRU past the size)."""

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self._entries = entries
        self._data: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._data.get(key)
            if found is None or found[0] <= time.monotonic():
                return None
            self._data.move_to_end(key)
            return found[1]

    def put(self, key: str, ttl: float, data: dict[str, Any]) -> None:
        if ttl <= 0:
            return
        with self._lock:
            self._data[key] = (time.monotonic() + ttl, data)
            self._data.move_to_end(key)
            while len(self._data) > self._entries:
                self._data.popitem(last=False)


def error_out(exc: SqlgateError) -> dict[str, Any]:
    return {"code": exc.code, "message": exc.message}


class WidgetRunner:
    def __init__(
        self,
        queries: QueryService,
        connections: ConnectionService,
        saved: SavedQueries,
        slots: ConcurrencyLimiter,
        cache: ResultCache | None = None,
    ) -> None:
        self._queries = queries
        self._connections = connections
        self._saved = saved
        self._slots = slots
        self._cache = cache or ResultCache()

    def run_all(
        self,
        principal: Principal,
        widgets: list[dict[str, Any]],
        params: Mapping[str, Any],
        *,
        default_ttl: int,
        refresh: bool,
    ) -> dict[str, dict[str, Any]]:
        """``{widget_id: {"data": ...} or {"error": ...}}`` for every widget with a query."""
        todo = [w for w in widgets if w.get("type") != "text"]
        if not todo:
            return {}
        cap = self._slots.cap(principal.org_id, principal.org_slug) or MAX_PARALLEL
        workers = max(1, min(cap, len(todo), MAX_PARALLEL))

        def one(widget: dict[str, Any]) -> dict[str, Any]:
            return self.run(principal, widget, params, default_ttl=default_ttl, refresh=refresh)

        if workers == 1:
            return {w["widget_id"]: one(w) for w in todo}
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dashboard") as pool:
            done = list(pool.map(one, todo))
        return {w["widget_id"]: out for w, out in zip(todo, done, strict=True)}

    def run(
        self,
        principal: Principal,
        widget: dict[str, Any],
        params: Mapping[str, Any],
        *,
        default_ttl: int,
        refresh: bool,
    ) -> dict[str, Any]:
        try:
            source = self._source(principal, widget, params)
            key = source.key(principal)
            cached = None if refresh else self._cache.get(key)
            if cached is not None:
                data = {**cached, "cached": True}
            else:
                data = self._execute(principal, source)
                ttl = widget.get("refresh_interval", default_ttl)
                self._cache.put(key, ttl, data)
                data = {**data, "cached": False}
            return {"data": {**data, **shape(widget, data["columns"], data["rows"])}}
        except SqlgateError as exc:
            return {"error": error_out(exc)}

    def _source(
        self, principal: Principal, widget: dict[str, Any], params: Mapping[str, Any]
    ) -> Source:
        if widget.get("query_id"):
            saved = self._saved.get(principal.org_id, widget["query_id"])
            if saved.sql is None:
                raise NotFound(f"Saved query {saved.id!r} has no SQL to run")
            conn, sql = saved.connection_id, saved.sql
        else:
            conn, sql = widget.get("connection_id"), widget["sql"]
        info = self._connections.get(principal.org_id, conn)
        declared = analyze_sql(sql, info.dialect).parameters
        return Source(
            info.id,
            sql,
            for_query(params, declared),
            widget.get("row_limit"),
            widget.get("timeout"),
            self._queries.policy_key(principal, info),
        )

    def _execute(self, principal: Principal, source: Source) -> dict[str, Any]:
        request = QueryRequest(source.sql, source.params or None, source.row_limit, source.timeout)
        ran = _retry_on_cap(
            lambda: self._queries.execute(
                principal,
                source.connection_id,
                request,
                surface=DASHBOARD,
                action="dashboard.widget",
            )
        )
        result = ran.result
        return {
            "columns": [c.name for c in result.columns],
            "rows": rows_as_arrays(result.table),
            "row_count": result.row_count,
            "truncated": result.truncated,
            "refreshed_at": datetime.now(UTC).isoformat(),
        }


def _retry_on_cap(call: Callable[[], Any]) -> Any:
    """Other queries of the organization may hold every slot for a moment: wait for one (a
    dashboard is many queries at once), up to ``SLOT_WAIT_SECONDS``."""
    deadline = time.monotonic() + SLOT_WAIT_SECONDS
    pause = 0.02
    while True:
        try:
            return call()
        except RateLimitExceeded as exc:
            if exc.details.get("budget") != "org_concurrency" or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.25)
