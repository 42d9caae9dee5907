"""Changing, testing and describing connections (file databases; servers in test_servers.py)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CHINOOK_SQLITE, Env, open_env


@pytest.fixture(scope="module")
def menv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield from open_env(tmp_path_factory.mktemp("manage"))


def _create(menv: Env, name: str) -> dict[str, object]:
    target = menv.settings.data_dir / "databases" / f"{name}.sqlite"
    shutil.copy(CHINOOK_SQLITE, target)
    r = menv.client.post(
        "/v1/connections",
        json={"type": "sqlite", "name": name, "database": target.name},
        headers=menv.org.headers(),
    )
    assert r.status_code == 201, r.text
    data: dict[str, object] = r.json()["data"]
    return data


def test_rename_and_make_default(menv: Env) -> None:
    created = _create(menv, "music")
    h = menv.org.headers()
    r = menv.client.patch(
        f"/v1/connections/{created['id']}", json={"name": "tunes", "is_default": True}, headers=h
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["name"] == "tunes" and data["is_default"] is True
    assert data["updated_at"] >= created["updated_at"]
    # the new name works for queries; the default endpoint uses it
    q = menv.client.post(
        "/api/v1/query/tunes", json={"query": "SELECT count(*) FROM Genre"}, headers=h
    )
    assert q.json()["rows"] == [[25]]
    assert menv.client.get("/v1/connections/music", headers=h).status_code == 404
    run = menv.client.post(
        "/api/v1/run_sql", json={"sql": "SELECT count(*) AS n FROM Genre"}, headers=h
    )
    assert run.status_code == 200, run.text


def test_patch_refuses_bad_input_and_changes_nothing(menv: Env) -> None:
    created = _create(menv, "keep")
    url, h = f"/v1/connections/{created['id']}", menv.org.headers()
    cases = [
        ({"type": "duckdb"}, 422),  # the type is fixed
        ({"name": ""}, 422),
        ({"name": 5}, 422),
        ({"bogus": 1}, 422),
        ({"host": "db.example.com"}, 422),  # not a file-database field
        ({"database": "/etc/passwd"}, 422),
        ({"name": "chinook"}, 409),  # taken
    ]
    for body, status in cases:
        r = menv.client.patch(url, json=body, headers=h)
        assert r.status_code == status, (body, r.text)
        assert r.json()["error"]["code"] in {"validation_error", "conflict"}
    r = menv.client.patch(url, content=b"{not json", headers=h)
    assert r.status_code == 422
    after = menv.client.get(url, headers=h).json()["data"]
    assert after == created | {"is_default": after["is_default"]}


def test_unknown_or_foreign_connection_is_404(menv: Env, tmp_path: Path) -> None:
    h = menv.org.headers()
    for method in ("get", "patch", "delete"):
        kwargs = {"json": {"name": "x"}} if method == "patch" else {}
        r = getattr(menv.client, method)("/v1/connections/conn_nope", headers=h, **kwargs)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert menv.client.post("/v1/connections/conn_nope/test", headers=h).status_code == 404
    assert menv.client.get("/v1/connections/conn_nope/schema", headers=h).status_code == 404


def test_readers_see_but_cannot_change(menv: Env) -> None:
    created = _create(menv, "ro")
    reader = menv.org.headers(menv.org.key_with("connections:read"))
    url = f"/v1/connections/{created['id']}"
    assert menv.client.get(url, headers=reader).status_code == 200
    assert menv.client.get(url + "/schema", headers=reader).status_code == 200
    assert menv.client.post(url + "/test", headers=reader).status_code == 200
    assert menv.client.patch(url, json={"name": "x"}, headers=reader).status_code == 403
    assert menv.client.delete(url, headers=reader).status_code == 403
    body = {"type": "sqlite", "name": "y", "database": "ro.sqlite"}
    assert menv.client.post("/v1/connections", json=body, headers=reader).status_code == 403


def test_test_endpoint_reports_version_and_latency(menv: Env) -> None:
    r = menv.client.post("/v1/connections/chinook/test", headers=menv.org.headers())
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["ok"] is True and data["server_version"].startswith("SQLite 3.")
    assert 0 < data["latency_ms"] < 5000
    assert data["can_write"] is False and data["warning"] is None


def test_schema_endpoint_lists_tables_columns_and_keys(menv: Env) -> None:
    h = menv.org.headers()
    r = menv.client.get("/v1/connections/chinook/schema", headers=h)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    [main] = data["schemas"]
    tables = {t["name"]: t for t in main["tables"]}
    assert {"Album", "Artist", "Track", "Invoice", "InvoiceLine"} <= set(tables)
    album = tables["Album"]
    assert album["kind"] == "table" and album["primary_key"] == ["AlbumId"]
    assert [c["name"] for c in album["columns"]] == ["AlbumId", "Title", "ArtistId"]
    assert album["columns"][1] == {
        "name": "Title",
        "type": "NVARCHAR(160)",
        "nullable": False,
        "comment": None,
    }
    [fk] = album["foreign_keys"]
    assert fk["columns"] == ["ArtistId"] and fk["references_table"] == "Artist"
    assert fk["references_columns"] == ["ArtistId"]
    # cached until refreshed
    again = menv.client.get("/v1/connections/chinook/schema", headers=h).json()["data"]
    assert again["read_at"] == data["read_at"]
    fresh = menv.client.get("/v1/connections/chinook/schema?refresh=true", headers=h).json()
    assert fresh["data"]["read_at"] > data["read_at"]
    bad = menv.client.get("/v1/connections/chinook/schema?refresh=maybe", headers=h)
    assert bad.status_code == 422


def test_server_type_with_bad_fields_is_422_and_nothing_is_stored(menv: Env) -> None:
    h = menv.org.headers()
    base = {
        "type": "postgresql",
        "name": "pg-bad",
        "host": "127.0.0.1",
        "database": "x",
        "username": "u",
    }
    for change in (
        {"host": "db host; rm -rf"},
        {"host": None},
        {"database": None},
        {"username": None},
        {"ssl_mode": "sometimes"},
        {"port": 70000},
        {"port": "5432"},
        {"url": "postgresql://u:p@h/db"},
        {"password": 12345},
    ):
        r = menv.client.post("/v1/connections", json=base | change, headers=h)
        assert r.status_code == 422, (change, r.text)
        assert r.json()["error"]["code"] == "validation_error"
    names = [c["name"] for c in menv.client.get("/v1/connections", headers=h).json()["data"]]
    assert "pg-bad" not in names


def test_sqlalchemy_urls_need_the_operator_to_allow_the_org(menv: Env) -> None:
    r = menv.client.post(
        "/v1/connections",
        json={"type": "sqlalchemy", "name": "raw", "url": "sqlite:////etc/passwd"},
        headers=menv.org.headers(),
    )
    assert r.status_code == 422
    assert "SQLGATE_SQLALCHEMY_ORGS" in r.json()["error"]["message"]
