"""A 12-widget dashboard on Chinook: `GET /v1/dashboards/{id}` cold and cached, against a client
running the same 12 queries one after another through `POST /api/v1/query/chinook`.

One sqlgate process serves one copy of the Chinook SQLite database (connection ``chinook``,
rate limits off, the default organization cap of 8 running queries). The script creates a
dashboard of 12 widgets (aggregates, joins, a window function), checks that every widget's rows
equal what the query route returns for the same SQL, then, after a warm-up, times ``--rounds``
of each, alternating:

* cold:       ``GET /v1/dashboards/{id}?refresh=true`` (every widget re-run, in parallel);
* cached:     ``GET /v1/dashboards/{id}`` (every widget from its result cache);
* sequential: the 12 queries, one ``POST /api/v1/query/chinook`` after another, on one
              keep-alive connection (the time for all 12).

Reported: p50 and p95 of each, in ms, and the sequential/cold ratio. Targets: cold faster than
the sequential client; cached p50 under 20 ms. Exit status 1 if a target is missed.

    .venv/bin/python bench/dashboard_vs_sequential.py [--rounds 30] [--database PATH]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _common import install_signal_handlers, machine, source_state, start_sqlgate, table

CHINOOK = Path("/work/shared/data/chinook/Chinook_Sqlite.sqlite")

QUERIES = [
    "SELECT COUNT(*) AS tracks FROM Track",
    "SELECT ROUND(SUM(Total), 2) AS revenue FROM Invoice",
    "SELECT g.Name AS genre, COUNT(*) AS tracks FROM Track t JOIN Genre g USING (GenreId) "
    "GROUP BY g.Name ORDER BY tracks DESC",
    "SELECT strftime('%Y-%m', InvoiceDate) AS month, ROUND(SUM(Total), 2) AS total "
    "FROM Invoice GROUP BY month ORDER BY month",
    "SELECT BillingCountry AS country, ROUND(SUM(Total), 2) AS total FROM Invoice "
    "GROUP BY country ORDER BY total DESC",
    "SELECT ar.Name AS artist, COUNT(*) AS tracks FROM Track t JOIN Album al USING (AlbumId) "
    "JOIN Artist ar USING (ArtistId) GROUP BY ar.Name ORDER BY tracks DESC LIMIT 20",
    "SELECT m.Name AS media, AVG(t.Milliseconds) / 1000.0 AS seconds FROM Track t "
    "JOIN MediaType m USING (MediaTypeId) GROUP BY m.Name",
    "SELECT e.LastName AS rep, ROUND(SUM(i.Total), 2) AS sales FROM Invoice i "
    "JOIN Customer c USING (CustomerId) JOIN Employee e ON e.EmployeeId = c.SupportRepId "
    "GROUP BY e.LastName",
    "SELECT t.Name AS track, SUM(il.Quantity) AS sold FROM InvoiceLine il "
    "JOIN Track t USING (TrackId) GROUP BY t.TrackId ORDER BY sold DESC, t.Name LIMIT 25",
    "SELECT c.Country AS country, COUNT(DISTINCT c.CustomerId) AS customers, "
    "COUNT(i.InvoiceId) AS invoices FROM Customer c LEFT JOIN Invoice i USING (CustomerId) "
    "GROUP BY c.Country ORDER BY customers DESC",
    "SELECT p.Name AS playlist, COUNT(*) AS tracks FROM Playlist p "
    "JOIN PlaylistTrack pt USING (PlaylistId) GROUP BY p.PlaylistId ORDER BY tracks DESC",
    "SELECT month, total, SUM(total) OVER (ORDER BY month) AS running FROM ("
    "SELECT strftime('%Y-%m', InvoiceDate) AS month, SUM(Total) AS total FROM Invoice "
    "GROUP BY month) ORDER BY month",
]
TYPES = ["metric", "metric", "bar", "line", "bar", "table", "pie", "bar", "table", "table",
         "table", "area"]  # fmt: skip
MAPPINGS: dict[int, dict[str, Any]] = {
    2: {"x": "genre", "y": "tracks"},
    3: {"x": "month", "y": "total"},
    4: {"x": "country", "y": "total"},
    6: {"x": "media", "y": "seconds"},
    7: {"x": "rep", "y": "sales"},
    11: {"x": "month", "y": ["total", "running"]},
}


def dashboard_body() -> dict[str, Any]:
    widgets = []
    for i, sql in enumerate(QUERIES):
        widget: dict[str, Any] = {
            "type": TYPES[i],
            "title": f"widget {i + 1}",
            "sql": sql,
            "connection_id": "chinook",
            "position": {"x": (i % 4) * 3, "y": (i // 4) * 3, "w": 3, "h": 3},
        }
        if i in MAPPINGS:
            widget["mapping"] = MAPPINGS[i]
        widgets.append(widget)
    return {"name": "Chinook overview", "refresh_interval": 3600, "widgets": widgets}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(call: Any) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--database", type=Path, default=CHINOOK)
    args = parser.parse_args()
    install_signal_handlers()
    work = Path(tempfile.mkdtemp(prefix="sqlgate-bench-dash-"))
    try:
        db = work / "chinook.sqlite"
        shutil.copyfile(args.database, db)
        _server, base, key = start_sqlgate(
            work / "data", {"chinook": ("sqlite", db)}, work / "sqlgate.log"
        )
        with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=120) as client:
            return run(client, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(client: httpx.Client, rounds: int) -> int:
    made = client.post("/v1/dashboards", json=dashboard_body())
    made.raise_for_status()
    dash = made.json()["data"]["dashboard_id"]

    def cold() -> dict[str, Any]:
        r = client.get(f"/v1/dashboards/{dash}", params={"refresh": "true"})
        r.raise_for_status()
        return r.json()["data"]  # type: ignore[no-any-return]

    def cached() -> None:
        client.get(f"/v1/dashboards/{dash}").raise_for_status()

    def sequential() -> list[list[Any]]:
        out = []
        for sql in QUERIES:
            r = client.post("/api/v1/query/chinook", json={"query": sql})
            r.raise_for_status()
            out.append(r.json()["rows"])
        return out

    shown = cold()
    errors = [w["error"] for w in shown["widgets"] if w.get("error")]
    if errors:
        sys.exit(f"error: widgets failed: {errors}")
    if [w["data"]["rows"] for w in shown["widgets"]] != sequential():
        sys.exit("error: the dashboard's rows differ from the query route's")
    for _ in range(3):  # warm-up
        cold(), cached(), sequential()
    times: dict[str, list[float]] = {"cold": [], "cached": [], "sequential": []}
    for i in range(rounds):
        order = [("cold", cold), ("cached", cached), ("sequential", sequential)]
        for name, call in order if i % 2 == 0 else reversed(order):
            times[name].append(timed(call))
    rows = [
        [name, f"{pct(v, 0.5):.1f}", f"{pct(v, 0.95):.1f}", f"{statistics.mean(v):.1f}"]
        for name, v in times.items()
    ]
    ratio = pct(times["sequential"], 0.5) / pct(times["cold"], 0.5)
    print(f"## 12-widget dashboard on Chinook (SQLite), {rounds} rounds\n")
    print(f"{machine()}; {source_state()}\n")
    print(table(["run", "p50 ms", "p95 ms", "mean ms"], rows))
    print(f"\nsequential p50 / cold p50: {ratio:.2f}x")
    ok = ratio > 1 and pct(times["cached"], 0.5) < 20
    print("targets (cold faster than sequential, cached p50 < 20 ms):", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
