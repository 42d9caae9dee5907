"""DELETE /v1/keys/{id} never revokes the organization's last key that can manage it (an active
owner's key with the admin scope): a 409 `conflict`, like the last-owner rule for members."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from sqlgate.app import create_app
from sqlgate.auth.principal import authenticate
from sqlgate.cli import main
from sqlgate.container import Services
from sqlgate.errors import Conflict
from sqlgate.services import keys, orgs
from sqlgate.store.models import ApiKey
from tests.conftest import make_settings
from tests.services import fresh_pg_database
from tests.test_server import prepare, start_server

LAST_KEY = "last key that can manage it"


@dataclass
class Team:
    client: TestClient
    services: Services
    org_id: str
    owner_key: str

    def h(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.owner_key}"}

    def key_id(self, secret: str) -> str:
        return authenticate(self.services.store, secret).key_id

    def create(self, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        r = self.client.post("/v1/keys", json=body, headers=self.h(key))
        assert r.status_code == 201, r.text
        data: dict[str, Any] = r.json()["data"]
        return data

    def revoke(self, key_id: str, key: str | None = None) -> httpx.Response:
        return self.client.delete(f"/v1/keys/{key_id}", headers=self.h(key))

    def join(self, email: str, role: str) -> str:
        """Invite and accept: the new member's first key."""
        r = self.client.post(
            "/v1/team/members", json={"email": email, "role": role}, headers=self.h()
        )
        assert r.status_code == 201, r.text
        token = r.json()["invite_token"]
        r = self.client.post("/v1/team/invitations/accept", json={"token": token})
        assert r.status_code == 201, r.text
        return str(r.json()["key"]["api_key"])

    def works(self, key: str) -> bool:
        return self.client.get("/v1/keys", headers=self.h(key)).status_code == 200


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Team]:
    app = create_app(make_settings(tmp_path, auth_cache_seconds=300))
    services: Services = app.state.services
    init = orgs.init_organization(services.store, name="Solo", owner_email="owner@solo.test")
    assert init.key is not None
    with TestClient(app) as client:
        yield Team(client, services, init.org_id, init.key.api_key)


def assert_last_key_refused(r: httpx.Response) -> None:
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "conflict" and LAST_KEY in error["message"]


def test_the_only_owner_cannot_revoke_their_only_key(team: Team) -> None:
    first = team.key_id(team.owner_key)
    assert_last_key_refused(team.revoke(first))
    assert team.works(team.owner_key)  # still active, also in the auth cache
    listed = team.client.get("/v1/keys", headers=team.h()).json()["data"]
    assert next(k for k in listed if k["id"] == first)["revoked_at"] is None


def test_a_second_owner_key_makes_it_allowed(team: Team) -> None:
    first = team.key_id(team.owner_key)
    second = team.create({"name": "replacement"})
    assert team.revoke(first, second["api_key"]).status_code == 204
    assert not team.works(team.owner_key)
    # Now the replacement is the last one: it cannot revoke itself.
    assert_last_key_refused(team.revoke(second["id"], second["api_key"]))
    assert team.works(second["api_key"])


