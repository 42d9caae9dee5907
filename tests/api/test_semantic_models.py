"""Deploying a connection's semantic model: versions, validation, scopes, the embedded engine."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from sqlgate.container import Services
from sqlgate.services import orgs
from sqlgate.services.semantic_models import SemanticModels
from sqlgate.settings import Settings
from sqlgate.store.models import Member, SemanticModelVersion, new_id
from tests.conftest import Env, make_settings, open_env
from tests.services import fresh_pg_database

MAX_BODY = 64_000

SHOP_SQL = """
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, country TEXT);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id),
    amount NUMERIC, ordered_at DATE);
INSERT INTO customers VALUES (1, 'Ada', 'Germany'), (2, 'Bob', 'France'), (3, 'Cy', 'Germany');
INSERT INTO orders VALUES (1, 1, 10, '2024-01-01'), (2, 2, 20, '2024-02-01'),
    (3, 3, 5, '2023-05-01');
"""

SHOP_YAML = """\
# the shop, as its analysts say it
models:
  - name: clients
    table: customers
    synonyms: [patrons, regulars]
    primary_key: id
    label_columns: [full_name]
    columns:
      - name: id
      - {name: full_name, column: name}
      - {name: country, synonyms: [nation]}
  - name: orders
    time_column: ordered_at
    columns: [{name: id}, {name: customer_id}, {name: amount}, {name: ordered_at}]
metrics:
  - {name: revenue, model: orders, expression: sum(amount), synonyms: [sales]}
relationships:
  - {from: orders.customer_id, to: clients.id}
