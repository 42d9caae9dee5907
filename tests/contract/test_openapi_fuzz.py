"""Every operation of the OpenAPI document, fuzzed with schemathesis against the in-process app.

A throwaway organization, a key holding every scope, and real ids in the path: a key, a member,
a connection, a dashboard or a share is made afresh for each case that deletes or changes it, so
deletion is exercised on rows that exist. Whatever the generated query, headers and body (valid
for the schema, or not), the answer is never a 5xx, its status code is one the operation
documents, and its body and content type match the documented response. (Schemathesis'
`negative_data_rejection` does not fit: the real ids and key put in place of generated ones can
turn an invalid case into a valid one.) Derandomized and on a small budget, so CI is
deterministic and quick; `docs/architecture.md` says how to run the same checks at length.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import (  # noqa: E402
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from sqlgate.auth.principal import authenticate  # noqa: E402
from sqlgate.auth.scopes import Role, Scope  # noqa: E402
from sqlgate.container import Services  # noqa: E402
from sqlgate.jobs.service import JobSpec  # noqa: E402
from sqlgate.services import operator_keys, orgs  # noqa: E402
from tests.conftest import open_env  # noqa: E402

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]
EXAMPLES = 12  # per operation: about 600 cases in all
SHARDS = 5


@dataclass
class Target:
    schema: Any
    client: TestClient
    services: Services
    org_id: str
    key: str
    owner_id: str
    ids: dict[str, str]  # path parameter -> an id of the throwaway organization
    counter: list[int]
    operator_key: str = ""

    def unique(self, stem: str) -> str:
        self.counter[0] += 1
        return f"{stem}-{self.counter[0]}"


def _fresh_key(t: Target) -> dict[str, str]:
    return {"key_id": orgs.create_key(t.services.store, t.org_id, name=t.unique("doomed")).key_id}


def _fresh_member(t: Target) -> dict[str, str]:
    email = f"{t.unique('doomed')}@throwaway.test"
    return {"member_id": t.services.team.invite(None, t.org_id, email, Role.VIEWER).member.id}


def _fresh_connection(t: Target) -> dict[str, str]:
    made = t.services.connections.create(
        t.org_id, name=t.unique("doomed"), type="duckdb", database="corpus.duckdb"
    )
    return {"connection_id": made.id}


def _fresh_dashboard(t: Target) -> dict[str, str]:
    made = t.services.dashboards.create(t.org_id, t.owner_id, {"name": t.unique("doomed")})
    return {"dashboard_id": made.id}


def _fresh_share(t: Target) -> dict[str, str]:
    dashboard = _fresh_dashboard(t)["dashboard_id"]
    principal = authenticate(t.services.store, t.key)
    share = t.services.dashboards.share(principal, dashboard)
    return {"dashboard_id": dashboard, "share_id": share.share.id}


def _fresh_workflow(t: Target) -> dict[str, str]:
    principal = authenticate(t.services.store, t.key)
    made = t.services.workflows.create(
        principal,
        {
            "name": t.unique("doomed"),
            "steps": [{"type": "query", "connection_id": "duck", "sql": "SELECT 1 AS one"}],
        },
    )
    return {"workflow_id": made.id}


def _fresh_run(t: Target) -> dict[str, str]:
    workflow = _fresh_workflow(t)["workflow_id"]
    principal = authenticate(t.services.store, t.key)
    run = t.services.workflows.run(principal, workflow)
    return {"workflow_id": workflow, "run_id": run.id}


def _fresh_org(t: Target) -> dict[str, str]:
    made, _ = t.services.organizations.create(t.unique("doomed"))
    return {"org": made.slug}


def _fresh_shared(t: Target) -> dict[str, str]:
    shared = t.services.shared_connections.add(
        name=t.unique("shared"),
        type="duckdb",
        database=str(t.services.settings.data_dir / "databases" / "corpus.duckdb"),
    )
    return {"connection": shared.name}


def _fresh_grant(t: Target) -> dict[str, str]:
    ids = {**_fresh_shared(t), **_fresh_org(t)}
    t.services.shared_connections.grant(ids["connection"], ids["org"])
    return ids


_PLATFORM = "/v1/platform/organizations/{org}"
_GRANTS = "/v1/platform/connections/{connection}/grants"

# Operations that delete or change what they name get a row of their own for every case.
FRESH: dict[tuple[str, str], Callable[[Target], dict[str, str]]] = {
    ("DELETE", "/v1/keys/{key_id}"): _fresh_key,
    ("DELETE", "/v1/team/members/{member_id}"): _fresh_member,
    ("PATCH", "/v1/team/members/{member_id}"): _fresh_member,
    ("DELETE", "/v1/connections/{connection_id}"): _fresh_connection,
    ("PATCH", "/v1/connections/{connection_id}"): _fresh_connection,
    ("DELETE", "/v1/dashboards/{dashboard_id}"): _fresh_dashboard,
    ("PATCH", "/v1/dashboards/{dashboard_id}"): _fresh_dashboard,
    ("DELETE", "/v1/dashboards/{dashboard_id}/shares/{share_id}"): _fresh_share,
    ("DELETE", "/v1/workflows/{workflow_id}"): _fresh_workflow,
    ("PATCH", "/v1/workflows/{workflow_id}"): _fresh_workflow,
    ("POST", "/v1/workflows/{workflow_id}/run"): _fresh_workflow,
    ("POST", "/v1/workflows/{workflow_id}/runs/{run_id}/cancel"): _fresh_run,
    # The operator's routes: never the throwaway organization itself.
    ("GET", _PLATFORM): _fresh_org,
    ("PATCH", _PLATFORM): _fresh_org,
    ("DELETE", _PLATFORM): _fresh_org,
    ("POST", f"{_PLATFORM}/suspend"): _fresh_org,
    ("POST", f"{_PLATFORM}/resume"): _fresh_org,
    ("POST", _GRANTS): _fresh_shared,
    ("DELETE", _GRANTS + "/{org}"): _fresh_grant,
}


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    for env in open_env(tmp_path_factory.mktemp("fuzz")):  # a fresh store: a throwaway org
        services = env.org.services
        key = env.org.key_with(*Scope)
        [duck] = [c for c in services.connections.list(env.org.id) if c.name == "duck"]
        principal = authenticate(services.store, key)
        job = services.jobs.submit(principal, "duck", JobSpec("SELECT 1 AS one"))
        saved = services.saved_queries.save(
            org_id=env.org.id, member_id=principal.member_id, connection_id=duck.id,
            question="how many?", sql="SELECT 1", status="ok",
        )  # fmt: skip
        t = Target(
            schema=schemathesis.openapi.from_dict(env.client.get("/openapi.json").json()),
            client=env.client,
            services=services,
            org_id=env.org.id,
            key=key,
            owner_id=principal.member_id,
            ids={
                "org": env.org.slug,
                "connection_id": duck.id,
                "job_id": job.job.id,
                "query_id": saved.id,
            },
            counter=[0],
        )
        t.ids.update(_fresh_share(t))
        t.ids.update(_fresh_run(t))  # a workflow and one of its runs
        t.ids["member_id"] = principal.member_id
        t.ids["key_id"] = _fresh_key(t)["key_id"]
        t.operator_key = operator_keys.create(services.store, "fuzz")[1]
        yield t


def _send(t: Target, case: Any) -> Any:
    """The case, sent through the app's own test client (the app's lifespan stays up)."""
    platform = case.operation.path.startswith("/v1/platform/")
    headers = {"Authorization": f"Bearer {t.operator_key if platform else t.key}"}
    if case.headers and "X-ORG-ID" in case.headers:
        headers["X-ORG-ID"] = t.org_id
    sent = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    return t.client.request(
        sent["method"],
        sent["url"],
        headers=sent["headers"],
        params=sent["params"],
        json=sent.get("json"),
        content=sent.get("data"),
    )


def _fuzz(t: Target, operation: Any) -> None:
    fresh = FRESH.get((operation.method.upper(), operation.path))

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=operation.as_strategy(GenerationMode.POSITIVE)
        | operation.as_strategy(GenerationMode.NEGATIVE)
    )
    def run(case: Any) -> None:
        if case.path_parameters:
            ids = {**t.ids, **(fresh(t) if fresh else {})}
            case.path_parameters = {
                name: ids.get(name, value) for name, value in case.path_parameters.items()
            }
        case.validate_response(_send(t, case), checks=CHECKS)

    run()


@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_operation_answers_as_documented(target: Target, shard: int) -> None:
    operations = [result.ok() for result in target.schema.get_all_operations()]
    assert len(operations) >= 50
    failures: list[str] = []
    for operation in operations[shard::SHARDS]:
        try:
            _fuzz(target, operation)
        # Every operation is tried and every failure reported (schemathesis raises a group).
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.method.upper()} {operation.path}:\n{exc}")
    assert not failures, "\n\n".join(failures)


def test_deleting_a_key_and_a_member_of_the_throwaway_organization(target: Target) -> None:
    """What the fuzzed deletions do to real rows: the key no longer opens the API, the member
    is no longer listed."""
    client, headers = target.client, {"Authorization": f"Bearer {target.key}"}
    doomed = orgs.create_key(target.services.store, target.org_id, name="doomed")
    assert client.get("/v1/keys", headers={"Authorization": f"Bearer {doomed.api_key}"}).is_success
    assert client.delete(f"/v1/keys/{doomed.key_id}", headers=headers).status_code == 204
    r = client.get("/v1/keys", headers={"Authorization": f"Bearer {doomed.api_key}"})
    assert r.status_code == 401
    member_id = _fresh_member(target)["member_id"]
    assert client.delete(f"/v1/team/members/{member_id}", headers=headers).status_code == 204
    left = client.get("/v1/team/members", headers=headers).json()["data"]
    assert member_id not in {m["id"] for m in left}


def test_keys_and_members_through_create_use_change_and_delete(target: Target) -> None:
    """Stateful, in the throwaway organization: keys made, used, revoked and revoked again;
    members invited, joined, given another role and removed, in any order. Each answer is the
    documented one, and the lists always show what was done."""
    client, owner = target.client, {"Authorization": f"Bearer {target.key}"}
    roles = st.sampled_from(["viewer", "editor", "admin"])

    def documented(r: Any) -> Any:
        assert r.status_code < 500, r.text
        if r.status_code >= 400:
            assert r.json()["error"]["code"] and r.json()["error"]["message"]
        return r

    class Team(RuleBasedStateMachine):
        keys = Bundle("keys")
        revoked = Bundle("revoked")
        members = Bundle("members")

        def __init__(self) -> None:
            super().__init__()
            self.live: set[str] = set()
            self.dead: set[str] = set()
            self.gone: set[str] = set()

        @rule(target=keys, scopes=st.lists(st.sampled_from(sorted(Scope)), unique=True))
        def create_key(self, scopes: list[str]) -> tuple[str, str]:
            body = {"name": target.unique("key"), **({"scopes": scopes} if scopes else {})}
            r = documented(client.post("/v1/keys", json=body, headers=owner))
            assert r.status_code == 201, r.text
            made = r.json()["data"]
            self.live.add(made["id"])
            return made["id"], made["api_key"]

        @rule(key=keys)
        def use_key(self, key: tuple[str, str]) -> None:
            r = documented(client.get("/v1/keys", headers={"Authorization": f"Bearer {key[1]}"}))
            assert r.status_code in (200, 403), r.text  # 403: a key without team scope

        @rule(target=revoked, key=consumes(keys))
        def revoke_key(self, key: tuple[str, str]) -> tuple[str, str]:
            r = documented(client.delete(f"/v1/keys/{key[0]}", headers=owner))
            assert r.status_code == 204, r.text
            self.live.discard(key[0])
            self.dead.add(key[0])
            return key

        @rule(key=revoked)
        def a_revoked_key_is_refused_and_cannot_be_revoked_again(
            self, key: tuple[str, str]
        ) -> None:
            r = documented(client.get("/v1/keys", headers={"Authorization": f"Bearer {key[1]}"}))
            assert r.status_code == 401, r.text
            again = documented(client.delete(f"/v1/keys/{key[0]}", headers=owner))
            assert again.status_code == 409, again.text

        @rule(target=members, role=roles, join=st.booleans())
        def invite(self, role: str, join: bool) -> str:
            email = f"{target.unique('member')}@throwaway.test"
            r = documented(
                client.post("/v1/team/members", json={"email": email, "role": role}, headers=owner)
            )
            assert r.status_code == 201, r.text
            member_id: str = r.json()["data"]["id"]
            if join:
                token = r.json()["invite_token"]
                accepted = documented(
                    client.post("/v1/team/invitations/accept", json={"token": token})
                )
                assert accepted.status_code == 201, accepted.text
            return member_id

        @rule(member=members, role=roles)
        def change_role(self, member: str, role: str) -> None:
            r = documented(
                client.patch(f"/v1/team/members/{member}", json={"role": role}, headers=owner)
            )
            assert r.status_code == 200, r.text
            assert r.json()["data"]["role"] == role

        @rule(member=consumes(members))
        def remove(self, member: str) -> None:
            r = documented(client.delete(f"/v1/team/members/{member}", headers=owner))
            assert r.status_code == 204, r.text
            self.gone.add(member)
            r = documented(client.get(f"/v1/team/members/{member}", headers=owner))
            assert r.status_code == 404, r.text

        @invariant()
        def the_lists_show_what_was_done(self) -> None:
            keys = documented(client.get("/v1/keys", headers=owner)).json()["data"]
            revoked = {k["id"] for k in keys if k["revoked_at"] is not None}
            assert self.dead <= revoked
            assert not self.live & revoked
            assert self.live <= {k["id"] for k in keys}
            listed = documented(client.get("/v1/team/members", headers=owner)).json()["data"]
            assert not self.gone & {m["id"] for m in listed}

    run_state_machine_as_test(
        Team,
        settings=settings(
            max_examples=15,
            stateful_step_count=10,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
