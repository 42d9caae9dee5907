"""Two real `sqlgate serve` processes sharing one data dir and the local Redis: the request
budgets and the concurrent-query cap hold across both (no over-admission)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from sqlgate.container import Services
from sqlgate.services import orgs
from sqlgate.settings import Settings
from tests.conftest import CHINOOK_SQLITE
from tests.redis_services import RedisSpace, redis_space
from tests.test_server import free_port, start_servers

pytestmark = pytest.mark.server

KEY_BUDGET = 10  # per key, route group "query"
ORG_BUDGET = 12  # per organization, route group "default" (e.g. GET /v1/connections)
CAP = 2  # running queries of the organization "capped-co"

ENDLESS = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r"
MANY_ROWS = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n FROM r"


@dataclass
class Cluster:
    bases: list[str]
    redis: RedisSpace
    acme: str  # org id
    capped: str  # org id
    keys: dict[str, str] = field(default_factory=dict)

    def running(self, org_id: str) -> int:
        return self.redis.running(org_id)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    data_dir = tmp_path_factory.mktemp("two-processes")
    with redis_space() as space:
        services = Services.build(Settings(data_dir=data_dir))
        try:
            acme = orgs.init_organization(services.store, name="Acme", owner_email="o@acme.test")
            capped = orgs.create_organization(
                services.store, name="Capped Co", owner_email="o@capped.test"
            )
            assert capped.org_slug == "capped-co"
            keys: dict[str, str] = {}
            for org, names in ((acme, ["budget", "a1", "a2", "a3"]), (capped, ["c1", "c2", "c3"])):
                services.connections.create(
                    org.org_id,
                    name="chinook",
                    type="sqlite",
                    database=str(CHINOOK_SQLITE),
                    trusted_path=True,
                )
                for name in names:
                    keys[name] = orgs.create_key(services.store, org.org_id, name=name).api_key
        finally:
            services.close()
        env = {
            "SQLGATE_REDIS_URL": space.url,
            "SQLGATE_REDIS_KEY_PREFIX": space.prefix,
            "SQLGATE_RATE_LIMITS": f'{{"query": "{KEY_BUDGET}/minute"}}',
            "SQLGATE_ORG_RATE_LIMITS": f'{{"default": "{ORG_BUDGET}/minute"}}',
            "SQLGATE_ORG_MAX_CONCURRENT_QUERIES": "50",
            "SQLGATE_ORG_MAX_CONCURRENT_QUERIES_BY_ORG": f'{{"capped-co": {CAP}}}',
        }
        started = start_servers(data_dir, 2, env={"SQLGATE_RATE_LIMIT_ENABLED": "true", **env})
        procs = [proc for proc, _ in started]
        try:
            yield Cluster([base for _, base in started], space, acme.org_id, capped.org_id, keys)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGINT)
            for proc in procs:
                try:
                    proc.communicate(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.communicate()


def at_once(n: int, call: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    """``n`` calls released together from ``n`` threads."""
    start = threading.Barrier(n)

    def run(i: int) -> httpx.Response:
        start.wait()
        return call(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def refusals(responses: list[httpx.Response], budget: str) -> list[httpx.Response]:
    refused = [r for r in responses if r.status_code != 200]
    for r in refused:
        assert r.status_code == 429, r.text
        error = r.json()["error"]
        assert error["code"] == "rate_limit_exceeded" and error["budget"] == budget, error
        assert r.headers["Retry-After"] == str(error["retry_after"])
        assert 1 <= int(r.headers["Retry-After"]) <= 60
    return refused


def post_query(base: str, key: str, sql: str = "SELECT 1", **body: Any) -> httpx.Response:
    return httpx.post(
        f"{base}/api/v1/query/chinook",
        headers={"X-API-Key": key},
        json={"query": sql, **body},
        timeout=30,
    )


def test_key_budget_holds_across_two_processes(cluster: Cluster) -> None:
    key = cluster.keys["budget"]
    responses = at_once(3 * KEY_BUDGET, lambda i: post_query(cluster.bases[i % 2], key))
    assert sum(r.status_code == 200 for r in responses) == KEY_BUDGET
    assert len(refusals(responses, "key")) == 2 * KEY_BUDGET
    # Half went to each process; with a budget per process, up to 2 * KEY_BUDGET would pass.
    for base in cluster.bases:
        assert sum(str(r.url).startswith(base) for r in responses) == 3 * KEY_BUDGET // 2


def test_org_budget_holds_across_two_processes(cluster: Cluster) -> None:
    keys = [cluster.keys["a1"], cluster.keys["a2"], cluster.keys["a3"]]

    def list_connections(i: int) -> httpx.Response:
        return httpx.get(
            f"{cluster.bases[i % 2]}/v1/connections",
            headers={"Authorization": f"Bearer {keys[i % 3]}"},
            timeout=30,
        )

    responses = at_once(3 * ORG_BUDGET, list_connections)
    assert sum(r.status_code == 200 for r in responses) == ORG_BUDGET
    refused = refusals(responses, "org")
    assert len(refused) == 2 * ORG_BUDGET
    assert "organization's budget" in refused[0].json()["error"]["message"]


def wait_for(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_concurrency_cap_holds_across_two_processes(cluster: Cluster) -> None:
    first, second = cluster.bases
    keys = cluster.keys
    with ThreadPoolExecutor(2) as pool:
        # One slow query on each process takes the organization's two slots.
        slow = [
            pool.submit(post_query, base, keys[k], ENDLESS, timeout=3)
            for base, k in ((first, "c1"), (second, "c2"))
        ]
        wait_for(lambda: cluster.running(cluster.capped) == CAP)
        started = time.monotonic()
        responses = at_once(6, lambda i: post_query(cluster.bases[i % 2], keys["c3"]))
        assert time.monotonic() - started < 2  # refused at once, not queued
        assert len(refusals(responses, "org_concurrency")) == 6
        # Another organization is not affected.
        assert post_query(first, keys["a1"]).status_code == 200
        outcomes = [f.result(timeout=30) for f in slow]
    assert [r.json()["error"]["code"] for r in outcomes] == ["timeout", "timeout"]
    assert cluster.running(cluster.capped) == 0
    assert post_query(second, keys["c3"]).status_code == 200


def test_export_holds_its_slot_until_the_stream_ends_or_the_client_goes(cluster: Cluster) -> None:
    base = cluster.bases[0]
    key = cluster.keys["c1"]

    def export(sql: str) -> httpx.Response:
        return httpx.post(
            f"{base}/api/v1/query/chinook/export",
            params={"format": "csv"},
            headers={"X-API-Key": key},
            json={"query": sql, "timeout": 30},
            timeout=30,
        )

    # To the end: the slot is given back once the last byte is sent.
    done = export("SELECT n FROM (" + MANY_ROWS + ") LIMIT 200000")
    assert done.status_code == 200 and len(done.text.splitlines()) == 200001
    wait_for(lambda: cluster.running(cluster.capped) == 0, seconds=5)

    # Endless rows; the client reads a little and hangs up.
    with httpx.Client(timeout=30) as client:
        request = client.build_request(
            "POST",
            f"{base}/api/v1/query/chinook/export",
            params={"format": "csv"},
            headers={"X-API-Key": key},
            json={"query": MANY_ROWS, "timeout": 30},
        )
        response = client.send(request, stream=True)
        assert response.status_code == 200
        chunks = response.iter_bytes()
        assert next(chunks).startswith(b'"n"')
        time.sleep(0.3)  # the server is blocked on a full socket now, still streaming
        assert cluster.running(cluster.capped) == 1
        response.close()
    hung_up = time.monotonic()
    wait_for(lambda: cluster.running(cluster.capped) == 0, seconds=10)
    assert time.monotonic() - hung_up < 5  # the disconnect, not the 30 s timeout, freed it
    assert post_query(base, cluster.keys["c2"]).status_code == 200


def test_serve_refuses_an_invalid_limit_at_start_up(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sqlgate", "serve", "--port", str(free_port()),
         "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SQLGATE_ORG_RATE_LIMITS": '{"query": "100/minit"}'},
        check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "SQLGATE_ORG_RATE_LIMITS, route group 'query': '100/minit' is not a rate limit" in (
        result.stderr
    )