"""

YAML = {"Content-Type": "application/yaml"}


def build_shop(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.executescript(SHOP_SQL)
    con.commit()
    con.close()
    return path


@pytest.fixture(scope="module")
def senv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield from open_env(tmp_path_factory.mktemp("semantic"), max_body_bytes=MAX_BODY)


def _shop(env: Env, name: str) -> str:
    """A fresh shop database registered as connection ``name``; returns its id."""
    build_shop(env.settings.data_dir / "databases" / f"{name}.sqlite")
    r = env.client.post(
        "/v1/connections",
        json={"type": "sqlite", "name": name, "database": f"{name}.sqlite"},
        headers=env.org.headers(),
    )
    assert r.status_code == 201, r.text
    conn_id: str = r.json()["data"]["id"]
    return conn_id


def _url(conn: str, tail: str = "") -> str:
    return f"/v1/connections/{conn}/semantic_model{tail}"


def _rows(env: Env, conn_id: str) -> int:
    with env.org.services.store.session() as session:
        count = session.scalar(
            select(func.count())
            .select_from(SemanticModelVersion)
            .where(SemanticModelVersion.connection_id == conn_id)
        )
    return int(count or 0)


def test_a_fresh_connection_has_the_draft(senv: Env) -> None:
    _shop(senv, "fresh")
    h = senv.org.headers()
    r = senv.client.get(_url("fresh"), headers=h)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["version"] is None and data["deployed"] is False and data["deployed_at"] is None
    assert data["format"] == "json"
    models = {m["name"]: m for m in data["document"]["models"]}
    assert set(models) == {"customers", "orders"}
    assert models["orders"]["time_column"] == "ordered_at"
    assert data["document"]["relationships"] == [
        {"from": ["orders.customer_id"], "to": ["customers.id"]}
    ]
    as_yaml = senv.client.get(_url("fresh"), params={"format": "yaml"}, headers=h).json()["data"]
    assert yaml.safe_load(as_yaml["document"]) == data["document"]
    assert senv.client.get(_url("fresh", "/versions"), headers=h).json() == {"data": []}
    missing = senv.client.get(_url("fresh"), params={"version": 1}, headers=h)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_the_draft_deploys_as_it_is(senv: Env) -> None:
    _shop(senv, "roundtrip")
    h = senv.org.headers()
    draft = senv.client.get(_url("roundtrip"), params={"format": "yaml"}, headers=h)
    r = senv.client.put(
        _url("roundtrip"), content=draft.json()["data"]["document"], headers={**h, **YAML}
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["version"] == 1


def test_deploy_yaml_then_json_makes_versions(senv: Env) -> None:
    conn_id = _shop(senv, "versions")
    h = senv.org.headers()
    first = senv.client.put(_url("versions"), content=SHOP_YAML, headers={**h, **YAML})
    assert first.status_code == 200, first.text
    data = first.json()["data"]
    assert data["version"] == 1 and data["deployed"] is True
    assert data["deployed_format"] == "yaml" and data["connection_id"] == conn_id
    assert data["document"]["models"][0]["synonyms"] == ["patrons", "regulars"]

    # GET shows it; YAML comes back exactly as deployed (comments kept)
    got = senv.client.get(_url(conn_id), headers=h).json()["data"]
    assert got["version"] == 1 and got["document"] == data["document"]
    assert got["deployed_at"] == data["deployed_at"]
    as_yaml = senv.client.get(_url("versions"), params={"format": "yaml"}, headers=h)
    assert as_yaml.json()["data"]["document"] == SHOP_YAML

    # a JSON deploy is the next version and becomes the current one
    document = yaml.safe_load(SHOP_YAML)
    document["instructions"] = ["Revenue counts every order."]
    second = senv.client.put(_url("versions"), json=document, headers=h)
    assert second.status_code == 200, second.text
    assert second.json()["data"]["version"] == 2
    latest = senv.client.get(_url("versions"), headers=h).json()["data"]
    assert latest["version"] == 2 and latest["deployed_format"] == "json"
    assert latest["document"]["instructions"] == ["Revenue counts every order."]
    # a JSON-deployed model is still readable as YAML
    latest_yaml = senv.client.get(_url("versions"), params={"format": "yaml"}, headers=h)
    assert yaml.safe_load(latest_yaml.json()["data"]["document"]) == latest["document"]

    # older versions stay readable
    old = senv.client.get(_url("versions"), params={"version": 1}, headers=h).json()["data"]
    assert old["version"] == 1 and "instructions" not in old["document"]
    listed = senv.client.get(_url("versions", "/versions"), headers=h).json()["data"]
    assert [v["version"] for v in listed] == [2, 1]
    assert [v["format"] for v in listed] == ["json", "yaml"]
    assert all(v["deployed_by"] for v in listed)

    # each deploy is in the audit history, with the version it made
    senv.org.services.audit.flush()
    events = senv.client.get(
        "/v1/audit", params={"action": "semantic_model.deploy", "connection_id": conn_id}, headers=h
    ).json()["data"]
    assert [(e["status"], e["target_id"], e["detail"]) for e in events] == [
        ("ok", conn_id, {"version": 2}),
        ("ok", conn_id, {"version": 1}),
    ]


def test_a_version_out_of_range_is_a_422_or_a_404(senv: Env) -> None:
    """A version the store cannot hold is refused at the edge, not a 500 from the database."""
    _shop(senv, "far")
    h = senv.org.headers()
    r = senv.client.get(_url("far"), params={"version": 10**20}, headers=h)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_error"
    assert r.json()["error"]["details"][0]["field"] == "version"
    missing = senv.client.get(_url("far"), params={"version": 2**31 - 1}, headers=h)
    assert missing.status_code == 404, missing.text


def _model(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(SHOP_YAML)
    document.update(changes)
    return document


BAD_DEPLOYS: list[tuple[str, dict[str, Any], str, list[str]]] = [
    # (case, request kwargs, expected `path`, paths that must be in `errors`)
    (
        "bad reference",
        {"json": _model(metrics=[{"name": "revenue", "model": "invoices", "expression": "1"}])},
        "metrics[0].model",
        ["metrics[0].model"],
    ),
    (
        "unknown table",
        {"json": _model(models=[{"name": "clients", "table": "custmers", "columns": []}],
                        metrics=[], relationships=[])},
        "models[0].table",
        ["models[0].table"],
    ),
    (
        "unknown columns",
        {"content": SHOP_YAML.replace("{name: id}, {name: customer_id}, {name: amount}",
                                      "{name: id, column: order_no}, {name: customer_id}, "
                                      "{name: amount, column: total}")
                             .replace("column: name", "column: full_name"),
         "headers": YAML},
        "models[0].columns[1].column",
        ["models[0].columns[1].column", "models[1].columns[0].column",
         "models[1].columns[2].column"],
    ),
    (
        "malformed yaml",
        {"content": "models:\n  - name: [unclosed\n", "headers": YAML},
        "",
        [],
    ),
    (
        "yaml alias bomb",
        {"content": "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a]\n"
                    "c: &c [*b, *b, *b, *b, *b, *b, *b]\nmodels: [*c, *c, *c, *c, *c, *c]\n",
         "headers": YAML},
        "",
        [],
    ),
    (
        "wrong types",
        {"json": {"models": [{"name": 5, "columns": "id"}], "metrics": {}}},
        "models[0].name",
        ["models[0].name", "models[0].columns", "metrics"],
    ),
    (
        "unknown field",
        {"json": _model(dashboards=[])},
        "dashboards",
        ["dashboards"],
    ),
    ("malformed json", {"content": b'{"models": [', "headers": {}}, "", []),
    ("empty body", {"content": b"", "headers": YAML}, "", []),
    ("no models", {"json": {"instructions": ["be nice"]}}, "models", ["models"]),
    ("not a mapping", {"json": [1, 2]}, "", []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "kwargs", "path", "paths"), BAD_DEPLOYS, ids=[c[0] for c in BAD_DEPLOYS]
)
def test_invalid_models_are_422_with_paths_and_nothing_is_written(
    senv: Env, case: str, kwargs: dict[str, Any], path: str, paths: list[str]
) -> None:
    name = "invalid_" + case.replace(" ", "_")
    conn_id = _shop(senv, name)
    h = senv.org.headers()
    assert senv.client.put(_url(name), content=SHOP_YAML, headers={**h, **YAML}).status_code == 200
    kwargs = dict(kwargs)
    headers = {**h, **kwargs.pop("headers", {})}
    r = senv.client.put(_url(name), headers=headers, **kwargs)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_error"
    assert error["path"] == path, error
    found = [e["path"] for e in error.get("errors", [])]
    assert set(paths) <= set(found), (found, error)
    if case == "yaml alias bomb":
        assert "alias" in error["message"].lower()
    if case in ("malformed yaml", "malformed json"):
        assert error["line"] >= 1 and "line" in error["message"]
    if case == "unknown table":
        assert "custmers" in error["message"] and "did you mean 'customers'" in error["message"]
    # nothing half-written: still one version, the first one
    assert _rows(senv, conn_id) == 1
    current = senv.client.get(_url(name), headers=h).json()["data"]
    assert current["version"] == 1 and current["document"]["models"][0]["name"] == "clients"


def test_oversized_and_unsupported_bodies(senv: Env) -> None:
    conn_id = _shop(senv, "limits")
    h = senv.org.headers()
    big = SHOP_YAML + "instructions:\n" + "".join(f"  - rule {i}\n" for i in range(10_000))
    assert len(big) > MAX_BODY
    r = senv.client.put(_url("limits"), content=big, headers={**h, **YAML})
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    r = senv.client.put(
        _url("limits"), content=SHOP_YAML, headers={**h, "Content-Type": "application/xml"}
    )
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"
    assert _rows(senv, conn_id) == 0
    # `curl -d @model.json` labels JSON a form; it is read as the JSON it is
    r = senv.client.put(
        _url("limits"),
        content=json.dumps(_model()),
        headers={**h, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200, r.text


def test_viewers_read_but_cannot_deploy(senv: Env) -> None:
    _shop(senv, "viewed")
    store = senv.org.services.store
    with store.session() as session:
        session.add(
            Member(id=new_id("mem"), org_id=senv.org.id, email="viewer@acme.test", role="viewer")
        )
    viewer = orgs.create_key(store, senv.org.id, name="v", member_email="viewer@acme.test")
    h = senv.org.headers(viewer.api_key)
    assert senv.client.get(_url("viewed"), headers=h).status_code == 200
    assert senv.client.get(_url("viewed", "/versions"), headers=h).status_code == 200
    r = senv.client.put(_url("viewed"), content=SHOP_YAML, headers={**h, **YAML})
    assert r.status_code == 403 and r.json()["error"]["code"] == "authorization_error"
    assert senv.client.get(_url("viewed"), headers=h).json()["data"]["deployed"] is False


def test_another_organization_gets_404(senv: Env) -> None:
    conn_id = _shop(senv, "private")
    h = senv.org.headers()
    assert senv.client.put(_url(conn_id), content=SHOP_YAML, headers={**h, **YAML}).is_success
    other = orgs.create_organization(
        senv.org.services.store, name="Rival", owner_email="boss@rival.test"
    )
    assert other.key is not None
    oh = senv.org.headers(other.key.api_key)
    for ref in (conn_id, "private"):
        for r in (
            senv.client.get(_url(ref), headers=oh),
            senv.client.get(_url(ref), params={"version": 1}, headers=oh),
            senv.client.get(_url(ref, "/versions"), headers=oh),
            senv.client.put(_url(ref), content=SHOP_YAML, headers={**oh, **YAML}),
        ):
            assert r.status_code == 404, r.text
            assert r.json()["error"]["code"] == "not_found"
            assert "Germany" not in r.text and "clients" not in r.text
    assert _rows(senv, conn_id) == 1


def test_the_embedded_engine_answers_with_the_deployed_model(senv: Env) -> None:
    _shop(senv, "asked")
    services = senv.org.services
    conn = services.connections.get(senv.org.id, "asked")
    draft_engine = services.semantic.embedded_for(conn)
    assert services.semantic.embedded_for(conn) is draft_engine  # built once, then cached
    # Trade jargon no schema name or dictionary link reaches: only the model's synonym does.
    before = draft_engine.ask("How many regulars are in Germany?")
    assert before.outcome == "non_sql" and "regulars" in before.unmatched

    h = senv.org.headers()
    assert senv.client.put(_url("asked"), content=SHOP_YAML, headers={**h, **YAML}).is_success
    deployed_engine = services.semantic.embedded_for(conn)
    assert deployed_engine is not draft_engine
    after = deployed_engine.ask("How many regulars are in Germany?")
    assert after.outcome == "sql", after.explanation
    assert after.native_sql is not None
    result = services.connections.engine(conn).execute(
        after.native_sql, None, timeout=5, row_limit=10
    )
    assert result.table.to_pylist() == [{result.columns[0].name: 2}]
    sales = deployed_engine.ask("total sales by nation")
    assert sales.outcome == "sql" and sales.sql is not None and "revenue" in sales.sql


def test_concurrent_first_requests_build_one_engine(senv: Env) -> None:
    _shop(senv, "busy")
    services = senv.org.services
    conn = services.connections.get(senv.org.id, "busy")
    start = threading.Barrier(4)
    built: list[object] = []

    def ask() -> None:
        start.wait()
        built.append(services.semantic.embedded_for(conn))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 4 and all(b is built[0] for b in built)


def test_concurrent_deploys_get_distinct_versions(store_settings: Settings) -> None:
    settings = store_settings
    settings.ensure_data_dir()
    shop = build_shop(settings.data_dir / "databases" / "shop.sqlite")
    services = Services.build(settings)
    try:
        init = orgs.init_organization(services.store, name="Solo", owner_email="o@solo.test")
        conn = services.connections.create(
            init.org_id, name="shop", type="sqlite", database=str(shop)
        )
        start = threading.Barrier(6)
        made: list[int | None] = []

        def deploy() -> None:
            start.wait()
            made.append(services.semantic.deploy(None, conn, SHOP_YAML, "yaml").version)

        threads = [threading.Thread(target=deploy) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(v or 0 for v in made) == [1, 2, 3, 4, 5, 6]
        listed = services.semantic.versions(init.org_id, conn)
        assert [v.version for v in listed] == [6, 5, 4, 3, 2, 1]
    finally:
        services.close()


def _sampled(services: Services, conn_id: str) -> dict[str, Any] | None:
    with services.store.session() as session:
        values = session.scalars(
            select(SemanticModelVersion.sampled_values)
            .where(SemanticModelVersion.connection_id == conn_id)
            .order_by(SemanticModelVersion.version.desc())
        ).first()
    return values


@pytest.fixture(params=["sqlite", "postgresql"])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings for a metadata store on SQLite (the default) or PostgreSQL."""
    if request.param == "sqlite":
        yield make_settings(tmp_path)
        return
    with fresh_pg_database() as url:
        yield make_settings(tmp_path, database_url=url)


