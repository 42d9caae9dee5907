"""`/v1/team`: invitations, roles, removal and service accounts, against the real app."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from sqlgate.services import orgs
from sqlgate.store.models import ApiKey, AuditEvent, Member
from tests.conftest import Env, open_env


@pytest.fixture(scope="module")
def tenv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    # A long auth cache: role changes and removals must not wait for it to run out.
    yield from open_env(tmp_path_factory.mktemp("team"), auth_cache_seconds=300)


def _h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _counts(env: Env) -> tuple[int, int]:
    with env.org.services.store.session() as session:
        members = session.scalar(select(func.count()).select_from(Member)) or 0
        keys = session.scalar(select(func.count()).select_from(ApiKey)) or 0
    return int(members), int(keys)


def _invite(env: Env, email: str, role: str, key: str | None = None) -> dict[str, Any]:
    r = env.client.post(
        "/v1/team/members", json={"email": email, "role": role}, headers=_h(key or env.org.key)
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def _join(env: Env, email: str, role: str, key: str | None = None) -> tuple[str, str]:
    """Invite and accept; the member's id and first key."""
    token = _invite(env, email, role, key)["invite_token"]
    r = env.client.post("/v1/team/invitations/accept", json={"token": token})
    assert r.status_code == 201, r.text
    return r.json()["data"]["id"], r.json()["key"]["api_key"]


def _query(env: Env, key: str) -> int:
    r = env.client.post("/api/v1/query/duck", json={"query": "SELECT 1 AS one"}, headers=_h(key))
    return r.status_code


def _events(env: Env, action: str) -> list[dict[str, Any]]:
    r = env.client.get(f"/v1/audit?action={action}", headers=_h(env.org.key))
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    return data


def test_owner_is_listed(tenv: Env) -> None:
    r = tenv.client.get("/v1/team/members", headers=_h(tenv.org.key))
    assert r.status_code == 200
    owner = next(m for m in r.json()["data"] if m["email"] == "owner@acme.test")
    assert owner["role"] == "owner" and owner["status"] == "active" and owner["kind"] == "person"


