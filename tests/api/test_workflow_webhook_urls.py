"""A webhook's URL is a credential (a chat hook's path is its key), so it is write-only like the
secret: stored encrypted, shown only as its origin, never in run history, audit rows or logs,
and a PATCH that leaves it out keeps it."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sqlgate.services.secrets import SecretBox
from sqlgate.store.models import AuditEvent, Workflow
from tests.conftest import Env, open_env
from tests.webhook_receiver import webhook_receiver

TOKEN = "T0KEN-B1-x9f3Kq"  # what must never show: the hook's path
SQL = "SELECT COUNT(*) AS n FROM orders"


@pytest.fixture(scope="module")
def henv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield from open_env(
        tmp_path_factory.mktemp("hook-urls"), webhook_hosts="127.0.0.1", scheduler_interval=0.2
    )


def _h(env: Env) -> dict[str, str]:
    return {"X-API-Key": env.org.key}


def _run(env: Env, wf_id: str) -> dict[str, Any]:
    r = env.client.post(f"/v1/workflows/{wf_id}/run", headers=_h(env))
    assert r.status_code == 202, r.text
    path = f"/v1/workflows/{wf_id}/runs/{r.json()['data']['run_id']}"
    deadline = time.monotonic() + 30
    while True:
        run = env.client.get(path, headers=_h(env)).json()["data"]
        if run["status"] not in ("queued", "running"):
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.05)


def _body(url: str, **hook: Any) -> dict[str, Any]:
    return {
        "name": "Chat alert",
        "steps": [
            {"type": "query", "connection_id": "duck", "sql": SQL},
            {"type": "webhook", "url": url, "secret": "s3cret", **hook},
        ],
    }


def _documents(env: Env) -> str:
    with env.org.services.store.session() as session:
        return json.dumps(list(session.scalars(select(Workflow.document))))


def _audit_text(env: Env) -> str:
    env.org.services.audit.flush()
    with env.org.services.store.session() as session:
        rows = session.scalars(select(AuditEvent)).all()
        return json.dumps([[r.action, r.sql, r.detail, r.error_code] for r in rows], default=str)


def test_the_url_is_stored_encrypted_and_shown_only_as_its_origin(
    henv: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with webhook_receiver() as hook:
        url = f"{hook.url}/{TOKEN}?key={TOKEN}"
        origin = hook.url.removesuffix("/hook")
        r = henv.client.post("/v1/workflows", json=_body(url), headers=_h(henv))
        assert r.status_code == 201, r.text
        assert TOKEN not in r.text
        wf = r.json()["data"]
        step = wf["steps"][1]
        assert step["url_origin"] == origin and step["url_set"] is True
        assert step["secret_set"] is True and "url" not in step and "url_enc" not in step
        wf_id = wf["workflow_id"]
        for path in (f"/v1/workflows/{wf_id}", "/v1/workflows"):
            r = henv.client.get(path, headers=_h(henv))
            assert r.status_code == 200 and TOKEN not in r.text and origin in r.text

        stored = _documents(henv)
        assert TOKEN not in stored and "s3cret" not in stored
        with henv.org.services.store.session() as session:
            document = session.get(Workflow, wf_id).document  # type: ignore[union-attr]
        box = SecretBox(henv.settings.resolved_secret_key())
        assert box.decrypt(document["steps"][1]["url_enc"]) == url

        run = _run(henv, wf_id)  # delivered to the whole URL, path and query included
        assert run["status"] == "succeeded", run
        [got] = hook.deliveries()
        assert got.path == f"/hook/{TOKEN}?key={TOKEN}" and got.signed_with("s3cret")
        assert run["steps"][1]["deliveries"][0]["url"] == origin

        hook.statuses = [500]  # a failed delivery's error and attempts show no path either
        failing = _body(url, retries=0)
        r = henv.client.patch(f"/v1/workflows/{wf_id}", json=failing, headers=_h(henv))
        assert r.status_code == 200 and TOKEN not in r.text
        failed = _run(henv, wf_id)
        assert failed["status"] == "failed" and "HTTP 500" in failed["error"]["message"]

        runs = henv.client.get(f"/v1/workflows/{wf_id}/runs", headers=_h(henv))
        assert runs.status_code == 200 and len(runs.json()["data"]) == 2
        assert TOKEN not in runs.text
    assert TOKEN not in _audit_text(henv)
    assert TOKEN not in caplog.text


def test_a_patch_without_the_url_keeps_it_and_a_new_url_replaces_it(henv: Env) -> None:
    with webhook_receiver() as first, webhook_receiver() as second:
        r = henv.client.post("/v1/workflows", json=_body(f"{first.url}/{TOKEN}"), headers=_h(henv))
        wf_id = r.json()["data"]["workflow_id"]
        kept = {"name": "Renamed", "steps": _body("")["steps"]}
        del kept["steps"][1]["url"], kept["steps"][1]["secret"]
        kept["steps"][1]["rows"] = 1
        r = henv.client.patch(f"/v1/workflows/{wf_id}", json=kept, headers=_h(henv))
        assert r.status_code == 200, r.text
        step = r.json()["data"]["steps"][1]
        assert step["url_set"] and step["secret_set"] and step["rows"] == 1
        assert _run(henv, wf_id)["status"] == "succeeded"
        [got] = first.deliveries()
        assert got.path == f"/hook/{TOKEN}" and got.signed_with("s3cret")

        # a new URL and no secret: the secret does not follow the hook to its new address
        moved = _body(second.url)
        del moved["steps"][1]["secret"]
        r = henv.client.patch(f"/v1/workflows/{wf_id}", json=moved, headers=_h(henv))
        assert r.status_code == 200 and r.json()["data"]["steps"][1]["secret_set"] is False
        assert _run(henv, wf_id)["status"] == "succeeded"
        [got] = second.deliveries()
        assert "x-sqlgate-signature" not in got.headers and len(first.deliveries()) == 1

    # a webhook step at a position that had none must say where to send
    steps = [{"type": "query", "connection_id": "duck", "sql": SQL}, {"type": "webhook"}]
    r = henv.client.post("/v1/workflows", json={"name": "x", "steps": steps}, headers=_h(henv))
    assert r.status_code == 422
    assert r.json()["error"]["details"] == [
        {"field": "steps.1.url", "message": "required: an http:// or https:// URL"}
    ]


@pytest.mark.parametrize(
    "url", ["http://[::1", "http://127.0.0.1:port/x", "https://", "http://u:p@127.0.0.1/"]
)
def test_a_url_that_does_not_parse_is_a_422(henv: Env, url: str) -> None:
    r = henv.client.post("/v1/workflows", json=_body(url), headers=_h(henv))
    assert r.status_code == 422, r.text
    assert [d["field"] for d in r.json()["error"]["details"]] == ["steps.1.url"]


def test_plain_urls_written_before_are_sealed_at_start_and_rotated(tmp_path: Path) -> None:
    for env in open_env(tmp_path, webhook_hosts="127.0.0.1"):
        with webhook_receiver() as hook:
            r = env.client.post("/v1/workflows", json=_body(hook.url), headers=_h(env))
            wf_id = r.json()["data"]["workflow_id"]
            with env.org.services.store.session() as session:  # as an earlier version stored it
                row = session.get(Workflow, wf_id)
                assert row is not None
                query, hook_step = row.document["steps"]
                hidden = ("url_enc", "url_origin")
                legacy = {k: v for k, v in hook_step.items() if k not in hidden}
                row.document = {**row.document, "steps": [query, {**legacy, "url": hook.url}]}
            assert hook.url in _documents(env)
            shown = env.client.get(f"/v1/workflows/{wf_id}", headers=_h(env)).json()["data"]
            assert shown["steps"][1]["url_set"] is True and "url" not in shown["steps"][1]
            services = env.org.services
            assert services.workflows.seal_secrets() == (1, 0)
            assert hook.url not in _documents(env)
            assert services.workflows.seal_secrets(rotate=True) == (0, 1)  # current key already
            assert _run(env, wf_id)["status"] == "succeeded"
            [got] = hook.deliveries()
            assert got.signed_with("s3cret")
