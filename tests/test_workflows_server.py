"""Workflows through real `sqlgate serve` processes: a seconds-level schedule firing on time,
a created or enabled workflow firing its first time on time, a manual run answered at once, a
process killed mid-run (the run ends `interrupted` at the next start), and two processes sharing
a PostgreSQL store firing each scheduled time exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from tests.services import fresh_pg_database
from tests.test_server import prepare, start_servers
from tests.webhook_receiver import Receiver, webhook_receiver

pytestmark = pytest.mark.server

FAST = {
    "SQLGATE_WEBHOOK_HOSTS": "127.0.0.1",
    "SQLGATE_SCHEDULER_INTERVAL": "0.2",
}


def _setup(data_dir: Path, env: dict[str, str]) -> str:
    """An organization with a DuckDB connection `shop`; its owner's key."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(data_dir / "shop.duckdb")) as con:
        con.execute("CREATE TABLE sales AS SELECT range AS id, range * 10 AS amount FROM range(5)")
    init = prepare("init", "--json", data_dir=data_dir, env=env)
    assert init.returncode == 0, init.stderr
    added = prepare(
        "connections", "add", "shop", "--type", "duckdb",
        "--database", str(data_dir / "shop.duckdb"), data_dir=data_dir, env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    return str(json.loads(init.stdout)["api_key"])


@contextmanager
def _servers(
    data_dir: Path, env: dict[str, str], count: int = 1
) -> Iterator[list[tuple[subprocess.Popen[str], str]]]:
    started = start_servers(data_dir, count, env=env)
    try:
        yield started
    finally:
        for proc, _ in started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc, _ in started:
            try:
                proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextmanager
def _server(data_dir: Path, env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], str]]:
    with _servers(data_dir, env) as [started]:
        yield started