def test_invitation_is_pending_until_accepted_and_yields_a_key(tenv: Env) -> None:
    invited = _invite(tenv, "Ed@Example.COM", "editor")
    member, token = invited["data"], invited["invite_token"]
    assert member["email"] == "ed@example.com"  # addresses are compared lower-cased
    assert member["status"] == "invited" and member["invite_expires_at"]
    assert token.startswith("sqgi_")
    listed = tenv.client.get("/v1/team/members", headers=_h(tenv.org.key)).text
    assert token not in listed and '"status":"invited"' in listed.replace(" ", "")

    r = tenv.client.post("/v1/team/invitations/accept", json={"token": token, "key_name": "laptop"})
    assert r.status_code == 201, r.text
    assert r.json()["data"]["status"] == "active"
    key = r.json()["key"]
    assert key["scopes"] == ["connections:read", "query:execute", "query:validate", "team:read"]
    assert _query(tenv, key["api_key"]) == 200
    # An editor lists the team but cannot administer it.
    assert tenv.client.get("/v1/team/members", headers=_h(key["api_key"])).status_code == 200
    r = tenv.client.post(
        "/v1/team/members",
        json={"email": "x@example.com", "role": "viewer"},
        headers=_h(key["api_key"]),
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "authorization_error"

    # The token dies once used.
    again = tenv.client.post("/v1/team/invitations/accept", json={"token": token})
    assert again.status_code == 401 and again.json()["error"]["code"] == "authentication_error"
    accepted = _events(tenv, "member.accept")
    assert accepted[0]["target_id"] == member["id"] and accepted[0]["member_id"] == member["id"]
    invite = next(e for e in _events(tenv, "member.invite") if e["target_id"] == member["id"])
    assert invite["detail"] == {"email": "ed@example.com", "role": "editor"}
    assert token not in tenv.client.get("/v1/audit", headers=_h(tenv.org.key)).text


def test_expired_and_unknown_tokens_are_refused(tenv: Env) -> None:
    invited = _invite(tenv, "late@example.com", "viewer")
    with tenv.org.services.store.session() as session:
        session.execute(
            update(Member)
            .where(Member.id == invited["data"]["id"])
            .values(invite_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    before = _counts(tenv)
    for token in (invited["invite_token"], "sqgi_" + "x" * 43, "nonsense"):
        r = tenv.client.post("/v1/team/invitations/accept", json={"token": token})
        assert r.status_code == 401, token
    assert _counts(tenv) == before  # no key issued


def test_the_same_token_accepted_twice_at_once_yields_one_key(tenv: Env) -> None:
    token = _invite(tenv, "race@example.com", "viewer")["invite_token"]
    statuses: list[int] = []

    def accept() -> None:
        r = tenv.client.post("/v1/team/invitations/accept", json={"token": token})
        statuses.append(r.status_code)

    threads = [threading.Thread(target=accept) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201] + [401] * 5


@pytest.mark.parametrize(
    "email",
    [
        "",
        "plain",
        "a@b",
        "two@@example.com",
        "sp ace@example.com",
        "a@-bad-.com",
        "a@b..com",
        "x@service.sqlgate.invalid",
        "a" * 65 + "@example.com",
        42,
        None,
    ],
)
def test_malformed_emails_are_422_and_write_nothing(tenv: Env, email: object) -> None:
    before = _counts(tenv)
    r = tenv.client.post(
        "/v1/team/members", json={"email": email, "role": "viewer"}, headers=_h(tenv.org.key)
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_error"
    assert _counts(tenv) == before


@pytest.mark.parametrize(
    "body",
    [
        {"email": "r@example.com", "role": "superuser"},
        {"email": "r@example.com"},
        {"role": "viewer"},
        {"email": "r@example.com", "role": "viewer", "extra": 1},
    ],
)
def test_bad_invitation_bodies_are_422(tenv: Env, body: dict[str, Any]) -> None:
    r = tenv.client.post("/v1/team/members", json=body, headers=_h(tenv.org.key))
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"


def test_malformed_json_is_422(tenv: Env) -> None:
    r = tenv.client.post(
        "/v1/team/members",
        content=b'{"email": ',
        headers={**_h(tenv.org.key), "Content-Type": "application/json"},
    )
    assert r.status_code == 422 and "not valid JSON" in r.json()["error"]["message"]


def test_inviting_a_member_or_a_pending_address_again_is_409(tenv: Env) -> None:
    _invite(tenv, "twice@example.com", "viewer")
    before = _counts(tenv)
    for email in ("twice@example.com", "TWICE@example.com", "owner@acme.test"):
        r = tenv.client.post(
            "/v1/team/members", json={"email": email, "role": "viewer"}, headers=_h(tenv.org.key)
        )
        assert r.status_code == 409 and r.json()["error"]["code"] == "conflict", email
    assert _counts(tenv) == before


def test_nobody_grants_above_their_own_role(tenv: Env) -> None:
    admin_id, admin_key = _join(tenv, "admin1@example.com", "admin")
    before = _counts(tenv)
    r = tenv.client.post(
        "/v1/team/members",
        json={"email": "boss@example.com", "role": "owner"},
        headers=_h(admin_key),
    )
    assert r.status_code == 403 and "above their own" in r.json()["error"]["message"]
    assert _counts(tenv) == before
    editor_id, _ = _join(tenv, "ed2@example.com", "editor", admin_key)
    r = tenv.client.patch(
        f"/v1/team/members/{editor_id}", json={"role": "owner"}, headers=_h(admin_key)
    )
    assert r.status_code == 403
    # ... nor changes or removes someone who outranks them.
    owner_id = orgs.first_owner_id(tenv.org.services.store, tenv.org.id)
    for call in (
        lambda: tenv.client.patch(
            f"/v1/team/members/{owner_id}", json={"role": "viewer"}, headers=_h(admin_key)
        ),
        lambda: tenv.client.delete(f"/v1/team/members/{owner_id}", headers=_h(admin_key)),
    ):
        assert call().status_code == 403
    r = tenv.client.patch(
        f"/v1/team/members/{editor_id}", json={"role": "admin"}, headers=_h(admin_key)
    )
    assert r.status_code == 200 and r.json()["data"]["role"] == "admin"
    assert admin_id != editor_id


def test_a_role_change_takes_effect_at_once(tenv: Env) -> None:
    member_id, key = _join(tenv, "demote@example.com", "editor")
    assert _query(tenv, key) == 200  # now in the auth cache for 300 s
    r = tenv.client.patch(
        f"/v1/team/members/{member_id}", json={"role": "viewer"}, headers=_h(tenv.org.key)
    )
    assert r.status_code == 200 and r.json()["data"]["role"] == "viewer"
    assert _query(tenv, key) == 403  # viewers validate, they do not execute
    event = next(e for e in _events(tenv, "member.update") if e["target_id"] == member_id)
    assert event["detail"] == {"role": "viewer", "previous_role": "editor"}


def test_the_last_owner_stays(tenv: Env) -> None:
    owner_id = orgs.first_owner_id(tenv.org.services.store, tenv.org.id)
    for call in (
        lambda: tenv.client.patch(
            f"/v1/team/members/{owner_id}", json={"role": "admin"}, headers=_h(tenv.org.key)
        ),
        lambda: tenv.client.delete(f"/v1/team/members/{owner_id}", headers=_h(tenv.org.key)),
    ):
        r = call()
        assert r.status_code == 409 and "at least one owner" in r.json()["error"]["message"]
    # With a second owner, the first may step down; then the second is the last.
    second_id, second_key = _join(tenv, "owner2@example.com", "owner")
    r = tenv.client.patch(
        f"/v1/team/members/{owner_id}", json={"role": "admin"}, headers=_h(second_key)
    )
    assert r.status_code == 200
    r = tenv.client.patch(
        f"/v1/team/members/{second_id}", json={"role": "admin"}, headers=_h(second_key)
    )
    assert r.status_code == 409
    r = tenv.client.patch(
        f"/v1/team/members/{owner_id}", json={"role": "owner"}, headers=_h(second_key)
    )
    assert r.status_code == 200  # restore for the other tests


def test_an_invited_owner_does_not_count_as_an_owner(tenv: Env) -> None:
    fresh = orgs.create_organization(
        tenv.org.services.store, name="Solo", owner_email="solo@solo.test"
    )
    assert fresh.key is not None
    key = fresh.key.api_key
    r = tenv.client.post(
        "/v1/team/members", json={"email": "next@solo.test", "role": "owner"}, headers=_h(key)
    )
    assert r.status_code == 201
    r = tenv.client.delete(f"/v1/team/members/{fresh.member_id}", headers=_h(key))
    assert r.status_code == 409


def test_removing_a_member_revokes_their_keys_at_once(tenv: Env) -> None:
    member_id, key = _join(tenv, "leaver@example.com", "editor")
    assert _query(tenv, key) == 200  # cached
    r = tenv.client.delete(f"/v1/team/members/{member_id}", headers=_h(tenv.org.key))
    assert r.status_code == 204
    assert _query(tenv, key) == 401
    assert (
        tenv.client.get(f"/v1/team/members/{member_id}", headers=_h(tenv.org.key)).status_code
        == 404
    )
    r = tenv.client.delete(f"/v1/team/members/{member_id}", headers=_h(tenv.org.key))
    assert r.status_code == 404
    event = next(e for e in _events(tenv, "member.remove") if e["target_id"] == member_id)
    assert event["detail"]["keys_revoked"] == 1 and event["detail"]["email"] == "leaver@example.com"
    # The address may be invited again.
    _invite(tenv, "leaver@example.com", "viewer")


def test_withdrawing_an_invitation(tenv: Env) -> None:
    invited = _invite(tenv, "withdrawn@example.com", "viewer")
    r = tenv.client.delete(f"/v1/team/members/{invited['data']['id']}", headers=_h(tenv.org.key))
    assert r.status_code == 204
    r = tenv.client.post("/v1/team/invitations/accept", json={"token": invited["invite_token"]})
    assert r.status_code == 401


def test_another_organizations_members_are_unknown(tenv: Env) -> None:
    other = orgs.create_organization(
        tenv.org.services.store, name="Other team", owner_email="o@other.test"
    )
    assert other.key is not None
    theirs = other.member_id
    for method, body in (("get", None), ("patch", {"role": "viewer"}), ("delete", None)):
        r = tenv.client.request(
            method, f"/v1/team/members/{theirs}", json=body, headers=_h(tenv.org.key)
        )
        assert r.status_code == 404, method
    mine = tenv.client.get("/v1/team/members", headers=_h(tenv.org.key)).json()["data"]
    assert theirs not in {m["id"] for m in mine}
    listed = tenv.client.get("/v1/team/members", headers=_h(other.key.api_key)).json()["data"]
    assert [m["email"] for m in listed] == ["o@other.test"]


def test_service_accounts(tenv: Env) -> None:
    r = tenv.client.post(
        "/v1/team/service_accounts",
        json={"name": "metabase", "role": "viewer"},
        headers=_h(tenv.org.key),
    )
    assert r.status_code == 201, r.text
    account = r.json()["data"]
    assert account["kind"] == "service" and account["email"] is None
    assert account["name"] == "metabase" and account["status"] == "active"
    r = tenv.client.post(
        "/v1/team/service_accounts",
        json={"name": "metabase", "role": "editor"},
        headers=_h(tenv.org.key),
    )
    assert r.status_code == 409
    for bad in ("", "Has Space", "UPPER", "-dash", "x" * 64):
        before = _counts(tenv)
        r = tenv.client.post(
            "/v1/team/service_accounts",
            json={"name": bad, "role": "viewer"},
            headers=_h(tenv.org.key),
        )
        assert r.status_code == 422, bad
        assert _counts(tenv) == before

    r = tenv.client.post(
        "/v1/keys",
        json={"name": "bi", "service_account_id": account["id"]},
        headers=_h(tenv.org.key),
    )
    assert r.status_code == 201, r.text
    key = r.json()["data"]
    assert key["member_id"] == account["id"]
    assert key["scopes"] == ["connections:read", "query:validate", "team:read"]
    assert _query(tenv, key["api_key"]) == 403  # a viewer account cannot execute
    r = tenv.client.post(
        "/api/v1/query/duck/validate", json={"query": "SELECT 1"}, headers=_h(key["api_key"])
    )
    assert r.status_code == 200
    services = tenv.client.get("/v1/team/service_accounts", headers=_h(tenv.org.key)).json()
    assert [s["name"] for s in services["data"]] == ["metabase"]
    people = tenv.client.get("/v1/team/members?kind=person", headers=_h(tenv.org.key)).json()
    assert "metabase" not in {m["name"] for m in people["data"]}

    # Keys for people are their own business; a service account outranking the caller is not.
    owner_id = orgs.first_owner_id(tenv.org.services.store, tenv.org.id)
    r = tenv.client.post(
        "/v1/keys", json={"name": "x", "service_account_id": owner_id}, headers=_h(tenv.org.key)
    )
    assert r.status_code == 422
    _, admin_key = _join(tenv, "admin-sa@example.com", "admin")
    r = tenv.client.post(
        "/v1/team/service_accounts",
        json={"name": "root-job", "role": "owner"},
        headers=_h(tenv.org.key),
    )
    assert r.status_code == 201
    r = tenv.client.post(
        "/v1/keys",
        json={"name": "x", "service_account_id": r.json()["data"]["id"]},
        headers=_h(admin_key),
    )
    assert r.status_code == 403

    # Removing the account revokes its keys at once.
    r = tenv.client.delete(f"/v1/team/members/{account['id']}", headers=_h(tenv.org.key))
    assert r.status_code == 204
    r = tenv.client.post(
        "/api/v1/query/duck/validate", json={"query": "SELECT 1"}, headers=_h(key["api_key"])
    )
    assert r.status_code == 401
    created = _events(tenv, "key.create")
    assert any(
        e["target_id"] == key["id"] and e["detail"]["owner_id"] == account["id"] for e in created
    )


def test_key_revocations_are_audited(tenv: Env) -> None:
    r = tenv.client.post("/v1/keys", json={"name": "short-lived"}, headers=_h(tenv.org.key))
    key_id = r.json()["data"]["id"]
    assert tenv.client.delete(f"/v1/keys/{key_id}", headers=_h(tenv.org.key)).status_code == 204
    event = next(e for e in _events(tenv, "key.revoke") if e["target_id"] == key_id)
    assert event["status"] == "ok" and event["key_id"] != key_id
    with tenv.org.services.store.session() as session:
        details = session.scalars(select(AuditEvent.detail)).all()
    # Secrets never reach the history: no key or invitation token in any detail.
    assert not any("sqg_" in str(d) or "sqgi_" in str(d) for d in details)


def test_two_owners_demoting_each_other_at_once_leave_one_owner(tmp_path: Any) -> None:
    """On PostgreSQL the owners' rows are locked, so concurrent demotions cannot both pass."""
    from sqlgate.auth.principal import authenticate
    from sqlgate.auth.scopes import Role
    from sqlgate.services.audit import AuditLog
    from sqlgate.services.team import TeamService
    from sqlgate.store.db import Store
    from tests.services import fresh_pg_database

    with fresh_pg_database() as url:
        store = Store(url)
        store.migrate()
        audit = AuditLog(store)
        try:
            team = TeamService(store, audit, invite_ttl=timedelta(days=1))
            first = orgs.create_organization(store, name="Pg", owner_email="a@pg.test")
            assert first.key is not None
            token = team.invite(None, first.org_id, "b@pg.test", Role.OWNER).token
            second = team.accept(token, key_name="b")
            actors = [
                authenticate(store, first.key.api_key),
                authenticate(store, second.key.api_key),
            ]
            results: list[str] = []
            barrier = threading.Barrier(2)

            def demote(actor_index: int) -> None:
                actor = actors[actor_index]
                barrier.wait()
                try:
                    team.change_role(actor, first.org_id, actor.member_id, Role.ADMIN)
                    results.append("ok")
                except Exception as exc:
                    results.append(type(exc).__name__)

            threads = [threading.Thread(target=demote, args=(i,)) for i in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(results) == ["Conflict", "ok"]
            owners = [m for m in team.members(first.org_id) if m.role == "owner"]
            assert len(owners) == 1
        finally:
            audit.close()
            store.close()
