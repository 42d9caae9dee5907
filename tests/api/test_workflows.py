"""Workflows in process: definitions, validation, manual runs with webhooks received by a local
HTTP server, conditions, owners, SSRF refusals, and the scheduler stepped through time."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sqlgate.library.webhooks import HostPolicy
from sqlgate.library.workflow_spec import next_time
from sqlgate.services import orgs
from sqlgate.store.models import Member, Workflow, WorkflowRun, new_id
from tests.conftest import Env, open_env
from tests.webhook_receiver import webhook_receiver

SQL = "SELECT COUNT(*) AS n, SUM(amount) AS revenue FROM orders"


@pytest.fixture(scope="module")
def wenv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield from open_env(
        tmp_path_factory.mktemp("workflows"),
        webhook_hosts="127.0.0.1",
        scheduler_interval=0.2,
        workflow_stale_seconds=2.0,
    )


def _h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _create(env: Env, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    r = env.client.post("/v1/workflows", json=body, headers=_h(key or env.org.key))
    assert r.status_code == 201, r.text
    return r.json()["data"]


def _run(env: Env, wf_id: str, key: str | None = None) -> dict[str, Any]:
    """Trigger by hand and wait for the run to finish."""
    r = env.client.post(f"/v1/workflows/{wf_id}/run", headers=_h(key or env.org.key))
    assert r.status_code == 202, r.text
    run = r.json()["data"]
    assert run["status"] == "queued" and run["trigger"] == "manual"
    deadline = time.monotonic() + 30
    while True:
        r = env.client.get(f"/v1/workflows/{wf_id}/runs/{run['run_id']}", headers=_h(env.org.key))
        assert r.status_code == 200, r.text
        run = r.json()["data"]
        if run["status"] not in ("queued", "running"):
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.05)


def _flow(url: str, *, secret: str | None = "s3cret", **condition: Any) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [{"type": "query", "connection_id": "duck", "sql": SQL}]
    if condition:
        steps.append({"type": "condition", **condition})
    hook: dict[str, Any] = {"type": "webhook", "url": url, "rows": 5}
    if secret:
        hook["secret"] = secret
    steps.append(hook)
    return {"name": "Revenue alert", "steps": steps}


def test_manual_run_delivers_a_signed_webhook(wenv: Env) -> None:
    with webhook_receiver() as hook:
        wf = _create(wenv, _flow(hook.url, column="n", op=">", value=0))
        assert wf["trigger"] == {"type": "manual"} and wf["next_run_at"] is None
        assert wf["steps"][2]["secret_set"] is True and "secret" not in wf["steps"][2]
        assert "secret_enc" not in str(wf)
        run = _run(wenv, wf["workflow_id"])
        assert run["status"] == "succeeded", run
        [got] = hook.deliveries()
    assert got.signed_with("s3cret") and not got.signed_with("other")
    assert got.headers["x-sqlgate-delivery"] == f"{run['run_id']}.2"
    body = got.json
    assert body["run_id"] == run["run_id"] and body["workflow_name"] == "Revenue alert"
    assert body["result"]["columns"] == ["n", "revenue"] and body["result"]["row_count"] == 1
    assert "Revenue alert" in body["text"]
    query, cond, sent = run["steps"]
    assert query["status"] == "succeeded" and query["row_count"] == 1
    assert cond["result"] is True
    assert sent["deliveries"][0]["attempts"][0]["status_code"] == 200
    assert all(s["duration_ms"] >= 0 for s in run["steps"])


def test_a_500_is_retried_with_the_same_delivery_id(wenv: Env) -> None:
    with webhook_receiver() as hook:
        hook.statuses = [500, 503]
        wf = _create(wenv, _flow(hook.url))
        run = _run(wenv, wf["workflow_id"])
        got = hook.deliveries()
    assert run["status"] == "succeeded", run
    assert len(got) == 3
    assert len({g.headers["x-sqlgate-delivery"] for g in got}) == 1
    assert all(g.signed_with("s3cret") for g in got)
    attempts = run["steps"][-1]["deliveries"][0]["attempts"]
    assert [a["status_code"] for a in attempts] == [500, 503, 200]


def test_a_receiver_that_keeps_failing_fails_the_run(wenv: Env) -> None:
    with webhook_receiver() as hook:
        hook.statuses = [500] * 10
        body = _flow(hook.url)
        body["steps"][-1]["retries"] = 1
        run = _run(wenv, _create(wenv, body)["workflow_id"])
    assert run["status"] == "failed"
    assert run["error"]["code"] == "delivery_failed" and "HTTP 500" in run["error"]["message"]
    assert len(run["steps"][-1]["deliveries"][0]["attempts"]) == 2


def test_a_false_condition_skips_the_rest(wenv: Env) -> None:
    with webhook_receiver() as hook:
        wf = _create(wenv, _flow(hook.url, column="revenue", op="<", value=-1))
        run = _run(wenv, wf["workflow_id"])
        assert hook.deliveries() == []
    assert run["status"] == "skipped"
    assert run["steps"][1]["result"] is False
    assert run["steps"][2]["status"] == "skipped"


@pytest.mark.parametrize(
    "condition",
    [
        {"row_count": {"op": "=", "value": 1}},
        {"any": [{"column": "n", "op": "<", "value": 0}, {"row_count": {"op": ">", "value": 0}}]},
        {
            "all": [
                {"column": "n", "op": ">=", "value": 1},
                {"column": "revenue", "op": "!=", "value": None},
            ]
        },
    ],
)
def test_conditions_that_hold(wenv: Env, condition: dict[str, Any]) -> None:
    with webhook_receiver() as hook:
        run = _run(wenv, _create(wenv, _flow(hook.url, **condition))["workflow_id"])
        assert len(hook.deliveries()) == 1
    assert run["status"] == "succeeded", run


def test_a_condition_on_a_missing_column_fails_clearly(wenv: Env) -> None:
    with webhook_receiver() as hook:
        wf = _create(wenv, _flow(hook.url, column="nope", op="=", value=1))
        run = _run(wenv, wf["workflow_id"])
    assert run["status"] == "failed"
    assert "no column 'nope'" in run["error"]["message"]


def test_loopback_is_refused_unless_allowed() -> None:
    with pytest.raises(Exception, match="not a public address"):
        HostPolicy.parse("").address("127.0.0.1", 80)
    with pytest.raises(Exception, match="not a public address"):
        HostPolicy.parse("").address("localhost", 80)
    for private in ("10.1.2.3", "192.168.0.1", "169.254.169.254", "::1", "::ffff:127.0.0.1"):
        with pytest.raises(Exception, match="not a public address"):
            HostPolicy.parse("").address(private, 80)
    assert HostPolicy.parse("10.0.0.0/8").address("10.1.2.3", 80) == "10.1.2.3"
    assert HostPolicy.parse("localhost").address("localhost", 80) in ("127.0.0.1", "::1")
    assert HostPolicy.parse("").address("8.8.8.8", 80) == "8.8.8.8"


def test_ssrf_targets_are_refused(tmp_path: Path) -> None:
    for env in open_env(tmp_path):  # no SQLGATE_WEBHOOK_HOSTS: public addresses only
        with webhook_receiver() as hook:
            # an address in the URL: refused when the workflow is written
            for url in (hook.url, "http://169.254.169.254/latest/meta-data", "http://[::1]:80/"):
                r = env.client.post("/v1/workflows", json=_flow(url), headers=_h(env.org.key))
                assert r.status_code == 422, r.text
                [problem] = r.json()["error"]["details"]
                assert problem["field"] == "steps.1.url"
                assert "SQLGATE_WEBHOOK_HOSTS" in problem["message"]
            # a name: refused when the delivery resolves it, before anything is sent
            by_name = hook.url.replace("127.0.0.1", "localhost")
            run = _run(env, _create(env, _flow(by_name))["workflow_id"])
            assert hook.deliveries() == []
        assert run["status"] == "failed"
        assert run["error"]["code"] == "authorization_error"
        assert "not a public address" in run["error"]["message"]


def test_malformed_bodies_list_every_problem(wenv: Env) -> None:
    body = {
        "name": "",
        "colour": "red",
        "trigger": {"type": "schedule", "cron": "61 * * * *", "timezone": "Mars/Olympus"},
        "steps": [
            {"type": "condition", "column": "x", "op": "~", "value": 1},
            {"type": "query", "connection_id": "duck", "sql": "DELETE FROM orders"},
            {"type": "webhook", "url": "ftp://example.com", "retries": 99},
            {"type": "teleport"},
        ],
    }
    r = wenv.client.post("/v1/workflows", json=body, headers=_h(wenv.org.key))
    assert r.status_code == 422, r.text
    fields = {d["field"] for d in r.json()["error"]["details"]}
    assert {
        "name",
        "colour",
        "trigger.cron",
        "trigger.timezone",
        "steps.0",
        "steps.0.op",
        "steps.1.sql",
        "steps.2.url",
        "steps.2.retries",
        "steps.3.type",
    } <= fields, fields
    for bad in ([], "x", {"name": "x", "steps": []}, {"name": "x", "steps": [{}]}):
        r = wenv.client.post("/v1/workflows", json=bad, headers=_h(wenv.org.key))
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["error"]["code"] == "validation_error"


def test_crud_and_cross_org_404(wenv: Env) -> None:
    body = {
        "name": "Weekday report",
        "trigger": {"type": "schedule", "cron": "0 8 * * 1-5", "timezone": "Europe/Berlin"},
        "steps": [{"type": "query", "connection_id": "duck", "sql": SQL}],
    }
    wf = _create(wenv, body)
    due = datetime.fromisoformat(wf["next_run_at"])
    local = due.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin"))
    assert (local.hour, local.minute) == (8, 0) and local.isoweekday() <= 5
    wf_id = wf["workflow_id"]
    r = wenv.client.patch(
        f"/v1/workflows/{wf_id}", json={"enabled": False}, headers=_h(wenv.org.key)
    )
    assert r.status_code == 200 and r.json()["data"]["next_run_at"] is None
    r = wenv.client.get("/v1/workflows", params={"limit": 1}, headers=_h(wenv.org.key))
    assert r.status_code == 200 and len(r.json()["data"]) == 1 and r.json()["next_cursor"]
    other = orgs.create_organization(wenv.org.services.store, name="Other", owner_email="o@x.test")
    assert other.key is not None
    theirs = _h(other.key.api_key)
    for method, path in (
        ("GET", f"/v1/workflows/{wf_id}"),
        ("PATCH", f"/v1/workflows/{wf_id}"),
        ("DELETE", f"/v1/workflows/{wf_id}"),
        ("POST", f"/v1/workflows/{wf_id}/run"),
        ("GET", f"/v1/workflows/{wf_id}/runs"),
    ):
        kw = {"json": {"name": "stolen"}} if method == "PATCH" else {}
        r = wenv.client.request(method, path, headers=theirs, **kw)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["error"]["code"] == "not_found"
    r = wenv.client.delete(f"/v1/workflows/{wf_id}", headers=_h(wenv.org.key))
    assert r.status_code == 204
    assert wenv.client.get(f"/v1/workflows/{wf_id}", headers=_h(wenv.org.key)).status_code == 404


def test_a_patch_keeps_the_secret_of_the_same_url(wenv: Env) -> None:
    with webhook_receiver() as hook:
        wf = _create(wenv, _flow(hook.url))
        r = wenv.client.patch(
            f"/v1/workflows/{wf['workflow_id']}",
            json={"steps": _flow(hook.url, secret=None)["steps"]},
            headers=_h(wenv.org.key),
        )
        assert r.status_code == 200 and r.json()["data"]["steps"][-1]["secret_set"] is True
        _run(wenv, wf["workflow_id"])
        [got] = hook.deliveries()
    assert got.signed_with("s3cret")


def _member(env: Env, role: str) -> tuple[str, str]:
    email = f"{new_id('m')}@acme.test"
    with env.org.services.store.session() as session:
        member = Member(id=new_id("mem"), org_id=env.org.id, email=email, role=role)
        session.add(member)
        member_id = member.id
    return member_id, orgs.create_key(
        env.org.services.store, env.org.id, name=role, member_email=email
    ).api_key


def test_runs_use_the_owner_as_they_are_today(wenv: Env) -> None:
    member_id, key = _member(wenv, "editor")
    wf = _create(
        wenv,
        {"name": "mine", "steps": [{"type": "query", "connection_id": "duck", "sql": SQL}]},
        key,
    )
    assert wf["owner_id"] == member_id
    assert _run(wenv, wf["workflow_id"])["status"] == "succeeded"
    with wenv.org.services.store.session() as session:
        session.get(Member, member_id).role = "viewer"  # type: ignore[union-attr]
    run = _run(wenv, wf["workflow_id"])
    assert run["status"] == "failed" and "viewer role" in run["error"]["message"]
    with wenv.org.services.store.session() as session:
        session.delete(session.get(Member, member_id))
    run = _run(wenv, wf["workflow_id"])
    assert run["status"] == "failed" and "no longer a member" in run["error"]["message"]


def test_a_viewer_may_not_create_or_run(wenv: Env) -> None:
    _, key = _member(wenv, "viewer")
    r = wenv.client.post("/v1/workflows", json={"name": "x"}, headers=_h(key))
    assert r.status_code == 403
    r = wenv.client.get("/v1/workflows", headers=_h(key))
    assert r.status_code == 200


# --- the scheduler, with its clock stepped by hand -----------------------------------------------


def test_dst_transitions_are_computed_in_the_zone() -> None:
    trigger = {"type": "schedule", "cron": "30 2 * * *", "timezone": "Europe/Berlin"}
    # 2026-03-29: clocks jump from 02:00 to 03:00 in Berlin; 02:30 does not exist that day.
    spring = next_time(trigger, datetime(2026, 3, 28, 12, tzinfo=UTC))
    assert spring == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST
    after = next_time(trigger, spring)  # type: ignore[arg-type]
    assert after == datetime(2026, 3, 30, 0, 30, tzinfo=UTC)  # 02:30 CEST
    daily = {"type": "schedule", "cron": "0 8 * * *", "timezone": "Europe/Berlin"}
    before = next_time(daily, datetime(2026, 10, 24, 12, tzinfo=UTC))
    later = next_time(daily, before)  # type: ignore[arg-type]
    assert before == datetime(2026, 10, 25, 7, 0, tzinfo=UTC)  # 08:00 CET, the day it ends
    assert later == datetime(2026, 10, 26, 7, 0, tzinfo=UTC)
    autumn = {"type": "schedule", "cron": "30 2 * * *", "timezone": "Europe/Berlin"}
    # 02:30 happens twice on 2026-10-25: it runs once.
    first = next_time(autumn, datetime(2026, 10, 24, 12, tzinfo=UTC))
    assert next_time(autumn, first) > first + timedelta(hours=23)  # type: ignore[arg-type,operator]


def test_the_scheduler_fires_once_per_time_and_records_missed_ones(tmp_path: Path) -> None:
    for env in open_env(
        tmp_path, workflow_workers=0, scheduler_interval=3600, workflow_grace_seconds=60
    ):
        engine = env.org.services.workflow_engine
        engine.stop()  # this test looks for due workflows itself, with its own clock
        now = [datetime(2030, 1, 7, 7, 59, 59, tzinfo=UTC)]
        engine.clock = lambda: now[0]  # noqa: B023 (one env: the loop runs once)
        body = {
            "name": "every minute",
            "trigger": {"type": "schedule", "cron": "* * * * *", "timezone": "UTC"},
            "steps": [{"type": "query", "connection_id": "duck", "sql": "SELECT 1"}],
        }
        wf_id = _create(env, body)["workflow_id"]
        with env.org.services.store.session() as session:
            session.get(Workflow, wf_id).next_run_at = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)  # type: ignore[union-attr]
        assert engine.tick() == 0
        now[0] = datetime(2030, 1, 7, 8, 0, 1, tzinfo=UTC)
        assert engine.tick() == 1
        assert engine.tick() == 0  # the same time never fires twice
        now[0] = datetime(2030, 1, 7, 8, 5, 30, tzinfo=UTC)  # 8:01..8:05 due; 8:05 within grace
        assert engine.tick() == 1
        with env.org.services.store.session() as session:
            runs = session.execute(
                select(WorkflowRun.scheduled_for, WorkflowRun.status)
                .where(WorkflowRun.workflow_id == wf_id)
                .order_by(WorkflowRun.scheduled_for)
            ).all()
        minutes = [(r.scheduled_for.minute, r.status) for r in runs]
        assert minutes == [
            (0, "queued"),
            (1, "missed"),
            (2, "missed"),
            (3, "missed"),
            (4, "missed"),
            (5, "queued"),
        ]
        now[0] = datetime(
            2030, 1, 7, 9, 0, 30, tzinfo=UTC
        )  # 8:06..9:00 all older than grace except 9:00
        assert engine.tick() == 1
        hourly = {"trigger": {"type": "schedule", "cron": "0 * * * *", "timezone": "UTC"}}
        r = env.client.patch(f"/v1/workflows/{wf_id}", json=hourly, headers=_h(env.org.key))
        assert r.status_code == 200, r.text
        with env.org.services.store.session() as session:
            session.get(Workflow, wf_id).next_run_at = datetime(2030, 1, 7, 10, 0, tzinfo=UTC)  # type: ignore[union-attr]
        now[0] = datetime(2030, 1, 7, 11, 2, 0, tzinfo=UTC)
        assert engine.tick() == 0  # 11:00 is two minutes late, beyond the grace: missed
        with env.org.services.store.session() as session:
            late = session.scalars(
                select(WorkflowRun.status).where(
                    WorkflowRun.workflow_id == wf_id,
                    WorkflowRun.scheduled_for >= datetime(2030, 1, 7, 10, tzinfo=UTC),
                )
            ).all()
            following = session.get(Workflow, wf_id).next_run_at  # type: ignore[union-attr]
        assert sorted(late) == ["missed", "missed"]
        assert following == datetime(2030, 1, 7, 12, 0, tzinfo=UTC)


def test_cancel_stops_a_run_before_its_next_step(wenv: Env) -> None:
    with webhook_receiver() as slow, webhook_receiver() as after:
        slow.delay = 2
        body = _flow(slow.url)
        body["steps"].append({"type": "webhook", "url": after.url})
        wf_id = _create(wenv, body)["workflow_id"]
        r = wenv.client.post(f"/v1/workflows/{wf_id}/run", headers=_h(wenv.org.key))
        run_id = r.json()["data"]["run_id"]
        deadline = time.monotonic() + 20
        while not slow.deliveries():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        path = f"/v1/workflows/{wf_id}/runs/{run_id}"
        r = wenv.client.post(f"{path}/cancel", headers=_h(wenv.org.key))
        assert r.status_code == 200, r.text
        assert r.json()["data"]["status"] == "canceled"
        time.sleep(3)  # the slow delivery ends; the next step must not start
        assert after.deliveries() == []
    run = wenv.client.get(path, headers=_h(wenv.org.key)).json()["data"]
    assert run["status"] == "canceled" and run["error"]["code"] == "canceled"
    r = wenv.client.post(f"{path}/cancel", headers=_h(wenv.org.key))
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"


def test_an_export_step_writes_the_result_as_a_job_the_webhook_links(wenv: Env) -> None:
    with webhook_receiver() as hook:
        body = {
            "name": "Orders export",
            "steps": [
                {"type": "query", "connection_id": "duck", "sql": "SELECT id, amount FROM orders"},
                {"type": "export", "format": "csv"},
                {"type": "webhook", "url": hook.url, "rows": 0},
            ],
        }
        run = _run(wenv, _create(wenv, body)["workflow_id"])
        assert run["status"] == "succeeded", run
        export = run["steps"][1]
        [got] = hook.deliveries()
    assert got.json["exports"] == [{k: export[k] for k in ("job_id", "format", "url")}]
    assert got.json["result"]["rows"] == [] and got.json["result"]["row_count"] > 0
    r = wenv.client.get(export["url"], params={"wait": 30}, headers=_h(wenv.org.key))
    assert r.status_code == 200, r.text
    job = r.json()
    assert job["state"] == "succeeded", json.dumps(job)
    assert job["row_count"] == got.json["result"]["row_count"]


# --- e-mail, through a real SMTP server that requires STARTTLS and a login ----------------------


def _mail_flow(to: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "name": "Daily orders",
        "steps": [
            {
                "type": "query",
                "connection_id": "duck",
                "sql": "SELECT id, amount FROM orders ORDER BY id",
            },
            {"type": "email", "to": to, "rows": 2, **extra},
        ],
    }


def test_an_email_step_sends_the_result_as_csv_over_starttls(tmp_path: Path) -> None:
    from tests.smtp_receiver import smtp_server

    with smtp_server(tmp_path) as inbox:
        for env in open_env(
            tmp_path / "data",
            smtp_url=inbox.url,
            smtp_ca_file=str(inbox.ca_file),
            smtp_from="reports@acme.test",
        ):
            wf = _create(env, _mail_flow(["ops@acme.test", "cfo@acme.test"]))
            run = _run(env, wf["workflow_id"])
            assert run["status"] == "succeeded", run
            [(rcpt, message)] = inbox.received()
            # a temporary refusal is retried with the same Message-ID
            inbox.answers = ["451 4.3.0 try later"]
            again = _run(env, wf["workflow_id"])
            assert again["status"] == "succeeded", again
            attempts = again["steps"][1]["deliveries"][0]["attempts"]
            assert [a.get("status") for a in attempts] == [None, "sent"] and "451" in attempts[0][
                "error"
            ]
            inbox.answers = ["550 5.1.1 no such user"]
            refused = _run(env, wf["workflow_id"])
            assert refused["status"] == "failed" and "550" in refused["error"]["message"]
            assert len(refused["steps"][1]["deliveries"][0]["attempts"]) == 1  # permanent: no retry
        received = inbox.received()
    assert sorted(rcpt) == ["cfo@acme.test", "ops@acme.test"]
    assert message["From"] == "reports@acme.test"
    assert message["Message-ID"] == f"<{run['run_id']}.1@acme.test>"
    assert "Daily orders" in message["Subject"]
    body = message.get_body(("plain",)).get_content()
    assert (
        body.startswith("Workflow 'Daily orders'") and "id\tamount" in body and "more rows" in body
    )
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "Daily-orders.csv"
    csv_lines = attachment.get_content().splitlines()
    assert csv_lines[0] == "id,amount" and len(csv_lines) == run["steps"][0]["row_count"] + 1
    assert received[1][1]["Message-ID"] == f"<{again['run_id']}.1@acme.test>"


def test_email_steps_need_smtp_and_good_addresses(wenv: Env) -> None:
    r = wenv.client.post(
        "/v1/workflows", json=_mail_flow(["ops@acme.test"]), headers=_h(wenv.org.key)
    )
    assert r.status_code == 422
    assert r.json()["error"]["details"] == [
        {"field": "steps.1", "message": "e-mail is not set up on this server (SQLGATE_SMTP_URL)"}
    ]
    body = _mail_flow(["not an address", "x@y.test"], subject="two\nlines", attach="pdf")
    r = wenv.client.post("/v1/workflows", json=body, headers=_h(wenv.org.key))
    fields = {d["field"] for d in r.json()["error"]["details"]}
    assert {"steps.1.to", "steps.1.subject", "steps.1.attach"} <= fields


def test_a_saved_query_step_and_the_pending_runs_cap(tmp_path: Path) -> None:
    for env in open_env(tmp_path, workflow_workers=0, workflow_max_pending_runs=2):
        services = env.org.services
        from sqlgate.auth.principal import authenticate

        owner = authenticate(services.store, env.org.key)
        duck = services.connections.get(env.org.id, "duck")
        saved = services.saved_queries.save(
            org_id=env.org.id, member_id=owner.member_id, connection_id=duck.id,
            question="how many orders?", sql="SELECT COUNT(*) AS n FROM orders", status="ok",
        )  # fmt: skip
        bad = {"name": "x", "steps": [{"type": "query", "query_id": "q_nope"}]}
        r = env.client.post("/v1/workflows", json=bad, headers=_h(env.org.key))
        assert (
            r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "steps.0.query_id"
        )
        body = {"name": "saved", "steps": [{"type": "query", "query_id": saved.id}]}
        wf_id = _create(env, body)["workflow_id"]
        path = f"/v1/workflows/{wf_id}/run"
        assert env.client.post(path, headers=_h(env.org.key)).status_code == 202
        assert env.client.post(path, headers=_h(env.org.key)).status_code == 202
        r = env.client.post(path, headers=_h(env.org.key))  # no worker runs them: 2 pending
        assert r.status_code == 429 and r.json()["error"]["budget"] == "workflow_runs"
        assert r.headers["Retry-After"] == "5"
        run = services.workflows.runs(env.org.id, wf_id, limit=1, cursor=None).items[0]
        assert services.workflow_engine.run_here(run) == "succeeded"
        done = services.workflows.get_run(env.org.id, wf_id, run.id)
        assert done.steps[0]["row_count"] == 1
