"""Dashboards through a real `sqlgate serve` process: the demo database (DuckDB) and Chinook in
PostgreSQL, as a user would run them."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sqlgate.auth.scopes import Role
from sqlgate.services import orgs
from sqlgate.settings import Settings
from sqlgate.store.db import Store
from sqlgate.store.models import Member, SavedQuery, new_id
from tests.contract.chinook import chinook_postgres
from tests.test_server import prepare, start_server

pytestmark = pytest.mark.server

SEED_BODY = {
    "name": "Sales Overview",
    "description": "Daily sales metrics",
    "widgets": [
        {"type": "metric", "query_id": "q_abc", "position": {"x": 0, "y": 0, "w": 6, "h": 4}}
    ],
}


class Served:
    def __init__(self, base: str, data_dir: Path, init: dict[str, Any]) -> None:
        self.base = base
        self.data_dir = data_dir
        self.key = init["api_key"]
        self.org_id = init["org_id"]
        self.store = Store(Settings(data_dir=data_dir).metadata_url)

    def h(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}

    def call(self, method: str, path: str, key: str | None = None, **kw: Any) -> httpx.Response:
        return httpx.request(method, self.base + path, headers=self.h(key), timeout=60, **kw)

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        r = self.call("POST", "/v1/dashboards", json=body)
        assert r.status_code == 201, r.text
        return r.json()["data"]

    def show(self, dash_id: str, **params: Any) -> dict[str, Any]:
        r = self.call("GET", f"/v1/dashboards/{dash_id}", params=params)
        assert r.status_code == 200, r.text
        return r.json()["data"]

    def save_query(self, query_id: str, connection: str, sql: str) -> None:
        conn = self.call("GET", f"/v1/connections/{connection}").json()["data"]["id"]
        owner = orgs.first_owner_id(self.store, self.org_id)
        with self.store.session() as session:
            session.add(
                SavedQuery(id=query_id, org_id=self.org_id, member_id=owner, connection_id=conn,
                           question=sql, sql=sql, status="ok")
            )  # fmt: skip

    def key_for(self, role: Role) -> str:
        email = f"{role.value}-{new_id('x')}@acme.test"
        with self.store.session() as session:
            session.add(Member(id=new_id("mem"), org_id=self.org_id, email=email, role=role.value))
        return orgs.create_key(self.store, self.org_id, name="t", member_email=email).api_key


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("dashboards")
    proc, base = start_server(data_dir, "--demo")
    try:
        init = prepare("init", "--json", data_dir=data_dir)
        assert init.returncode == 0, init.stderr
        served = Served(base, data_dir, json.loads(init.stdout))
        yield served
        served.store.close()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def pg(served: Served) -> Iterator[str]:
    """Chinook in PostgreSQL, registered as connection ``chinook_pg`` (read-only login)."""
    with chinook_postgres() as login:
        body = {**login.connection_body(), "name": "chinook_pg"}
        r = served.call("POST", "/v1/connections", json=body)
        assert r.status_code == 201, r.text
        yield "chinook_pg"


def _w(kind: str, conn: str, sql: str, y: int, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "connection_id": conn, "sql": sql,
            "position": {"x": 0, "y": y, "w": 12, "h": 1}, **extra}  # fmt: skip


def test_the_seed_body_on_the_demo_database(served: Served) -> None:
    served.save_query("q_abc", "demo", "SELECT count(*) AS orders FROM orders")
    made = served.create(SEED_BODY)
    assert made["name"] == SEED_BODY["name"] and len(made["widgets"]) == 1
    shown = served.show(made["dashboard_id"])
    data = shown["widgets"][0]["data"]
    expected = served.call("POST", "/api/v1/query/demo", json={
        "query": "SELECT count(*) AS orders FROM orders"}).json()["rows"][0][0]  # fmt: skip
    assert data["columns"] == ["orders"] and data["rows"] == [[expected]] and expected > 1000
    assert data["value"] == expected and data["truncated"] is False


def test_every_widget_type_on_chinook_in_postgresql(served: Served, pg: str) -> None:
    by_genre = (
        "SELECT g.name AS genre, COUNT(*) AS tracks FROM track t JOIN genre g "
        "ON g.genre_id = t.genre_id GROUP BY g.name ORDER BY tracks DESC LIMIT 3"
    )
    per_year = (
        "SELECT to_char(invoice_date, 'YYYY') AS year, SUM(total) AS total "
        "FROM invoice GROUP BY 1 ORDER BY 1"
    )
    widgets = [
        _w("metric", pg, per_year, 0, mapping={"value": "total", "x": "year"},
           comparison={"type": "previous_period"}),
        _w("table", pg, by_genre, 1),
        _w("bar", pg, by_genre, 2, mapping={"x": "genre", "y": "tracks"}),
        _w("line", pg, per_year, 3, mapping={"x": "year", "y": "total"}),
        _w("area", pg, per_year, 4, mapping={"x": "year", "y": ["total"]}),
        _w("pie", pg, by_genre, 5, mapping={"x": "genre", "y": "tracks"}),
        _w("scatter", pg, "SELECT milliseconds AS ms, bytes FROM track ORDER BY track_id LIMIT 2",
           6, mapping={"x": "ms", "y": "bytes"}),
        {"type": "text", "text": "Chinook", "position": {"x": 0, "y": 7, "w": 4, "h": 1}},
    ]  # fmt: skip
    shown = served.show(served.create({"name": "PG types", "widgets": widgets})["dashboard_id"])
    metric, table, bar, line, area, pie, scatter, text = (w["data"] for w in shown["widgets"])
    assert metric["period"] == "2025" and float(metric["value"]) == 450.58
    assert float(metric["comparison"]["value"]) == 477.53
    assert table["rows"] == [["Rock", 1297], ["Latin", 579], ["Metal", 374]]
    assert bar["series"][0]["points"] == [["Rock", 1297], ["Latin", 579], ["Metal", 374]]
    assert [p[0] for p in line["series"][0]["points"]] == ["2021", "2022", "2023", "2024", "2025"]
    assert area["series"][0]["points"] == line["series"][0]["points"]
    assert pie["slices"][1] == {"label": "Latin", "value": 579}
    assert scatter["series"][0]["points"] == [[343719, 11170334], [342562, 5510424]]
    assert text is None


def test_filters_change_the_rows_in_postgresql(served: Served, pg: str) -> None:
    sql = (
        "SELECT COUNT(*) AS n FROM invoice WHERE billing_country = :country "
        "AND invoice_date >= CAST(:period_start AS date) "
        "AND invoice_date < CAST(:period_end AS date)"
    )
    body = {
        "name": "PG filters",
        "filters": [{"name": "country", "type": "values", "options": ["USA", "Canada"],
                     "default": "USA"},
                    {"name": "period", "type": "date_range",
                     "default": "2021-01-01..2026-01-01"}],
        "widgets": [_w("metric", pg, sql, 0)],
    }  # fmt: skip
    dash = served.create(body)["dashboard_id"]
    assert served.show(dash)["widgets"][0]["data"]["value"] == 91
    canada = served.show(dash, **{"filter.country": "Canada",
                                  "filter.period": "2022-01-01..2023-01-01"})  # fmt: skip
    assert canada["widgets"][0]["data"]["value"] == 12
    r = served.call("GET", f"/v1/dashboards/{dash}", params={"filter.country": "France'--"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"


def test_cache_hit_then_refresh_shows_a_changed_table(served: Served) -> None:
    path = served.data_dir / "changing.sqlite"
    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE sales (amount INTEGER); INSERT INTO sales VALUES (10);")
    con.commit()
    added = prepare("connections", "add", "changing", "--type", "sqlite",
                    "--database", str(path), data_dir=served.data_dir)  # fmt: skip
    assert added.returncode == 0, added.stderr
    dash = served.create(
        {
            "name": "Cached",
            "widgets": [_w("metric", "changing", "SELECT SUM(amount) AS s FROM sales", 0)],
        }
    )["dashboard_id"]
    assert served.show(dash)["widgets"][0]["data"]["value"] == 10
    con.execute("INSERT INTO sales VALUES (5)")
    con.commit()
    con.close()
    started = time.perf_counter()
    cached = served.show(dash)["widgets"][0]["data"]
    assert cached["value"] == 10 and cached["cached"] is True
    assert time.perf_counter() - started < 1
    fresh = served.show(dash, refresh="true")["widgets"][0]["data"]
    assert fresh["value"] == 15 and fresh["cached"] is False


def test_a_failing_and_a_timed_out_widget_beside_working_ones(served: Served) -> None:
    widgets = [
        _w("table", "demo", "SELECT * FROM no_such_table", 0),
        _w("metric", "demo", "SELECT count(*) AS n FROM range(100000000000)", 1, timeout=1),
        _w("metric", "demo", "SELECT count(*) AS n FROM customers", 2),
    ]
    shown = served.show(served.create({"name": "Mixed", "widgets": widgets})["dashboard_id"])
    broken, slow, fine = shown["widgets"]
    assert broken["data"] is None and broken["error"]["code"] in ("query_error", "validation_error")
    assert slow["error"]["code"] == "timeout"
    assert fine["data"]["value"] > 0 and "error" not in fine


def test_permissions_and_other_organizations(served: Served) -> None:
    dash = served.create({"name": "Guarded"})["dashboard_id"]
    viewer, editor = served.key_for(Role.VIEWER), served.key_for(Role.EDITOR)
    path = f"/v1/dashboards/{dash}"
    assert served.call("GET", path, viewer).status_code == 200
    assert served.call("PATCH", path, viewer, json={"name": "no"}).status_code == 403
    assert served.call("DELETE", path, editor).status_code == 403
    other = orgs.create_organization(served.store, name="Other", owner_email="o@other.test")
    assert other.key is not None
    share = served.call("POST", f"{path}/shares").json()["data"]["share_id"]
    k = other.key.api_key
    statuses = [
        served.call("GET", path, k).status_code,
        served.call("PATCH", path, k, json={"name": "stolen"}).status_code,
        served.call("DELETE", path, k).status_code,
        served.call("POST", f"{path}/data", k, json={}).status_code,
        served.call("POST", f"{path}/shares", k, json={}).status_code,
        served.call("GET", f"{path}/shares", k).status_code,
        served.call("DELETE", f"{path}/shares/{share}", k).status_code,
    ]
    assert statuses == [404] * 7
    assert served.show(dash)["name"] == "Guarded"


def test_a_shared_link_works_expires_and_is_revoked(served: Served) -> None:
    dash = served.create(
        {"name": "Shared", "widgets": [_w("table", "demo", "SELECT 1 AS one", 0)]}
    )["dashboard_id"]
    link = served.call("POST", f"/v1/dashboards/{dash}/shares", json={"expires_in": 600})
    assert link.status_code == 201, link.text
    url = link.json()["data"]["url"]
    public = httpx.get(url)
    assert public.status_code == 200 and public.json()["data"]["widgets"][0]["data"]["rows"] == [
        [1]
    ]
    assert "SELECT" not in public.text and "demo" not in public.text
    share_id = link.json()["data"]["share_id"]
    assert served.call("DELETE", f"/v1/dashboards/{dash}/shares/{share_id}").status_code == 204
    assert httpx.get(url).status_code == 403
    short = served.call("POST", f"/v1/dashboards/{dash}/shares", json={"expires_in": 1})
    time.sleep(2.1)
    expired = httpx.get(short.json()["data"]["url"])
    assert expired.status_code == 403 and expired.json()["error"]["reason"] == "expired"


@pytest.mark.parametrize(
    "body",
    ["[]", '"x"', "{", '{"name": "x", "widgets": [{"type": "metric"}]}',
     '{"name": "x", "widgets": [{"type": "pie", "sql": "SELECT 1", "connection_id": "demo", '
     '"position": {"x": 11, "y": 0, "w": 2, "h": 1}}]}'],
)  # fmt: skip
def test_malformed_bodies_are_422_never_500(served: Served, body: str) -> None:
    r = httpx.post(
        f"{served.base}/v1/dashboards",
        content=body,
        headers={**served.h(), "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_error"