def test_sampled_values_are_stored_and_survive_a_restart(store_settings: Settings) -> None:
    settings = store_settings
    settings.ensure_data_dir()
    shop = build_shop(settings.data_dir / "databases" / "shop.sqlite")
    services = Services.build(settings)
    try:
        init = orgs.init_organization(services.store, name="Solo", owner_email="o@solo.test")
        org_id = init.org_id
        conn = services.connections.create(org_id, name="shop", type="sqlite", database=str(shop))
        services.semantic.deploy(None, conn, SHOP_YAML, "yaml")
        assert _sampled(services, conn.id) is None  # filled lazily, on first use
        germany = services.semantic.embedded_for(conn).ask("how many patrons in Germany")
        assert germany.native_sql is not None and "'Germany'" in germany.native_sql
        stored = _sampled(services, conn.id)
        assert stored is not None
        assert stored["columns"]["clients"]["country"] == ["France", "Germany"]
    finally:
        services.close()

    # New data after the sample: a restarted server must not sample again...
    with sqlite3.connect(shop) as con:
        con.execute("INSERT INTO customers VALUES (4, 'Dee', 'Atlantis')")
    services = Services.build(settings)
    try:
        conn = services.connections.get(org_id, "shop")
        engine = services.semantic.embedded_for(conn)
        assert "'Germany'" in (engine.ask("how many patrons in Germany").native_sql or "")
        atlantis = engine.ask("how many patrons in Atlantis")
        assert "Atlantis" in atlantis.unmatched and "Atlantis" not in (atlantis.native_sql or "")
        assert _sampled(services, conn.id) == stored

        # ...while a new deploy samples afresh (so the check above could have failed).
        services.semantic.deploy(None, conn, SHOP_YAML, "yaml")
        fresh = services.semantic.embedded_for(conn).ask("how many patrons in Atlantis")
        assert fresh.native_sql is not None and "'Atlantis'" in fresh.native_sql
        refreshed = _sampled(services, conn.id)
        assert refreshed is not None
        assert refreshed["columns"]["clients"]["country"] == ["Atlantis", "France", "Germany"]
    finally:
        services.close()