def test_keys_that_cannot_manage_do_not_count(team: Team) -> None:
    first = team.key_id(team.owner_key)
    narrow = team.create({"name": "query only", "scopes": ["query:execute"]})
    expiring = team.create(
        {"name": "soon", "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}
    )
    with team.services.store.session() as session:
        session.execute(
            update(ApiKey)
            .where(ApiKey.id == expiring["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert_last_key_refused(team.revoke(first))
    # A key without the admin scope, an expired key and non-owners' keys revoke freely.
    assert team.revoke(narrow["id"]).status_code == 204
    assert team.revoke(expiring["id"]).status_code == 204
    admin_key = team.join("admin@solo.test", "admin")
    viewer_key = team.join("viewer@solo.test", "viewer")
    assert team.revoke(team.key_id(viewer_key)).status_code == 204
    # An admin is no owner: the owner's key stays the last one, whoever asks.
    assert_last_key_refused(team.revoke(first, admin_key))
    assert team.revoke(team.key_id(admin_key), admin_key).status_code == 204


def test_another_owner_with_a_key_makes_it_allowed(team: Team) -> None:
    first = team.key_id(team.owner_key)
    other = team.join("second@solo.test", "owner")
    assert team.revoke(first).status_code == 204
    assert_last_key_refused(team.revoke(team.key_id(other), other))


def test_other_refusals_come_first(team: Team) -> None:
    first = team.key_id(team.owner_key)
    r = team.revoke("key_0000000000000000")
    assert r.status_code == 404
    second = team.create({"name": "two"})
    assert team.revoke(first, second["api_key"]).status_code == 204
    r = team.revoke(first, second["api_key"])
    assert r.status_code == 409 and "already revoked" in r.json()["error"]["message"]


def test_the_operator_at_the_command_line_may_revoke_it(
    team: Team, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command line is where a locked-out organization is recovered: it is not refused."""
    first = team.key_id(team.owner_key)
    assert main(["keys", "revoke", first, "--data-dir", str(tmp_path)]) == 0
    assert f"revoked {first}" in capsys.readouterr().out
    assert not team.works(team.owner_key)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_revocations_leave_one_key(tmp_path: Path, backend: str) -> None:
    """Two requests revoking the last two owner keys at once: exactly one succeeds."""

    def run(url: str | None) -> None:
        overrides = {"database_url": url} if url else {}
        services = Services.build(make_settings(tmp_path, **overrides))
        try:
            org = orgs.create_organization(services.store, name="Race", owner_email="o@race.test")
            actor = orgs.operator(services.store, org.org_id)  # any principal: the API rule

            def revoke_all() -> None:
                with services.store.session() as session:
                    session.execute(
                        update(ApiKey)
                        .where(ApiKey.org_id == org.org_id, ApiKey.revoked_at.is_(None))
                        .values(revoked_at=datetime.now(UTC))
                    )

            revoke_all()
            for _ in range(5):
                ids = [
                    orgs.create_key(services.store, org.org_id, name=f"k{i}").key_id
                    for i in range(2)
                ]
                outcomes: list[str] = []
                barrier = threading.Barrier(2)

                def revoke(
                    key_id: str,
                    barrier: threading.Barrier = barrier,
                    outcomes: list[str] = outcomes,
                ) -> None:
                    barrier.wait()
                    try:
                        keys.revoke(services.store, services.audit, actor, org.org_id, key_id)
                        outcomes.append("revoked")
                    except Conflict:
                        outcomes.append("refused")

                threads = [threading.Thread(target=revoke, args=(k,)) for k in ids]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(30)
                assert sorted(outcomes) == ["refused", "revoked"]
                revoke_all()  # the survivor goes before the next round
        finally:
            services.close()

    if backend == "sqlite":
        run(None)
    else:
        with fresh_pg_database() as url:
            run(url)


@pytest.mark.server
def test_through_a_real_server(tmp_path: Path) -> None:
    init = prepare("init", "--json", data_dir=tmp_path)
    assert init.returncode == 0, init.stderr
    key = json.loads(init.stdout)["api_key"]
    proc, base = start_server(tmp_path)
    try:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client:
            (first,) = client.get("/v1/keys").json()["data"]
            r = client.delete(f"/v1/keys/{first['id']}")
            assert_last_key_refused(r)
            assert client.get("/v1/keys").status_code == 200  # not locked out
            second = client.post("/v1/keys", json={"name": "next"}).json()["data"]
            assert client.delete(f"/v1/keys/{first['id']}").status_code == 204
            assert client.get("/v1/keys").status_code == 401
            h = {"Authorization": f"Bearer {second['api_key']}"}
            assert_last_key_refused(client.delete(f"/v1/keys/{second['id']}", headers=h))
            assert client.get("/v1/keys", headers=h).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
