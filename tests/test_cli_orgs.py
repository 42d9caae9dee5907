"""The operator at the command line: `sqlgate orgs ...`, `sqlgate operator-key ...` and shared
connections (`connections add --shared`, `grant`, `revoke`), checked through the API too."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sqlgate.app import create_app
from sqlgate.cli import main
from tests.conftest import CHINOOK_SQLITE, make_settings
from tests.services import fresh_pg_database


@pytest.fixture
def data_dir(tmp_path: Path) -> str:
    return str(tmp_path / "data")


def run(capsys: pytest.CaptureFixture[str], data_dir: str, *args: str) -> tuple[int, str, str]:
    code = main([*args, "--data-dir", data_dir])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], data_dir: str, *args: str) -> Any:
    code, out, err = run(capsys, data_dir, *args, "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture
def api(data_dir: str) -> Iterator[TestClient]:
    app = create_app(make_settings(Path(data_dir)))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_orgs_lifecycle(capsys: pytest.CaptureFixture[str], data_dir: str) -> None:
    made = run_json(
        capsys, data_dir, "orgs", "create", "--name", "Tenant A",
        "--attr", "tenant_id=42", "--attr", "region=eu", "--attr", "beta=true",
        "--attr", "ratio=0.5", "--attr", 'code="42"',
    )  # fmt: skip
    assert made["org_id"].startswith("org_") and made["api_key"].startswith("sqg_")
    assert made["attributes"] == {
        "tenant_id": 42, "region": "eu", "beta": True, "ratio": 0.5, "code": "42",
    }  # fmt: skip
    code, out, _ = run(capsys, data_dir, "orgs", "create", "--name", "Tenant B")
    assert code == 0 and "org_id:" in out and "api_key: sqg_" in out
    listed = run_json(capsys, data_dir, "orgs", "list")
    assert [o["slug"] for o in listed] == ["tenant-a", "tenant-b"]
    code, out, _ = run(capsys, data_dir, "orgs", "show", "tenant-a")
    assert "tenant_id = 42 (int)" in out and 'code = "42" (string)' in out
    assert "beta = true (bool)" in out

    updated = run_json(capsys, data_dir, "orgs", "update", "tenant-a", "--attr", "tenant_id=7",
                       "--unset", "beta")  # fmt: skip
    assert updated["attributes"]["tenant_id"] == 7 and "beta" not in updated["attributes"]
    assert run_json(capsys, data_dir, "orgs", "suspend", "tenant-a")["status"] == "suspended"
    code, _, err = run(capsys, data_dir, "orgs", "suspend", "tenant-a")
    assert code == 1 and "already suspended" in err
    assert run_json(capsys, data_dir, "orgs", "resume", "tenant-a")["status"] == "active"

    # delete asks first; with no terminal to ask at, it needs --yes and deletes nothing
    code, _, err = run(capsys, data_dir, "orgs", "delete", "tenant-b")
    assert code == 2 and "--yes" in err
    assert len(run_json(capsys, data_dir, "orgs", "list")) == 2
    code, out, _ = run(capsys, data_dir, "orgs", "delete", "tenant-b", "--yes")
    assert code == 0 and "deleted organization tenant-b" in out
    assert [o["slug"] for o in run_json(capsys, data_dir, "orgs", "list")] == ["tenant-a"]
    code, _, err = run(capsys, data_dir, "orgs", "show", "tenant-b")
    assert code == 1 and "not found" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--attr", "x=[1]"], "quote it"),
        (["--attr", "x=null"], "quote it"),
        (["--attr", "1x=1"], "not a valid attribute name"),
        (["--attr", "novalue"], "KEY=VALUE"),
        (["--attr", "big=99999999999999999999"], "64 bits"),
        (["--slug", "Bad Slug"], "slug"),
    ],
)
def test_orgs_create_refuses_bad_input_and_creates_nothing(
    capsys: pytest.CaptureFixture[str], data_dir: str, args: list[str], message: str
) -> None:
    code, out, err = run(capsys, data_dir, "orgs", "create", "--name", "X", *args)
    assert code == 1 and message in err and out == ""
    assert run_json(capsys, data_dir, "orgs", "list") == []


def test_a_suspended_orgs_key_is_refused_and_the_operator_key_only_opens_the_platform(
    capsys: pytest.CaptureFixture[str], data_dir: str, api: TestClient
) -> None:
    made = run_json(capsys, data_dir, "orgs", "create", "--name", "Paused")
    key = {"Authorization": f"Bearer {made['api_key']}"}
    assert api.get("/v1/connections", headers=key).status_code == 200
    code, operator_key, _ = run(capsys, data_dir, "operator-key", "create", "--name", "ops")
    assert code == 0 and operator_key.startswith("sqgop_")
    operator = {"Authorization": f"Bearer {operator_key.strip()}"}
    assert api.get("/v1/platform/organizations", headers=operator).status_code == 200
    assert api.get("/v1/platform/organizations", headers=key).status_code == 403
    assert api.get("/v1/connections", headers=operator).status_code == 401
    run_json(capsys, data_dir, "orgs", "suspend", "paused")
    # Another process (this CLI) suspended it: the server sees it within auth_cache_seconds.
    api.app.state.services.authenticator.forget()  # type: ignore[attr-defined]
    assert api.get("/v1/connections", headers=key).status_code == 403
    [listed] = run_json(capsys, data_dir, "operator-key", "list")
    assert listed["name"] == "ops" and listed["last_used_at"] is not None
    run_json(capsys, data_dir, "operator-key", "revoke", listed["id"])
    assert api.get("/v1/platform/organizations", headers=operator).status_code == 401


def test_shared_sqlite_connection_grant_and_revoke(
    capsys: pytest.CaptureFixture[str], data_dir: str, api: TestClient, tmp_path: Path
) -> None:
    warehouse = tmp_path / "wh.sqlite"
    warehouse.write_bytes(CHINOOK_SQLITE.read_bytes())
    a = run_json(capsys, data_dir, "orgs", "create", "--name", "A")
    b = run_json(capsys, data_dir, "orgs", "create", "--name", "B")
    added = run_json(capsys, data_dir, "connections", "add", "warehouse", "--shared",
                     "--type", "sqlite", "--database", str(warehouse))  # fmt: skip
    assert added["shared"] is True and added["database"] == str(warehouse)  # the operator's view
    code, _, err = run(capsys, data_dir, "connections", "add", "x", "--shared", "--org", "a",
                       "--type", "sqlite", "--database", str(warehouse))  # fmt: skip
    assert code == 2 and "--org" in err
    run_json(capsys, data_dir, "connections", "grant", "warehouse", "--org", "a")
    run_json(capsys, data_dir, "connections", "grant", "warehouse", "--org", "b", "--as", "dw")
    code, _, err = run(capsys, data_dir, "connections", "grant", "warehouse", "--org", "b")
    assert code == 1 and "already granted" in err
    [shared] = run_json(capsys, data_dir, "connections", "list", "--shared")
    assert {(g["org_slug"], g["name"]) for g in shared["granted_to"]} == {
        ("a", "warehouse"), ("b", "dw"),
    }  # fmt: skip
    [seen] = run_json(capsys, data_dir, "connections", "list", "--org", "b")
    assert seen["name"] == "dw" and seen["shared"] and seen["database"] is None

    # The operator deploys the shared connection's semantic model; every grant sees it.
    model = tmp_path / "model.yaml"
    model.write_text("models:\n  - name: artists\n    table: Artist\n"
                     "    columns:\n      - name: Name\n")  # fmt: skip
    deployed = run_json(capsys, data_dir, "semantic", "deploy", str(model), "--shared",
                        "--connection", "warehouse")  # fmt: skip
    assert deployed["version"] == 1
    for org in (a, b):
        ref = "warehouse" if org is a else "dw"
        r = api.get(f"/v1/connections/{ref}/semantic_model",
                    headers={"Authorization": f"Bearer {org['api_key']}"})  # fmt: skip
        assert r.status_code == 200 and r.json()["data"]["version"] == 1, r.text

    code, out, _ = run(capsys, data_dir, "query", "--org", "b", "dw",
                       "SELECT count(*) AS n FROM Artist", "--format", "csv")  # fmt: skip
    assert code == 0 and out.splitlines()[1] == "275"
    code, _, err = run(capsys, data_dir, "connections", "remove", "dw", "--org", "b", "--yes")
    assert code == 1 and "shared by the operator" in err

    b_key = {"Authorization": f"Bearer {b['api_key']}"}
    body = {"query": "SELECT 1"}
    assert api.post("/api/v1/query/dw", json=body, headers=b_key).status_code == 200
    run_json(capsys, data_dir, "connections", "revoke", "warehouse", "--org", "b")
    api.app.state.services.connections.forget_lookups()  # type: ignore[attr-defined]
    assert api.post("/api/v1/query/dw", json=body, headers=b_key).status_code == 404
    code, _, err = run(capsys, data_dir, "connections", "revoke", "warehouse", "--org", "b")
    assert code == 1 and "not granted" in err

    a_key = {"Authorization": f"Bearer {a['api_key']}"}
    run_json(capsys, data_dir, "connections", "remove", "warehouse", "--shared", "--yes")
    api.app.state.services.connections.forget_lookups()  # type: ignore[attr-defined]
    assert api.get("/v1/connections", headers=a_key).json()["data"] == []


def test_shared_postgresql_connection_never_shows_host_or_user_to_the_org(
    capsys: pytest.CaptureFixture[str],
    data_dir: str,
    api: TestClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    org = run_json(capsys, data_dir, "orgs", "create", "--name", "Pg Tenant")
    key = {"Authorization": f"Bearer {org['api_key']}"}
    with fresh_pg_database() as url:
        rest = url.split("://", 1)[1]
        user, _, hostpart = rest.partition("@")
        host_port, _, database = hostpart.partition("/")
        host, _, port = host_port.partition(":")
        monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
        run_json(capsys, data_dir, "connections", "add", "pgwh", "--shared", "--type",
                 "postgresql", "--host", host, "--port", port or "5432", "--database", database,
                 "--username", user)  # fmt: skip
        run_json(capsys, data_dir, "connections", "grant", "pgwh", "--org", "pg-tenant")
        texts = [
            api.get("/v1/connections", headers=key),
            api.get("/v1/connections/pgwh", headers=key),
            api.post("/v1/connections/pgwh/test", headers=key),
            api.get("/v1/connections/pgwh/schema", headers=key),
            api.post("/api/v1/query/pgwh", json={"query": "SELECT 1 AS one"}, headers=key),
        ]
        for r in texts:
            assert r.status_code == 200, r.text
            assert database not in r.text and f'"{host}"' not in r.text, r.text
            assert f'"{user}"' not in r.text
        assert texts[-1].json()["rows"] == [[1]]
        # a superuser login: the organization hears that it could write, not which role
        tested = texts[2].json()["data"]
        assert user not in (tested["warning"] or "")
    # The database is gone (dropped, its sessions ended): the failure does not say where it was.
    for _ in range(2):  # the pooled session is found dead, then a new one is refused
        failed = api.post("/api/v1/query/pgwh", json={"query": "SELECT 1"}, headers=key)
        if failed.status_code != 200:
            break
    assert failed.status_code == 502, failed.text
    assert failed.json()["error"]["code"] == "connection_error"
    assert database not in failed.text and host not in failed.text, failed.text
    failed = api.post("/v1/connections/pgwh/test", headers=key)
    assert failed.status_code == 502 and database not in failed.text and host not in failed.text
    run_json(capsys, data_dir, "connections", "remove", "pgwh", "--shared", "--yes")
