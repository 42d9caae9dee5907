"""`GET /v1/{org}/admin/get_prompt_logs/`: a zip of rendered prompts, per-log permissions."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import pytest
from sqlalchemy import insert

from sqlgate.auth.principal import authenticate
from sqlgate.auth.scopes import Role
from sqlgate.nl.prompts import PromptRecord
from sqlgate.services import orgs
from sqlgate.store.models import PromptLog
from tests.conftest import Env, open_env


@pytest.fixture(scope="module")
def penv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield from open_env(tmp_path_factory.mktemp("prompts"))


@pytest.fixture(scope="module")
def admin_key(penv: Env) -> str:
    services = penv.org.services
    token = services.team.invite(None, penv.org.id, "adm@acme.test", Role.ADMIN).token
    return services.team.accept(token, key_name="admin").key.api_key


def _download(penv: Env, key: str, prefix: str, org: str | None = None) -> zipfile.ZipFile:
    r = penv.client.get(
        f"/v1/{org or penv.org.slug}/admin/get_prompt_logs/",
        params={"prompt_log_prefix": prefix},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(r.content))


def test_logs_by_prefix_with_history_and_per_log_permissions(penv: Env, admin_key: str) -> None:
    services = penv.org.services
    owner = authenticate(services.store, penv.org.key)
    admin = authenticate(services.store, admin_key)
    services.prompt_logs.record(
        admin, PromptRecord("day1/q_a/generate-1", "You write SQL.", ["Q: total?", "A: SELECT 1"])
    )
    services.prompt_logs.record(admin, PromptRecord("day1/q_a/intent", "Classify.", []))
    services.prompt_logs.record(owner, PromptRecord("day1/q_b/generate-1", "secret prompt", ["x"]))
    services.prompt_logs.record(admin, PromptRecord("day2/q_c/generate-1", "later", []))

    archive = _download(penv, admin_key, "day1/")
    assert sorted(archive.namelist()) == [
        "day1/q_a/generate-1-history",
        "day1/q_a/generate-1-system",
        "day1/q_a/intent-system",
        "day1/q_b/generate-1-error",
    ]
    assert archive.read("day1/q_a/generate-1-system") == b"You write SQL."
    assert archive.read("day1/q_a/generate-1-history") == b"Q: total?\n---\nA: SELECT 1"
    assert b"owner" in archive.read("day1/q_b/generate-1-error")
    assert archive.testzip() is None  # every member's CRC checks out

    # The owner reads everything, the owner's own log included.
    names = _download(penv, penv.org.key, "day1/q_b").namelist()
    assert sorted(names) == ["day1/q_b/generate-1-history", "day1/q_b/generate-1-system"]


def test_prefix_is_literal_and_empty_results_are_a_valid_zip(penv: Env, admin_key: str) -> None:
    admin = authenticate(penv.org.services.store, admin_key)
    penv.org.services.prompt_logs.record(admin, PromptRecord("100%_done/x", "s", []))
    penv.org.services.prompt_logs.record(admin, PromptRecord("100abc/x", "s", []))
    assert _download(penv, admin_key, "100%_").namelist() == ["100%_done/x-system"]
    assert _download(penv, admin_key, "no-such-prefix").namelist() == []


def test_at_most_1000_logs(penv: Env) -> None:
    store = penv.org.services.store
    with store.session() as session:
        session.execute(
            insert(PromptLog),
            [
                {"org_id": penv.org.id, "log_key": f"bulk/{i:05d}", "member_role": "viewer",
                 "system": "s", "history": {"prompts": []}}
                for i in range(1005)
            ],
        )  # fmt: skip
    names = _download(penv, penv.org.key, "bulk/").namelist()
    assert len(names) == 1000 and names[0] == "bulk/00000-system"


def test_other_organizations_logs_never_appear(penv: Env) -> None:
    other = orgs.create_organization(
        penv.org.services.store, name="Elsewhere", owner_email="e@else.test"
    )
    assert other.key is not None
    theirs = authenticate(penv.org.services.store, other.key.api_key)
    penv.org.services.prompt_logs.record(theirs, PromptRecord("day1/theirs", "private", []))
    assert "day1/theirs-system" not in _download(penv, penv.org.key, "day1/").namelist()
    # Their key on our organization's path is a 404; on their own path it finds their log.
    r = penv.client.get(
        f"/v1/{penv.org.slug}/admin/get_prompt_logs/",
        params={"prompt_log_prefix": "day1/"},
        headers={"Authorization": f"Bearer {other.key.api_key}"},
    )
    assert r.status_code == 404
    assert _download(penv, other.key.api_key, "day1/", org="elsewhere").namelist() == [
        "day1/theirs-system"
    ]


@pytest.mark.parametrize(
    "params", [{}, {"prompt_log_prefix": ""}, {"prompt_log_prefix": "x" * 201}]
)
def test_bad_prefixes_are_422(penv: Env, params: dict[str, str]) -> None:
    r = penv.client.get(
        f"/v1/{penv.org.slug}/admin/get_prompt_logs/",
        params=params,
        headers={"Authorization": f"Bearer {penv.org.key}"},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"


def test_viewers_and_editors_are_refused(penv: Env) -> None:
    token = penv.org.services.team.invite(None, penv.org.id, "ed@acme.test", Role.EDITOR).token
    key = penv.org.services.team.accept(token, key_name="e").key.api_key
    r = penv.client.get(
        f"/v1/{penv.org.slug}/admin/get_prompt_logs/",
        params={"prompt_log_prefix": "day1/"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 403
