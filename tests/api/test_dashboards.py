"""Dashboards in process: the seed 002 API, validation, widget data, filters, cache, sharing."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sqlgate.auth.scopes import Role
from sqlgate.services import orgs
from sqlgate.services.team import SERVICE_DOMAIN
from sqlgate.store.models import SavedQuery
from tests.conftest import CHINOOK_SQLITE, Env, open_env

CANADA_2022 = 12

SEED_BODY = {
    "name": "Sales Overview",
    "description": "Daily sales metrics",
    "widgets": [
        {"type": "metric", "query_id": "q_abc", "position": {"x": 0, "y": 0, "w": 6, "h": 4}}
    ],
}


def _save_query(env: Env, sql: str, query_id: str | None = None, org_id: str | None = None) -> str:
    services = env.org.services
    org_id = org_id or env.org.id
    conn = services.connections.get(org_id, "chinook")
    member = services.team.members(org_id)[0]
    qid = query_id or f"q_{abs(hash((sql, org_id))) % 10**12:012d}"
    with services.store.session() as session:
        if session.get(SavedQuery, qid) is None:
            session.add(
                SavedQuery(
                    id=qid,
                    org_id=org_id,
                    member_id=member.id,
                    connection_id=conn.id,
                    question=sql,
                    sql=sql,
                    status="ok",
                )
            )
    return qid


def _h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _create(env: Env, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    r = env.client.post("/v1/dashboards", json=body, headers=_h(key or env.org.key))
    assert r.status_code == 201, r.text
    return r.json()["data"]


def _get(env: Env, dash_id: str, key: str | None = None, **params: Any) -> dict[str, Any]:
    r = env.client.get(f"/v1/dashboards/{dash_id}", params=params, headers=_h(key or env.org.key))
    assert r.status_code == 200, r.text
    return r.json()["data"]


def _widget(type_: str, sql: str, y: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": type_,
        "sql": sql,
        "connection_id": "chinook",
        "position": {"x": 0, "y": y, "w": 12, "h": 1},
        **extra,
    }


def test_the_seed_body_verbatim_comes_back_with_data(env: Env) -> None:
    _save_query(env, "SELECT COUNT(*) AS tracks FROM Track", "q_abc")
    made = _create(env, SEED_BODY)
    assert made["name"] == "Sales Overview" and made["description"] == "Daily sales metrics"
    (widget,) = made["widgets"]
    assert widget["widget_id"].startswith("w_") and widget["query_id"] == "q_abc"
    assert widget["position"] == {"x": 0, "y": 0, "w": 6, "h": 4}
    shown = _get(env, made["dashboard_id"])
    data = shown["widgets"][0]["data"]
    assert data["columns"] == ["tracks"] and data["rows"] == [[3503]]
    assert data["row_count"] == 1 and data["truncated"] is False and data["value"] == 3503
    assert data["refreshed_at"].endswith("+00:00")
    assert shown["widgets"][0]["widget_id"] == widget["widget_id"]


def test_every_problem_is_reported_and_nothing_written(env: Env) -> None:
    other = orgs.create_organization(env.org.services.store, name="Elsewhere", owner_email="e@x.t")
    env.org.services.connections.create(
        other.org_id, name="chinook", type="sqlite", database=str(CHINOOK_SQLITE),
        trusted_path=True,
    )  # fmt: skip
    theirs = _save_query(env, "SELECT 1 AS one", org_id=other.org_id)
    before = env.client.get("/v1/dashboards?limit=100", headers=env.org.headers()).json()
    body = {
        "name": "",
        "widgets": [
            {"type": "metric", "query_id": "q_nope", "position": {"x": 0, "y": 0, "w": 6, "h": 4}},
            {"type": "table", "query_id": theirs, "position": {"x": 8, "y": 0, "w": 6, "h": 4}},
            {"type": "bar", "sql": "SELECT 1", "position": {"x": 3, "y": 2, "w": 4, "h": 4}},
            {"type": "gauge", "sql": "SELECT 1", "position": {"x": 0, "y": 9, "w": 1, "h": 1}},
            {"type": "table", "sql": "DELETE FROM Track", "connection_id": "chinook",
             "position": {"x": 0, "y": 20, "w": 1, "h": 1}},
            {"type": "text", "position": {"x": 0, "y": 30, "w": 2, "h": 1}},
        ],
    }  # fmt: skip
    r = env.client.post("/v1/dashboards", json=body, headers=env.org.headers())
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_error"
    fields = {d["field"] for d in error["details"]}
    assert {
        "name",
        "widgets.0.query_id",
        "widgets.1.query_id",
        "widgets.1.position",
        "widgets.2.position",
        "widgets.2.mapping.x",
        "widgets.3.type",
        "widgets.4.sql",
        "widgets.5.text",
    } <= fields, fields
    overlap = [d for d in error["details"] if d["field"] == "widgets.2.position"]
    assert "overlaps widgets.0" in overlap[0]["message"]
    after = env.client.get("/v1/dashboards?limit=100", headers=env.org.headers()).json()
    assert after["data"] == before["data"]


@pytest.mark.parametrize(
    "body",
    [[], "text", {"name": "x", "widgets": "no"}, {"name": "x", "widgets": [1, None]},
     {"name": "x", "widgets": [{"type": "table", "sql": 5, "position": {"x": "a"}}]},
     {"name": "x", "filters": [{"name": "1bad", "type": "date"}]}, {"name": "x", "extra": 1}],
)  # fmt: skip
def test_malformed_bodies_are_422(client: TestClient, env: Env, body: Any) -> None:
    r = client.post("/v1/dashboards", json=body, headers=env.org.headers())
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_error"


def test_patch_keeps_widget_ids_and_is_all_or_nothing(env: Env) -> None:
    made = _create(env, {"name": "P", "widgets": [
        _widget("table", "SELECT Name FROM Genre ORDER BY GenreId LIMIT 2", 0),
        {"type": "text", "text": "# Notes", "position": {"x": 0, "y": 1, "w": 6, "h": 2}},
    ]})  # fmt: skip
    first, note = made["widgets"]
    moved = {**first, "position": {"x": 0, "y": 5, "w": 6, "h": 1}}
    added = _widget("metric", "SELECT COUNT(*) AS n FROM Genre", 0)
    url = f"/v1/dashboards/{made['dashboard_id']}"
    r = env.client.patch(
        url, json={"name": "Renamed", "widgets": [moved, added]}, headers=env.org.headers()
    )
    assert r.status_code == 200, r.text
    patched = r.json()["data"]
    assert patched["name"] == "Renamed" and patched["description"] is None
    ids = [w["widget_id"] for w in patched["widgets"]]
    assert ids[0] == first["widget_id"] and note["widget_id"] not in ids and len(set(ids)) == 2
    bad = {"description": "new", "widgets": [moved, {**added, "position": moved["position"]}]}
    r = env.client.patch(url, json=bad, headers=env.org.headers())
    assert r.status_code == 422
    assert _get(env, made["dashboard_id"], data="false")["description"] is None


def test_every_widget_type_has_its_rows(env: Env) -> None:
    by_genre = (
        "SELECT g.Name AS genre, COUNT(*) AS tracks FROM Track t JOIN Genre g "
        "ON g.GenreId = t.GenreId GROUP BY g.Name ORDER BY tracks DESC LIMIT 3"
    )
    per_year = (
        "SELECT strftime('%Y', InvoiceDate) AS year, ROUND(SUM(Total), 2) AS total "
        "FROM Invoice GROUP BY year ORDER BY year"
    )
    country_year = (
        "SELECT strftime('%Y', InvoiceDate) AS year, BillingCountry AS country, "
        "ROUND(SUM(Total), 2) AS total FROM Invoice WHERE BillingCountry IN ('USA', 'Canada') "
        "GROUP BY year, country ORDER BY year, country"
    )
    widgets = [
        _widget("metric", per_year, 0, mapping={"value": "total", "x": "year"},
                comparison={"type": "previous_period"}),
        _widget("metric", "SELECT COUNT(*) AS n FROM Customer", 1,
                comparison={"type": "target", "value": 50}),
        _widget("table", by_genre, 2, mapping={"columns": ["tracks", "genre"]}),
        _widget("bar", by_genre, 3, mapping={"x": "genre", "y": "tracks"}),
        _widget("line", country_year, 4, mapping={"x": "year", "y": "total", "series": "country"}),
        _widget("area", per_year, 5, mapping={"x": "year", "y": ["total"]}),
        _widget("pie", by_genre, 6, mapping={"x": "genre", "y": "tracks"}),
        _widget("scatter", "SELECT Milliseconds AS ms, Bytes AS bytes FROM Track "
                "ORDER BY TrackId LIMIT 2", 7, mapping={"x": "ms", "y": "bytes"}),
        {"type": "text", "text": "**Chinook**", "position": {"x": 0, "y": 8, "w": 12, "h": 1}},
    ]  # fmt: skip
    shown = _get(env, _create(env, {"name": "Types", "widgets": widgets})["dashboard_id"])
    metric, target, table, bar, line, area, pie, scatter, text = (
        w["data"] for w in shown["widgets"]
    )
    assert metric["value"] == 450.58 and metric["period"] == "2025"
    assert metric["comparison"]["value"] == 477.53 and metric["comparison"]["period"] == "2024"
    assert metric["comparison"]["change"] == pytest.approx(-26.95)
    assert target["value"] == 59 and target["comparison"]["change_pct"] == pytest.approx(18.0)
    assert table["columns"] == ["tracks", "genre"]
    assert table["rows"] == [[1297, "Rock"], [579, "Latin"], [374, "Metal"]]
    assert bar["series"] == [{"name": "tracks", "points": [["Rock", 1297], ["Latin", 579],
                                                           ["Metal", 374]]}]  # fmt: skip
    assert [s["name"] for s in line["series"]] == ["Canada", "USA"]
    assert line["series"][1]["points"][0] == ["2021", 103.95]
    assert area["series"][0]["points"][-1] == ["2025", 450.58]
    assert pie["slices"][0] == {"label": "Rock", "value": 1297}
    assert scatter["series"][0]["points"] == [[343719, 11170334], [342562, 5510424]]
    assert text is None and shown["widgets"][8]["text"] == "**Chinook**"


def test_a_mapping_to_a_missing_column_is_that_widgets_error(env: Env) -> None:
    widgets = [
        _widget("bar", "SELECT 1 AS a, 2 AS b", 0, mapping={"x": "a", "y": "nope"}),
        _widget("table", "SELECT 1 AS a", 1),
    ]
    shown = _get(env, _create(env, {"name": "M", "widgets": widgets})["dashboard_id"])
    assert shown["widgets"][0]["error"]["code"] == "validation_error"
    assert "nope" in shown["widgets"][0]["error"]["message"]
    assert shown["widgets"][1]["data"]["rows"] == [[1]]


def test_filters_are_bound_as_parameters(env: Env) -> None:
    sql = (
        "SELECT COUNT(*) AS n FROM Invoice WHERE BillingCountry = :country "
        "AND InvoiceDate >= :period_start AND InvoiceDate < :period_end"
    )
    body = {
        "name": "Filtered",
        "filters": [
            {"name": "country", "type": "values", "default": "USA"},
            {"name": "period", "type": "date_range", "default": "2021-01-01..2026-01-01"},
            {"name": "min", "type": "number", "default": 0},
        ],
        "widgets": [
            _widget("metric", sql, 0),
            _widget("metric", "SELECT COUNT(*) AS n FROM Track WHERE Milliseconds > :min", 1),
            _widget("metric", "SELECT COUNT(*) AS n FROM Genre", 2),
        ],
    }
    dash = _create(env, body)["dashboard_id"]
    values = [w["data"]["value"] for w in _get(env, dash)["widgets"]]
    assert values == [91, 3503, 25]
    narrowed = _get(
        env, dash, **{"filter.country": "Canada", "filter.period": "2022-01-01..2023-01-01",
                      "filter.min": "600000"},
    )  # fmt: skip
    assert [w["data"]["value"] for w in narrowed["widgets"]] == [CANADA_2022, 260, 25]
    injected = _get(env, dash, **{"filter.country": "USA' OR '1'='1"})
    assert injected["widgets"][0]["data"]["value"] == 0
    r = env.client.post(
        f"/v1/dashboards/{dash}/data",
        json={"filters": {"country": "Canada", "period": {"start": "2022-01-01",
                                                          "end": "2023-01-01"}}},
        headers=env.org.headers(),
    )  # fmt: skip
    assert r.status_code == 200 and r.json()["data"]["widgets"][0]["data"]["value"] == CANADA_2022
    for bad in ({"filter.min": "ten"}, {"filter.period": "2010"}, {"filter.nope": "1"}):
        r = env.client.get(f"/v1/dashboards/{dash}", params=bad, headers=env.org.headers())
        assert r.status_code == 422, (bad, r.text)


def _counter_db(tmp_path: Path) -> Path:
    path = tmp_path / "counter.sqlite"
    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1);")
    con.commit()
    con.close()
    return path


def test_results_are_cached_until_refresh(env: Env, tmp_path: Path) -> None:
    path = _counter_db(tmp_path)
    name = f"counter_{tmp_path.name}"[:60]
    env.org.services.connections.create(
        env.org.id, name=name, type="sqlite", database=str(path), trusted_path=True
    )
    widget = {**_widget("metric", "SELECT SUM(v) AS s FROM t", 0), "connection_id": name}
    dash = _create(env, {"name": "Cache", "refresh_interval": 600, "widgets": [widget]})
    first = _get(env, dash["dashboard_id"])["widgets"][0]["data"]
    assert first["value"] == 1 and first["cached"] is False
    con = sqlite3.connect(path)
    con.execute("INSERT INTO t VALUES (41)")
    con.commit()
    con.close()
    again = _get(env, dash["dashboard_id"])["widgets"][0]["data"]
    assert again["value"] == 1 and again["cached"] is True
    assert again["refreshed_at"] == first["refreshed_at"]
    fresh = _get(env, dash["dashboard_id"], refresh="true")["widgets"][0]["data"]
    assert fresh["value"] == 42 and fresh["cached"] is False


def test_a_failing_or_slow_widget_stands_next_to_working_ones(env: Env) -> None:
    widgets = [
        _widget("table", "SELECT * FROM NoSuchTable", 0),
        {"type": "metric", "sql": "SELECT COUNT(*) AS n FROM range(100000000000)",
         "connection_id": "duck", "timeout": 0.5, "position": {"x": 0, "y": 1, "w": 6, "h": 1}},
        _widget("metric", "SELECT COUNT(*) AS n FROM Album", 2),
    ]  # fmt: skip
    started = time.monotonic()
    shown = _get(env, _create(env, {"name": "Mixed", "widgets": widgets})["dashboard_id"])
    assert time.monotonic() - started < 20
    broken, slow, fine = shown["widgets"]
    assert broken["data"] is None and broken["error"]["code"] in ("query_error", "validation_error")
    assert slow["data"] is None and slow["error"]["code"] == "timeout"
    assert fine["data"]["value"] == 347 and "error" not in fine


def test_list_pages_with_a_cursor(env: Env) -> None:
    for i in range(3):
        _create(env, {"name": f"page {i}"})
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        r = env.client.get("/v1/dashboards", params=params, headers=env.org.headers())
        assert r.status_code == 200
        page = r.json()
        seen += [d["dashboard_id"] for d in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) >= 3
    bad = env.client.get("/v1/dashboards?cursor=zzz", headers=env.org.headers())
    assert bad.status_code == 422


def _member_key(env: Env, name: str, role: Role) -> str:
    env.org.services.team.create_service_account(None, env.org.id, name, role)
    email = f"{name}@{SERVICE_DOMAIN}"
    return orgs.create_key(
        env.org.services.store, env.org.id, name=name, member_email=email
    ).api_key


def test_viewers_read_editors_change_admins_delete_any(env: Env) -> None:
    viewer = _member_key(env, "dash-viewer", Role.VIEWER)
    editor = _member_key(env, "dash-editor", Role.EDITOR)
    mine = _create(env, {"name": "Owner's"})["dashboard_id"]
    url = f"/v1/dashboards/{mine}"
    assert env.client.get(url, headers=_h(viewer)).status_code == 200
    assert env.client.patch(url, json={"name": "v"}, headers=_h(viewer)).status_code == 403
    assert (
        env.client.post("/v1/dashboards", json={"name": "v"}, headers=_h(viewer)).status_code == 403
    )
    assert env.client.delete(url, headers=_h(viewer)).status_code == 403
    assert env.client.patch(url, json={"name": "e"}, headers=_h(editor)).status_code == 200
    assert env.client.delete(url, headers=_h(editor)).status_code == 403  # not the author
    assert env.client.post(f"{url}/shares", headers=_h(editor)).status_code == 403
    theirs = _create(env, {"name": "Editor's"}, key=editor)["dashboard_id"]
    assert env.client.delete(f"/v1/dashboards/{theirs}", headers=_h(editor)).status_code == 204
    again = _create(env, {"name": "Editor's 2"}, key=editor)["dashboard_id"]
    assert (
        env.client.delete(f"/v1/dashboards/{again}", headers=env.org.headers()).status_code == 204
    )
    assert env.client.delete(url, headers=env.org.headers()).status_code == 204
    assert env.client.get(url, headers=env.org.headers()).status_code == 404


def test_another_organizations_dashboard_is_404_on_every_route(env: Env) -> None:
    other = orgs.create_organization(env.org.services.store, name="Rival", owner_email="r@x.t")
    assert other.key is not None
    theirs = _create(env, {"name": "Ours"})["dashboard_id"]
    share = env.client.post(f"/v1/dashboards/{theirs}/shares", headers=env.org.headers())
    share_id = share.json()["data"]["share_id"]
    h = _h(other.key.api_key)
    base = f"/v1/dashboards/{theirs}"
    calls = [
        env.client.get(base, headers=h),
        env.client.patch(base, json={"name": "x"}, headers=h),
        env.client.delete(base, headers=h),
        env.client.post(f"{base}/data", json={}, headers=h),
        env.client.post(f"{base}/shares", headers=h),
        env.client.get(f"{base}/shares", headers=h),
        env.client.delete(f"{base}/shares/{share_id}", headers=h),
    ]
    assert [c.status_code for c in calls] == [404] * len(calls)
    assert all(c.json()["error"]["code"] == "not_found" for c in calls)
    listed = env.client.get("/v1/dashboards", headers=h).json()["data"]
    assert theirs not in [d["dashboard_id"] for d in listed]
    assert env.client.get(base, headers=env.org.headers()).json()["data"]["name"] == "Ours"


def test_shared_links_show_data_expire_and_are_revoked(env: Env) -> None:
    widgets = [_widget("table", "SELECT Name FROM Genre ORDER BY GenreId LIMIT 2", 0),
               _widget("table", "SELECT nope FROM Genre", 1)]  # fmt: skip
    dash = _create(env, {"name": "Public", "widgets": widgets})["dashboard_id"]
    r = env.client.post(f"/v1/dashboards/{dash}/shares", json={}, headers=env.org.headers())
    assert r.status_code == 201, r.text
    link = r.json()["data"]
    url = link["url"].removeprefix("http://testserver")
    public = env.client.get(url)
    assert public.status_code == 200, public.text
    text = public.text
    body = public.json()["data"]
    assert body["widgets"][0]["data"]["rows"] == [["Rock"], ["Jazz"]]
    assert "SELECT" not in text and "chinook" not in text and "connection_id" not in text
    assert body["widgets"][1]["error"]["message"] == "This widget could not be loaded."
    tampered = url.replace("signature=", "signature=x")
    assert env.client.get(tampered).status_code == 403
    assert env.client.get(url.split("?")[0]).status_code == 403
    later = url.replace(f"expires={link['url'].split('expires=')[1].split('&')[0]}", "expires=9")
    assert env.client.get(later).status_code == 403
    listed = env.client.get(f"/v1/dashboards/{dash}/shares", headers=env.org.headers()).json()
    assert [s["share_id"] for s in listed["data"]] == [link["share_id"]]
    gone = env.client.delete(
        f"/v1/dashboards/{dash}/shares/{link['share_id']}", headers=env.org.headers()
    )
    assert gone.status_code == 204
    revoked = env.client.get(url)
    assert revoked.status_code == 403 and revoked.json()["error"]["reason"] == "revoked"
    short = env.client.post(
        f"/v1/dashboards/{dash}/shares", json={"expires_in": 1}, headers=env.org.headers()
    ).json()["data"]
    time.sleep(2.1)
    expired = env.client.get(short["url"].removeprefix("http://testserver"))
    assert expired.status_code == 403 and expired.json()["error"]["reason"] == "expired"


def test_widgets_run_in_parallel(env: Env) -> None:
    slow = {"type": "metric", "sql": "SELECT COUNT(*) AS n FROM range(100000000000)",
            "connection_id": "duck", "timeout": 1}  # fmt: skip
    widgets = [{**slow, "position": {"x": 3 * i, "y": 0, "w": 3, "h": 2}} for i in range(4)]
    dash = _create(env, {"name": "Parallel", "widgets": widgets})["dashboard_id"]
    started = time.monotonic()
    shown = _get(env, dash)
    elapsed = time.monotonic() - started
    assert [w["error"]["code"] for w in shown["widgets"]] == ["timeout"] * 4
    assert elapsed < 3.5, elapsed  # one after another would take at least 4 s


def test_the_organizations_cap_bounds_a_dashboard(tmp_path: Path) -> None:
    for capped in open_env(tmp_path, org_max_concurrent_queries=2):
        slow = {"type": "metric", "sql": "SELECT COUNT(*) AS n FROM range(100000000000)",
                "connection_id": "duck", "timeout": 1}  # fmt: skip
        widgets = [{**slow, "position": {"x": 3 * i, "y": 0, "w": 3, "h": 2}} for i in range(4)]
        widgets.append(_widget("metric", "SELECT COUNT(*) AS n FROM Genre", 5))
        dash = _create(capped, {"name": "Capped", "widgets": widgets})["dashboard_id"]
        started = time.monotonic()
        shown = _get(capped, dash)
        elapsed = time.monotonic() - started
        # Two at a time: the four slow ones take two rounds; the fast one waits for a slot.
        assert [w.get("error", {}).get("code") for w in shown["widgets"]] == ["timeout"] * 4 + [
            None
        ]
        assert shown["widgets"][4]["data"]["value"] == 25
        assert 1.9 < elapsed < 5.5, elapsed


def test_a_shared_link_is_rate_limited_per_link(tmp_path: Path) -> None:
    limits = {"query": "2/minute", "admin_sql": "100/minute", "default": "100/minute"}
    for limited in open_env(tmp_path, rate_limits=limits):
        dash = _create(limited, {"name": "Limited"})["dashboard_id"]
        r = limited.client.post(f"/v1/dashboards/{dash}/shares", headers=limited.org.headers())
        url = r.json()["data"]["url"].removeprefix("http://testserver")
        assert [limited.client.get(url).status_code for _ in range(3)] == [200, 200, 429]


def test_every_widget_query_is_audited_as_the_reader(env: Env) -> None:
    sql = "SELECT COUNT(*) AS n FROM MediaType /* audited widget */"
    dash = _create(env, {"name": "Audited", "widgets": [_widget("metric", sql, 0)]})
    _get(env, dash["dashboard_id"], refresh="true")
    deadline = time.monotonic() + 10
    while True:
        r = env.client.get(
            "/v1/audit", params={"action": "dashboard.widget"}, headers=env.org.headers()
        )
        events = [e for e in r.json()["data"] if e["sql"] == sql]
        if events or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert events and events[0]["status"] == "ok" and events[0]["row_count"] == 1
    assert events[0]["member_id"] == dash["member_id"]
