"""`/v1/keys` (issue, list, revoke) and `sqlgate keys list|revoke`, against the real app."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import ROLE_SCOPES, Role
from sqlgate.cli import main
from sqlgate.errors import ValidationError
from sqlgate.services import keys, orgs
from sqlgate.store.models import ApiKey, Member, Organization, new_id
from tests.conftest import Env, open_env

ALL_SCOPES = [
    "admin",
    "connections:read",
    "connections:write",
    "query:execute",
    "query:validate",
    "team:read",
]


@pytest.fixture(scope="module")
def kenv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    # A long auth cache: revocation must not wait for it to run out.
    yield from open_env(tmp_path_factory.mktemp("keys"), auth_cache_seconds=300)


def _create(kenv: Env, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    r = kenv.client.post("/v1/keys", json=body, headers=kenv.org.headers(key))
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


def _key_count(kenv: Env) -> int:
    with kenv.org.services.store.session() as session:
        return int(session.scalar(select(func.count()).select_from(ApiKey)) or 0)


def _query(kenv: Env, key: str) -> int:
    r = kenv.client.post(
        "/api/v1/query/duck", json={"query": "SELECT 1 AS one"}, headers=kenv.org.headers(key)
    )
    return r.status_code


def test_create_with_default_scopes(kenv: Env) -> None:
    data = _create(kenv, {"name": "all of it"})
    assert data["scopes"] == ALL_SCOPES  # the owner's role allows everything
    assert data["api_key"].startswith(data["prefix"]) and data["id"].startswith("key_")
    assert data["expires_at"] is None and data["created_at"]
    assert _query(kenv, data["api_key"]) == 200
    r = kenv.client.get("/v1/keys", headers=kenv.org.headers(data["api_key"]))
    assert r.status_code == 200
    members = {k["name"]: k["member_id"] for k in r.json()["data"]}
    assert members["all of it"] == members["owner key"]  # it belongs to the calling member


def test_narrowed_key_works_only_within_its_scopes(kenv: Env) -> None:
    data = _create(kenv, {"name": "reader", "scopes": ["query:execute", "connections:read"]})
    assert data["scopes"] == ["connections:read", "query:execute"]
    h = kenv.org.headers(data["api_key"])
    assert _query(kenv, data["api_key"]) == 200
    assert kenv.client.get("/v1/connections", headers=h).status_code == 200
    r = kenv.client.post("/v1/connections", json={"type": "duckdb", "name": "x"}, headers=h)
    assert r.status_code == 403 and r.json()["error"]["code"] == "authorization_error"


def test_key_without_admin_scope_is_refused_on_every_route(kenv: Env) -> None:
    victim = _create(kenv, {"name": "victim"})
    h = kenv.org.headers(kenv.org.key_with("query:execute", "connections:write"))
    responses = [
        kenv.client.post("/v1/keys", json={"name": "x"}, headers=h),
        kenv.client.get("/v1/keys", headers=h),
        kenv.client.delete(f"/v1/keys/{victim['id']}", headers=h),
    ]
    for r in responses:
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "authorization_error"
    assert _query(kenv, victim["api_key"]) == 200  # not revoked


def test_unknown_scopes_are_named_and_write_nothing(kenv: Env) -> None:
    before = _key_count(kenv)
    r = kenv.client.post(
        "/v1/keys",
        json={"name": "x", "scopes": ["query:execute", "sudo", "root"]},
        headers=kenv.org.headers(),
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    assert "root, sudo" in r.json()["error"]["message"]
    assert _key_count(kenv) == before


def test_scopes_wider_than_the_members_role_write_nothing(kenv: Env) -> None:
    # Through HTTP the caller holds `admin`, which only roles granting every scope allow; the
    # role check still guards the service for any member (and any future role table).
    store = kenv.org.services.store
    editor = new_id("mem")
    with store.session() as session:
        session.add(Member(id=editor, org_id=kenv.org.id, email="ed@acme.test", role="editor"))
    before = _key_count(kenv)
    as_editor = Principal(
        org_id=kenv.org.id,
        org_slug=kenv.org.slug,
        member_id=editor,
        role=Role.EDITOR,
        key_id="key_x",
        scopes=ROLE_SCOPES[Role.EDITOR],
    )
    audit = kenv.org.services.audit
    with pytest.raises(ValidationError, match="connections:write"):
        keys.issue(
            store,
            audit,
            as_editor,
            name="too wide",
            scopes=["query:execute", "connections:write"],
            expires_at=None,
        )
    assert _key_count(kenv) == before
    info, _secret = keys.issue(store, audit, as_editor, name="ok", scopes=None, expires_at=None)
    assert info.scopes == ["connections:read", "query:execute", "query:validate", "team:read"]
    assert info.member_id == editor


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": 5},
        {"name": "x", "scopes": "admin"},
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": [1]},
        {"name": "x", "expires_at": "tomorrow"},
        {"name": "x", "owner": "me"},
        {"name": "x" * 201},
    ],
)
def test_wrong_types_are_422(kenv: Env, body: dict[str, Any]) -> None:
    r = kenv.client.post("/v1/keys", json=body, headers=kenv.org.headers())
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_error"


def test_malformed_json_is_422(kenv: Env) -> None:
    r = kenv.client.post(
        "/v1/keys",
        content=b'{"name": "x",',
        headers={**kenv.org.headers(), "Content-Type": "application/json"},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"


def test_expiry_in_the_past_is_422(kenv: Env) -> None:
    before = _key_count(kenv)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    r = kenv.client.post(
        "/v1/keys", json={"name": "x", "expires_at": past}, headers=kenv.org.headers()
    )
    assert r.status_code == 422 and "expires_at" in r.json()["error"]["message"]
    assert _key_count(kenv) == before


def test_expired_key_is_401(kenv: Env) -> None:
    soon = datetime.now(UTC) + timedelta(hours=1)
    data = _create(kenv, {"name": "short", "expires_at": soon.isoformat()})
    assert datetime.fromisoformat(data["expires_at"]) == soon
    with kenv.org.services.store.session() as session:
        session.execute(
            update(ApiKey)
            .where(ApiKey.id == data["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert _query(kenv, data["api_key"]) == 401


def test_naive_expiry_is_utc(kenv: Env) -> None:
    naive = (datetime.now(UTC) + timedelta(days=1)).replace(tzinfo=None, microsecond=0)
    data = _create(kenv, {"name": "naive", "expires_at": naive.isoformat()})
    assert datetime.fromisoformat(data["expires_at"]) == naive.replace(tzinfo=UTC)
    assert _query(kenv, data["api_key"]) == 200


def test_list_shows_metadata_never_secrets(kenv: Env) -> None:
    made = _create(kenv, {"name": "listed", "scopes": ["query:validate"]})
    r = kenv.client.get("/v1/keys", headers=kenv.org.headers())
    assert r.status_code == 200
    listed = {k["id"]: k for k in r.json()["data"]}
    entry = listed[made["id"]]
    assert set(entry) == {
        "id", "name", "prefix", "scopes", "member_id",
        "created_at", "expires_at", "last_used_at", "revoked_at",
    }  # fmt: skip
    assert entry["name"] == "listed" and entry["scopes"] == ["query:validate"]
    assert entry["prefix"] == made["prefix"] and entry["revoked_at"] is None
    with kenv.org.services.store.session() as session:
        hashes = list(session.scalars(select(ApiKey.key_hash)))
    assert made["api_key"] not in r.text and kenv.org.key not in r.text
    assert not any(h in r.text for h in hashes)
    # the owner's key has been used by now
    owner = [k for k in listed.values() if k["name"] == "owner key"]
    assert owner and owner[0]["last_used_at"] is not None


def test_revoke_takes_effect_at_once(kenv: Env) -> None:
    data = _create(kenv, {"name": "doomed"})
    assert _query(kenv, data["api_key"]) == 200  # now in the 300 s auth cache
    r = kenv.client.delete(f"/v1/keys/{data['id']}", headers=kenv.org.headers())
    assert r.status_code == 204 and r.content == b""
    r = kenv.client.post(
        "/api/v1/query/duck", json={"query": "SELECT 1"}, headers=kenv.org.headers(data["api_key"])
    )
    assert r.status_code == 401 and r.json()["error"]["code"] == "authentication_error"
    listed = kenv.client.get("/v1/keys", headers=kenv.org.headers()).json()["data"]
    assert next(k for k in listed if k["id"] == data["id"])["revoked_at"] is not None
    again = kenv.client.delete(f"/v1/keys/{data['id']}", headers=kenv.org.headers())
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


def test_revoke_unknown_or_foreign_key_is_404(kenv: Env) -> None:
    r = kenv.client.delete("/v1/keys/key_0000000000000000", headers=kenv.org.headers())
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    # `init_organization` only makes the first org; add a second by hand.
    store = kenv.org.services.store
    with store.session() as session:
        session.add(Organization(id="org_other", name="Other", slug="other"))
        session.flush()
        session.add(Member(id="mem_other", org_id="org_other", email="o@x.test", role="owner"))
    foreign = orgs.create_key(store, "org_other", name="theirs")
    r = kenv.client.delete(f"/v1/keys/{foreign.key_id}", headers=kenv.org.headers())
    assert r.status_code == 404
    listed = kenv.client.get("/v1/keys", headers=kenv.org.headers()).json()["data"]
    assert foreign.key_id not in {k["id"] for k in listed}


def test_openapi_documents_the_admin_scope(kenv: Env) -> None:
    paths = kenv.client.get("/openapi.json").json()["paths"]
    for path, method in [
        ("/v1/keys", "post"),
        ("/v1/keys", "get"),
        ("/v1/keys/{key_id}", "delete"),
    ]:
        assert "`admin` scope" in paths[path][method]["description"]


def test_cli_lists_and_revokes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SQLGATE_DATA_DIR", str(tmp_path))  # `main` sets it; undo afterwards
    assert main(["init", "--data-dir", str(tmp_path), "--json"]) == 0
    owner = json.loads(capsys.readouterr().out)
    assert main(["keys", "create", "--data-dir", str(tmp_path), "--scopes", "query:execute",
                 "--name", "cli", "--json"]) == 0  # fmt: skip
    made = json.loads(capsys.readouterr().out)

    assert main(["keys", "list", "--data-dir", str(tmp_path), "--json"]) == 0
    out = capsys.readouterr().out
    listed = {k["id"]: k for k in json.loads(out)}
    assert set(listed) == {owner["key_id"], made["key_id"]}
    assert listed[made["key_id"]]["scopes"] == ["query:execute"]
    assert listed[made["key_id"]]["revoked_at"] is None
    assert made["api_key"] not in out and owner["api_key"] not in out
    assert "key_hash" not in out

    assert main(["keys", "revoke", made["key_id"], "--data-dir", str(tmp_path)]) == 0
    assert made["key_id"] in capsys.readouterr().out
    assert main(["keys", "list", "--data-dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert any(made["key_id"] in line and "revoked" in line for line in text.splitlines())
    assert main(["keys", "revoke", made["key_id"], "--data-dir", str(tmp_path)]) == 1
    assert "already revoked" in capsys.readouterr().err
    assert main(["keys", "revoke", "key_nope", "--data-dir", str(tmp_path)]) == 1
    assert "not found" in capsys.readouterr().err