def test_changed_connection_settings_resample(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    settings.ensure_data_dir()
    shop = build_shop(settings.data_dir / "databases" / "shop.sqlite")
    other = build_shop(settings.data_dir / "databases" / "other.sqlite")
    with sqlite3.connect(other) as con:
        con.execute("UPDATE customers SET country = 'Peru' WHERE id = 2")
    services = Services.build(settings)
    try:
        init = orgs.init_organization(services.store, name="Solo", owner_email="o@solo.test")
        conn = services.connections.create(
            init.org_id, name="shop", type="sqlite", database=str(shop)
        )
        services.semantic.deploy(None, conn, SHOP_YAML, "yaml")
        assert "Peru" in services.semantic.embedded_for(conn).ask("patrons in Peru").unmatched
        # pointed at another database: the stored sample is for the old one
        moved = services.connections.update(init.org_id, "shop", {"database": str(other)})
        answer = services.semantic.embedded_for(moved).ask("how many patrons in Peru")
        assert answer.native_sql is not None and "'Peru'" in answer.native_sql
        stored = _sampled(services, conn.id)
        assert stored is not None and stored["connection_updated_at"] == (
            moved.updated_at.isoformat()
        )
    finally:
        services.close()


def test_the_cache_is_bounded(senv: Env) -> None:
    services = senv.org.services
    small = SemanticModels(services.store, services.connections, None, cache_size=2)
    engines = []
    for name in ("lru_a", "lru_b", "lru_c"):
        _shop(senv, name)
        engines.append(small.embedded_for(services.connections.get(senv.org.id, name)))
    conns = [services.connections.get(senv.org.id, n) for n in ("lru_a", "lru_b", "lru_c")]
    assert small.embedded_for(conns[2]) is engines[2]
    assert small.embedded_for(conns[1]) is engines[1]
    assert small.embedded_for(conns[0]) is not engines[0]  # evicted, built again