class Api:
    def __init__(self, base: str, key: str) -> None:
        self.base, self.key = base, key

    def __call__(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}"}
        return httpx.request(method, self.base + path, headers=headers, timeout=30, **kw)

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        r = self("POST", "/v1/workflows", json=body)
        assert r.status_code == 201, r.text
        return r.json()["data"]

    def runs(self, wf_id: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            r = self("GET", f"/v1/workflows/{wf_id}/runs", params=params)
            assert r.status_code == 200, r.text
            out += r.json()["data"]
            cursor = r.json()["next_cursor"]
            if cursor is None:
                return out


def _wait(what: Callable[[], Any], seconds: float, message: str) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        got = what()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(message)
        time.sleep(0.1)


def _flow(hook: Receiver, cron: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Sales alert",
        "steps": [
            {
                "type": "query",
                "connection_id": "shop",
                "sql": "SELECT SUM(amount) AS total FROM sales",
            },
            {"type": "condition", "column": "total", "op": ">", "value": 0},
            {"type": "webhook", "url": hook.url, "secret": "whsec", "timeout": 30, "retries": 0},
        ],
    }
    if cron:
        body["trigger"] = {"type": "schedule", "cron": cron, "timezone": "Europe/Berlin"}
    return body


def test_a_seconds_schedule_fires_on_time_and_a_manual_run_answers_at_once(tmp_path: Path) -> None:
    key = _setup(tmp_path, {})
    with _server(tmp_path, FAST) as (_proc, base), webhook_receiver() as hook:
        api = Api(base, key)
        wf = api.create(_flow(hook, "*/2 * * * * *"))
        got = _wait(lambda: len(hook.deliveries()) >= 3 and hook.deliveries(), 20, "no 3 fires")
        r = api("PATCH", f"/v1/workflows/{wf['workflow_id']}", json={"enabled": False})
        assert r.status_code == 200 and r.json()["data"]["next_run_at"] is None
        times = []
        for delivery in got[:3]:
            assert delivery.signed_with("whsec")
            payload = delivery.json
            assert payload["trigger"] == "schedule" and payload["result"]["rows"] == [[100]]
            when = datetime.fromisoformat(payload["scheduled_for"]).timestamp()
            assert 0 <= delivery.at - when < 1.5, (delivery.at, payload["scheduled_for"])
            times.append(when)
        assert all(t % 2 == 0 for t in times) and sorted(set(times)) == times
        started = time.monotonic()
        r = api("POST", f"/v1/workflows/{wf['workflow_id']}/run")
        assert r.status_code == 202 and time.monotonic() - started < 2, r.text
        run_id = r.json()["data"]["run_id"]

        def finished() -> dict[str, Any] | None:
            run = api("GET", f"/v1/workflows/{wf['workflow_id']}/runs/{run_id}").json()["data"]
            return run if run["status"] not in ("queued", "running") else None

        run = _wait(finished, 20, "the manual run did not finish")
        assert run["status"] == "succeeded" and run["trigger"] == "manual"
        assert run["steps"][1]["result"] is True
        manual = [d for d in hook.deliveries() if d.json["run_id"] == run_id]
        assert len(manual) == 1


def test_a_created_or_enabled_workflow_fires_its_first_time_on_time(tmp_path: Path) -> None:
    # The scheduler's own looks are 30 s apart: only the wake-up a create or an enable gives
    # it can make the first time (within a second) fire on time.
    key = _setup(tmp_path, {})
    env = {**FAST, "SQLGATE_SCHEDULER_INTERVAL": "30"}
    with _server(tmp_path, env) as (_proc, base), webhook_receiver() as hook:
        api = Api(base, key)
        time.sleep(1)  # the scheduler has looked (nothing scheduled) and sleeps
        created = time.time()
        wf = api.create(_flow(hook, "* * * * * *"))
        first = _wait(lambda: hook.deliveries(), 5, "the first time did not fire")[0]
        when = datetime.fromisoformat(first.json["scheduled_for"]).timestamp()
        assert when - created <= 1.5 and 0 <= first.at - when < 1.5, (created, when, first.at)
        path = f"/v1/workflows/{wf['workflow_id']}"
        assert api("PATCH", path, json={"enabled": False}).status_code == 200
        time.sleep(2)  # a run under way when disabled may still deliver
        count = len(hook.deliveries())
        enabled = time.time()
        assert api("PATCH", path, json={"enabled": True}).status_code == 200
        later = _wait(lambda: hook.deliveries()[count:], 5, "no fire after enabling")[0]
        when = datetime.fromisoformat(later.json["scheduled_for"]).timestamp()
        assert when - enabled <= 1.5 and 0 <= later.at - when < 1.5, (enabled, when, later.at)


def test_a_killed_server_leaves_the_run_interrupted_at_the_next_start(tmp_path: Path) -> None:
    key = _setup(tmp_path, {})
    env = {**FAST, "SQLGATE_WORKFLOW_STALE_SECONDS": "3600"}  # not waited for: the pid is gone
    with webhook_receiver() as hook:
        hook.delay = 15  # the webhook step hangs: the run is `running` when the server dies
        with _server(tmp_path, env) as (proc, base):
            api = Api(base, key)
            wf_id = api.create(_flow(hook))["workflow_id"]
            run_id = api("POST", f"/v1/workflows/{wf_id}/run").json()["data"]["run_id"]
            _wait(hook.deliveries, 20, "the webhook was never called")
            assert api.runs(wf_id)[0]["status"] == "running"
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        with _server(tmp_path, env) as (_proc, base):
            api = Api(base, key)

            def interrupted() -> dict[str, Any] | None:
                [run] = api.runs(wf_id)
                return run if run["status"] == "interrupted" else None

            run = _wait(interrupted, 3, "the run stayed running")
    assert run["run_id"] == run_id and run["finished_at"] is not None
    assert "stopped before it finished" in run["error"]["message"]


@pytest.mark.postgres
def test_two_processes_on_postgresql_fire_each_time_exactly_once(tmp_path: Path) -> None:
    with fresh_pg_database() as url:
        env = {**FAST, "SQLGATE_DATABASE_URL": url}
        key = _setup(tmp_path, env)
        with (
            webhook_receiver() as hook,
            _servers(tmp_path, env, 2) as [(_p1, first), (_p2, second)],
        ):
            api = Api(first, key)
            wf_id = api.create(_flow(hook, "* * * * * *"))["workflow_id"]
            _wait(lambda: len(hook.deliveries()) >= 20, 60, "fewer than 20 fires")
            r = Api(second, key)("PATCH", f"/v1/workflows/{wf_id}", json={"enabled": False})
            assert r.status_code == 200, r.text
            time.sleep(1.5)  # runs already queued finish
            _wait(
                lambda: all(r["status"] not in ("queued", "running") for r in api.runs(wf_id)),
                20,
                "runs did not finish",
            )
            runs = api.runs(wf_id)
            got = hook.deliveries()
    times = Counter(d.json["scheduled_for"] for d in got)
    assert len(got) >= 20 and set(times.values()) == {1}, times  # each time delivered once
    assert len({d.headers["x-sqlgate-delivery"] for d in got}) == len(got)
    scheduled = Counter(r["scheduled_for"] for r in runs)
    assert set(scheduled.values()) == {1} and len(runs) == len(got)
    assert {r["status"] for r in runs} == {"succeeded"}
    seconds = sorted(int(datetime.fromisoformat(t).timestamp()) for t in scheduled)
    assert seconds == list(range(seconds[0], seconds[0] + len(seconds)))  # no time skipped
