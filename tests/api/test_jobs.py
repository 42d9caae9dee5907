"""Async queries through the app (in process): submit, poll, links, scopes, idempotency, limits.

The same features through a real `sqlgate serve` process: tests/api/test_jobs_server.py.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select, update

from sqlgate.services import orgs
from sqlgate.store.models import AuditEvent, Member, Organization, QueryJob, new_id, utcnow
from tests.conftest import Env, open_env


@pytest.fixture(scope="module")
def jenv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield from open_env(
        tmp_path_factory.mktemp("jobs"),
        async_chunk_rows=40_000,
        async_poll_seconds=0.2,
    )


def submit(env: Env, body: dict[str, Any], key: str | None = None, **headers: str) -> Any:
    return env.client.post(
        "/v1/jobs",
        json={"connection_id": "duck", **body},
        headers={**env.org.headers(key), **headers},
    )


def wait_done(env: Env, job_id: str, key: str | None = None) -> dict[str, Any]:
    until = time.monotonic() + 60
    while True:
        r = env.client.get(f"/v1/jobs/{job_id}?wait=5", headers=env.org.headers(key))
        assert r.status_code == 200, r.text
        job: dict[str, Any] = r.json()
        if job["state"] in ("succeeded", "failed", "canceled"):
            return job
        assert time.monotonic() < until, job


def test_submit_poll_download_in_chunks(jenv: Env) -> None:
    r = submit(jenv, {"query": "SELECT range AS n, 'r' || range AS s FROM range(100000)"})
    assert r.status_code == 202, r.text
    first = r.json()
    assert first["state"] in ("queued", "running", "succeeded")
    assert first["status_url"].endswith(f"/v1/jobs/{first['job_id']}")
    job = wait_done(jenv, first["job_id"])
    assert job["state"] == "succeeded", job
    result = job["result"]
    assert result["row_count"] == job["row_count"] == 100_000 and not result["truncated"]
    assert result["columns"] == [{"name": "n", "type": "BIGINT"}, {"name": "s", "type": "VARCHAR"}]
    # 40,000 rows per chunk: three files, each a complete parquet file.
    assert [c["row_count"] for c in result["chunks"]] == [40_000, 40_000, 20_000]
    seen = []
    for chunk in result["chunks"]:
        got = jenv.client.get(chunk["url"])  # no API key
        assert got.status_code == 200
        assert len(got.content) == chunk["byte_count"]
        seen += pq.read_table(io.BytesIO(got.content)).column("n").to_pylist()
    assert seen == list(range(100_000))
    # The manifest on disk says the same, and nothing temporary is left.
    job_dir = jenv.settings.data_dir / "results" / job["job_id"]
    manifest = json.loads((job_dir / "manifest.json").read_text())
    assert manifest["row_count"] == 100_000 and len(manifest["chunks"]) == 3
    assert not list(job_dir.glob(".*"))


ONE_TO_THREE = [{"x": 1}, {"x": 2}, {"x": 3}]


@pytest.mark.parametrize(
    ("fmt", "check"),
    [
        ("csv", lambda b: b.decode().splitlines() == ['"x"', "1", "2", "3"]),
        ("json", lambda b: json.loads(b) == ONE_TO_THREE),
        ("ndjson", lambda b: [json.loads(x) for x in b.splitlines()] == ONE_TO_THREE),
    ],
)
def test_other_formats(jenv: Env, fmt: str, check: Any) -> None:
    r = submit(jenv, {"query": "SELECT * FROM range(1, 4) t(x)", "format": fmt})
    job = wait_done(jenv, r.json()["job_id"])
    assert job["result"]["format"] == fmt
    got = jenv.client.get(job["result"]["chunks"][0]["url"])
    assert got.status_code == 200 and check(got.content), got.content


def test_admin_sql_query_async(jenv: Env) -> None:
    r = jenv.client.post(
        f"/v1/{jenv.org.slug}/admin/sql_query",
        json={"sql_query": "SELECT 7 AS seven", "async_query": True, "connection_id": "duck"},
        headers=jenv.org.headers(),
    )
    assert r.status_code == 202, r.text
    job = wait_done(jenv, r.json()["job_id"])
    table = pq.read_table(io.BytesIO(jenv.client.get(job["result"]["chunks"][0]["url"]).content))
    assert table.to_pylist() == [{"seven": 7}]
    audit = jenv.org.services.audit
    audit.flush()
    with jenv.org.services.store.session() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.sql == "SELECT 7 AS seven")
        ).all()
    assert actions == ["admin.sql_query.async"]  # audited once, through the query service


def test_refused_sql_is_a_422_at_once(jenv: Env) -> None:
    r = submit(jenv, {"query": "DELETE FROM users"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "sql_not_allowed"
    r = submit(jenv, {"query": "SELEC 1"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "sql_syntax_error"
    r = submit(jenv, {"query": "SELECT 1", "format": "excel"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    r = submit(jenv, {"query": "SELECT 1", "timeout": 10**9})
    assert r.status_code == 422 and r.json()["error"]["field"] == "timeout"
    r = jenv.client.post(
        "/v1/jobs", json={"query": "SELECT 1", "connection_id": "nope"}, headers=jenv.org.headers()
    )
    assert r.status_code == 404


def test_engine_errors_fail_the_job(jenv: Env) -> None:
    r = submit(jenv, {"query": "SELECT * FROM no_such_table"})
    job = wait_done(jenv, r.json()["job_id"])
    assert job["state"] == "failed" and job["error"]["code"] == "query_error"
    assert job["result"] is None
    links = jenv.client.post(f"/v1/jobs/{job['job_id']}/links", headers=jenv.org.headers())
    assert links.status_code == 409
    assert not (jenv.settings.data_dir / "results" / job["job_id"]).exists()


def test_row_limit_truncates_honestly(jenv: Env) -> None:
    r = submit(jenv, {"query": "SELECT * FROM range(1000)", "row_limit": 100})
    job = wait_done(jenv, r.json()["job_id"])
    assert job["result"]["row_count"] == 100
    assert job["result"]["truncated"] and job["result"]["truncated_by"] == "row_limit"
    r = submit(jenv, {"query": "SELECT * FROM range(100)", "row_limit": 100})
    exact = wait_done(jenv, r.json()["job_id"])
    assert exact["result"]["row_count"] == 100 and not exact["result"]["truncated"]


def test_byte_limit_truncates(tmp_path: Path) -> None:
    for env in open_env(tmp_path, async_byte_limit=100_000, async_chunk_rows=10_000):
        r = submit(env, {"query": "SELECT range AS n FROM range(1000000)", "format": "csv"})
        job = wait_done(env, r.json()["job_id"])
        result = job["result"]
        assert result["truncated"] and result["truncated_by"] == "byte_limit"
        assert 100_000 <= result["byte_count"] < 300_000
        rows = sum(len(env.client.get(c["url"]).text.splitlines()) - 1 for c in result["chunks"])
        assert rows == result["row_count"] < 1_000_000


def test_idempotent_retry(jenv: Env) -> None:
    body = {"query": "SELECT 42 AS answer", "request_id": "retry-1"}
    first = submit(jenv, body)
    again = submit(jenv, body)
    assert first.status_code == again.status_code == 202
    assert again.json()["job_id"] == first.json()["job_id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    by_header = submit(jenv, {"query": "SELECT 42 AS answer"}, **{"Idempotency-Key": "retry-1"})
    assert by_header.json()["job_id"] == first.json()["job_id"]
    other = submit(jenv, {"query": "SELECT 43", "request_id": "retry-1"})
    assert other.status_code == 409 and other.json()["error"]["code"] == "conflict"
    with jenv.org.services.store.session() as session:
        count = session.query(QueryJob).filter(QueryJob.idempotency_key == "retry-1").count()
    assert count == 1


def _member_key(env: Env, email: str, role: str, org_id: str | None = None) -> str:
    store = env.org.services.store
    with store.session() as session:
        session.add(Member(id=new_id("mem"), org_id=org_id or env.org.id, email=email, role=role))
    return orgs.create_key(store, org_id or env.org.id, name=email, member_email=email).api_key


def test_who_may_see_a_job(jenv: Env) -> None:
    job_id = submit(jenv, {"query": "SELECT 1 AS one"}).json()["job_id"]
    wait_done(jenv, job_id)
    editor = _member_key(jenv, "ed@acme.test", "editor")
    # Another member of the org without admin: as if it did not exist.
    r = jenv.client.get(f"/v1/jobs/{job_id}", headers=jenv.org.headers(editor))
    assert r.status_code == 404
    r = jenv.client.post(f"/v1/jobs/{job_id}/cancel", headers=jenv.org.headers(editor))
    assert r.status_code == 404
    mine = submit(jenv, {"query": "SELECT 2 AS two"}, key=editor).json()["job_id"]
    assert wait_done(jenv, mine, editor)["state"] == "succeeded"
    assert jenv.client.get(f"/v1/jobs/{mine}", headers=jenv.org.headers()).status_code == 200
    # Another organization: 404.
    store = jenv.org.services.store
    with store.session() as session:
        session.add(Organization(id="org_otherjobs00001", name="Other", slug="other-jobs"))
    stranger = _member_key(jenv, "x@other.test", "owner", "org_otherjobs00001")
    r = jenv.client.get(f"/v1/jobs/{job_id}", headers=jenv.org.headers(stranger))
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    # A key without query:execute: 403; no key: 401.
    validator = jenv.org.key_with("query:validate")
    r = jenv.client.get(f"/v1/jobs/{job_id}", headers=jenv.org.headers(validator))
    assert r.status_code == 403
    assert submit(jenv, {"query": "SELECT 1"}, key=validator).status_code == 403
    assert jenv.client.get(f"/v1/jobs/{job_id}").status_code == 401


def test_links_expire_and_tampering_is_refused(jenv: Env) -> None:
    job = wait_done(jenv, submit(jenv, {"query": "SELECT 5 AS five"}).json()["job_id"])
    r = jenv.client.post(
        f"/v1/jobs/{job['job_id']}/links", json={"expires_in": 1}, headers=jenv.org.headers()
    )
    assert r.status_code == 200, r.text
    url = r.json()["chunks"][0]["url"]
    assert jenv.client.get(url).status_code == 200
    for bad in (
        url.replace("signature=", "signature=A"),
        url.replace("part-00000", "part-00001"),
        url.replace("expires=", "expires=9"),
        url.split("?")[0],
    ):
        got = jenv.client.get(bad)
        assert got.status_code == 403, bad
        assert got.json()["error"]["code"] == "authorization_error"
    time.sleep(2.1)
    expired = jenv.client.get(url)
    assert expired.status_code == 403 and expired.json()["error"]["reason"] == "expired"
    # A fresh link works again.
    fresh = jenv.client.get(f"/v1/jobs/{job['job_id']}", headers=jenv.org.headers()).json()
    assert jenv.client.get(fresh["result"]["chunks"][0]["url"]).status_code == 200


def test_retention_is_410(jenv: Env) -> None:
    job = wait_done(jenv, submit(jenv, {"query": "SELECT 6 AS six"}).json()["job_id"])
    url = job["result"]["chunks"][0]["url"]
    store = jenv.org.services.store
    with store.session() as session:
        session.execute(
            update(QueryJob)
            .where(QueryJob.id == job["job_id"])
            .values(result_expires_at=utcnow() - timedelta(seconds=1))
        )
    assert jenv.client.get(url).status_code == 410
    runner = jenv.client.app.state.job_runner  # type: ignore[attr-defined]
    assert runner.enforce_retention() >= 1
    assert not (jenv.settings.data_dir / "results" / job["job_id"]).exists()
    gone = jenv.client.get(url)
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "gone"
    links = jenv.client.post(f"/v1/jobs/{job['job_id']}/links", headers=jenv.org.headers())
    assert links.status_code == 410
    after = jenv.client.get(f"/v1/jobs/{job['job_id']}", headers=jenv.org.headers()).json()
    assert after["state"] == "succeeded" and after["result"] is None


def test_hybrid_wait_on_the_query_endpoint(jenv: Env) -> None:
    r = jenv.client.post(
        "/api/v1/query/duck",
        json={"query": "SELECT * FROM range(5) t(x)", "wait_timeout": 20},
        headers=jenv.org.headers(),
    )
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == [[0], [1], [2], [3], [4]] and r.json()["row_count"] == 5
    # Too many rows to answer inline: the job.
    big = jenv.client.post(
        "/api/v1/query/duck",
        json={"query": "SELECT * FROM range(20000)", "wait_timeout": 20},
        headers=jenv.org.headers(),
    )
    assert big.status_code == 202 and big.json()["result"]["row_count"] == 20_000
    # Not finished in time: the job, still running.
    slow = jenv.client.post(
        "/api/v1/query/duck",
        json={
            "query": "SELECT count(*) FROM range(100000) a, range(100000) b "
            "WHERE a.range <> b.range",
            "wait_timeout": 0.5,
        },
        headers=jenv.org.headers(),
    )
    assert slow.status_code == 202 and slow.json()["state"] in ("queued", "running")
    jenv.client.post(f"/v1/jobs/{slow.json()['job_id']}/cancel", headers=jenv.org.headers())
    # Failed in time: the error, in the one shape.
    bad = jenv.client.post(
        "/api/v1/query/duck",
        json={"query": "SELECT * FROM missing_table", "wait_timeout": 20},
        headers=jenv.org.headers(),
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "query_error"


def test_cancel_a_queued_job(tmp_path: Path) -> None:
    for env in open_env(tmp_path, async_workers=0):  # nothing runs
        job_id = submit(env, {"query": "SELECT 1"}).json()["job_id"]
        r = env.client.post(f"/v1/jobs/{job_id}/cancel", headers=env.org.headers())
        assert r.status_code == 200 and r.json()["state"] == "canceled"
        assert r.json()["error"]["code"] == "canceled"


def test_cancel_a_running_job_stops_the_engine(jenv: Env) -> None:
    sql = "SELECT count(*) FROM range(200000) a, range(200000) b WHERE a.range + b.range < 0"
    job_id = submit(jenv, {"query": sql}).json()["job_id"]
    until = time.monotonic() + 20
    state = ""
    while state != "running":
        state = jenv.client.get(f"/v1/jobs/{job_id}", headers=jenv.org.headers()).json()["state"]
        assert time.monotonic() < until
        time.sleep(0.05)
    time.sleep(0.3)
    started = time.monotonic()
    r = jenv.client.post(f"/v1/jobs/{job_id}/cancel", headers=jenv.org.headers())
    assert r.status_code == 200 and r.json()["cancel_requested"]
    job = wait_done(jenv, job_id)
    assert job["state"] == "canceled" and job["error"]["code"] == "canceled"
    assert time.monotonic() - started < 5  # 4e10 pairs would take minutes


def test_per_org_concurrency_cap(tmp_path: Path) -> None:
    for env in open_env(tmp_path, async_org_concurrency=1, async_poll_seconds=0.1):
        slow = "SELECT count(*) FROM range(200000) a, range(200000) b WHERE a.range + b.range < 0"
        first = submit(env, {"query": slow}).json()["job_id"]
        second = submit(env, {"query": "SELECT 1"}).json()["job_id"]
        time.sleep(1.5)
        states = [
            env.client.get(f"/v1/jobs/{j}", headers=env.org.headers()).json()["state"]
            for j in (first, second)
        ]
        assert states == ["running", "queued"]
        env.client.post(f"/v1/jobs/{first}/cancel", headers=env.org.headers())
        assert wait_done(env, second)["state"] == "succeeded"


def test_openapi_documents_the_async_answer(jenv: Env) -> None:
    spec = jenv.client.get("/openapi.json").json()
    sql_query = spec["paths"]["/v1/{org}/admin/sql_query"]["post"]
    assert "202" in sql_query["responses"]
    assert "/v1/jobs/{job_id}" in spec["paths"]
    download = spec["paths"]["/v1/results/{job_id}/{file}"]["get"]
    assert download["x-public"] is True
