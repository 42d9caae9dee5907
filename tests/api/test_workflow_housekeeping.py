"""What keeps workflows in bounds and accountable: old runs pruned after the retention period
(finished ones only), the per-organization cap on workflows, and an audit row for every change
and every run."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from sqlgate.library.workflow_store import WorkflowStore
from sqlgate.store.models import AuditEvent, WorkflowRun, new_id
from tests.conftest import Env, open_env

QUERY = {"type": "query", "connection_id": "duck", "sql": "SELECT 1 AS one"}


def _h(env: Env) -> dict[str, str]:
    return {"X-API-Key": env.org.key}


def _create(env: Env, name: str = "w") -> str:
    r = env.client.post("/v1/workflows", json={"name": name, "steps": [QUERY]}, headers=_h(env))
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["workflow_id"])


def _add_run(env: Env, wf_id: str, status: str, age_days: float) -> str:
    created = datetime.now(UTC) - timedelta(days=age_days)
    run_id = new_id("wfr")
    with env.org.services.store.session() as session:
        session.add(
            WorkflowRun(
                id=run_id,
                org_id=env.org.id,
                workflow_id=wf_id,
                trigger="manual",
                status=status,
                steps=[],
                created_at=created,
                finished_at=None if status == "queued" else created,
            )
        )
    return run_id


def test_finished_runs_past_the_retention_period_are_pruned(tmp_path: Path) -> None:
    for env in open_env(tmp_path, workflow_workers=0, workflow_run_retention_days=30):
        wf_id = _create(env)
        old_done = _add_run(env, wf_id, "succeeded", 31)
        old_failed = _add_run(env, wf_id, "failed", 45)
        old_queued = _add_run(env, wf_id, "queued", 31)  # not finished: kept, whatever its age
        recent = _add_run(env, wf_id, "succeeded", 29)
        engine = env.org.services.workflow_engine
        assert engine.prune() == 2
        r = env.client.get(f"/v1/workflows/{wf_id}/runs", headers=_h(env))
        left = {run["run_id"] for run in r.json()["data"]}
        assert left == {old_queued, recent}
        for gone in (old_done, old_failed):
            r = env.client.get(f"/v1/workflows/{wf_id}/runs/{gone}", headers=_h(env))
            assert r.status_code == 404
        # a server that stays up prunes too (every hour): two days on, the recent run goes
        engine.clock = lambda: datetime.now(UTC) + timedelta(days=2)
        assert engine.prune() == 1
    for env in open_env(tmp_path / "keep", workflow_workers=0, workflow_run_retention_days=0):
        wf_id = _create(env)
        _add_run(env, wf_id, "succeeded", 3650)
        assert env.org.services.workflow_engine.prune() == 0  # 0 keeps them forever


def test_an_organization_has_at_most_its_cap_of_workflows(tmp_path: Path) -> None:
    for env in open_env(tmp_path, workflow_max_per_org=2):
        first = _create(env, "one")
        _create(env, "two")
        r = env.client.post(
            "/v1/workflows", json={"name": "three", "steps": [QUERY]}, headers=_h(env)
        )
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert (
            error["code"] == "validation_error"
            and "SQLGATE_WORKFLOW_MAX_PER_ORG" in (error["message"])
        )
        r = env.client.get("/v1/workflows", headers=_h(env))
        assert len(r.json()["data"]) == 2  # nothing half-written
        assert env.client.delete(f"/v1/workflows/{first}", headers=_h(env)).status_code == 204
        _create(env, "three")  # room again


def _wait_finished(env: Env, wf_id: str, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        r = env.client.get(f"/v1/workflows/{wf_id}/runs/{run_id}", headers=_h(env))
        run = r.json()["data"]
        if run["status"] not in ("queued", "running"):
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.05)


def test_changes_and_runs_leave_audit_rows(tmp_path: Path) -> None:
    for env in open_env(tmp_path, scheduler_interval=0.2):
        wf_id = _create(env)
        r = env.client.patch(f"/v1/workflows/{wf_id}", json={"name": "renamed"}, headers=_h(env))
        assert r.status_code == 200
        r = env.client.post(f"/v1/workflows/{wf_id}/run", headers=_h(env))
        run = _wait_finished(env, wf_id, r.json()["data"]["run_id"])
        assert run["status"] == "succeeded"
        r = env.client.post(f"/v1/workflows/{wf_id}/runs/{run['run_id']}/cancel", headers=_h(env))
        assert r.status_code == 409
        r = env.client.patch(f"/v1/workflows/{wf_id}", json={"name": ""}, headers=_h(env))
        assert r.status_code == 422
        assert env.client.delete(f"/v1/workflows/{wf_id}", headers=_h(env)).status_code == 204
        env.org.services.audit.flush()
        with env.org.services.store.session() as session:
            rows = session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action.like("workflow.%"))
                .order_by(AuditEvent.id)
            ).all()
            seen = [(e.action, e.status, e.target_id, e.detail) for e in rows]
    actions = [(action, status) for action, status, _target, _detail in seen]
    assert actions == [
        ("workflow.create", "ok"),
        ("workflow.update", "ok"),
        ("workflow.query", "ok"),  # the run's query, through the one query path
        ("workflow.run", "ok"),
        ("workflow.cancel", "error"),
        ("workflow.update", "error"),
        ("workflow.delete", "ok"),
    ], seen
    targets = {action: target for action, _status, target, _detail in seen}
    assert targets["workflow.run"] == wf_id and targets["workflow.delete"] == wf_id
    [ran] = [d for action, _s, _t, d in seen if action == "workflow.run"]
    assert ran == {"run_id": run["run_id"], "trigger": "manual", "status": "succeeded"}


def test_without_update_returning_runs_are_fired_and_claimed_one_by_one(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """A metadata store whose database has no ``UPDATE ... RETURNING`` (MySQL, MariaDB) takes
    the statement-by-statement way: still one run per scheduled time, each claimed once."""
    for env in open_env(tmp_path, workflow_workers=0):
        services = env.org.services
        engine = services.workflow_engine
        engine.stop()  # no scheduler thread: this test looks itself
        monkeypatch.setattr(services.store.engine.dialect, "update_returning", False)
        body = {
            "name": "every second",
            "trigger": {"type": "schedule", "cron": "* * * * * *", "timezone": "UTC"},
            "steps": [QUERY],
        }
        r = env.client.post("/v1/workflows", json=body, headers=_h(env))
        wf_id = r.json()["data"]["workflow_id"]
        later = datetime.now(UTC) + timedelta(seconds=3)
        engine.clock = lambda: later  # noqa: B023 (one env: the loop runs once)
        assert engine.tick() == 1  # the newest due time queued, the ones before it missed
        assert engine.tick() == 0
        store = WorkflowStore(services.store)
        claimed = store.claim_next(engine.identity)
        assert claimed is not None and claimed.workflow is not None
        assert claimed.workflow.id == wf_id and claimed.owner is not None
        assert store.claim_next("another process") is None
        assert engine.execute(claimed.run, claimed) == "succeeded"
        statuses = [r["status"] for r in env.client.get(
            f"/v1/workflows/{wf_id}/runs", headers=_h(env)).json()["data"]]  # fmt: skip
        assert statuses.count("succeeded") == 1 and set(statuses) <= {"succeeded", "missed"}
