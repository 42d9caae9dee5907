"""Async CSV jobs and `sqlgate query --format csv` on PostgreSQL write the server's own COPY
text, as the export route does: the same bytes, files split at row ends (also inside a chunk),
and the same row limit, truncation, timeout and audit rows as every other job or export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sqlgate.cli import main
from sqlgate.container import Services
from sqlgate.results.storage import Limits, ResultStore, rows_end
from sqlgate.store.models import AuditEvent
from sqlgate.vocabulary.columns import Column
from tests.api.test_pg_csv_export import pg_body, pg_url  # noqa: F401 - pg_url is a fixture
from tests.conftest import Env, make_settings, open_env

pytestmark = pytest.mark.postgres

QUERY = (
    'SELECT id, risky AS "=risky", note, n, amount, flag, at, day, doc, code FROM cells ORDER BY id'
)


def _pg_env(data_dir: Path, url: str, **overrides: object) -> Iterator[Env]:
    """An app whose connection `pg` is the database at ``url``."""
    for env in open_env(data_dir, **overrides):
        created = env.client.post(
            "/v1/connections", json=pg_body(url, "pg"), headers=env.org.headers()
        )
        assert created.status_code == 201, created.text
        yield env


@pytest.fixture(scope="module")
def jenv(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> Iterator[Env]:  # noqa: F811
    """Files of 2 rows, so that a few rows already split into several files."""
    yield from _pg_env(tmp_path_factory.mktemp("pgjob"), pg_url, async_chunk_rows=2)


def job(env: Env, **body: Any) -> dict[str, Any]:
    r = env.client.post(
        "/v1/jobs", json={"connection_id": "pg", "format": "csv", **body}, headers=env.org.headers()
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    for _ in range(30):
        done: dict[str, Any] = env.client.get(
            f"/v1/jobs/{job_id}?wait=5", headers=env.org.headers()
        ).json()
        if done["state"] in ("succeeded", "failed"):
            return done
    raise AssertionError(done)


def files(env: Env, done: dict[str, Any]) -> list[str]:
    texts = []
    for chunk in done["result"]["chunks"]:
        r = env.client.get(chunk["url"])
        assert r.status_code == 200, r.text
        assert len(r.content) == chunk["byte_count"]
        texts.append(r.text)
    return texts


def last_audit(env: Env) -> dict[str, Any]:
    env.org.services.audit.flush()
    events = env.client.get(
        "/v1/audit", params={"action": "query.async", "limit": 1}, headers=env.org.headers()
    ).json()["data"]
    return dict(events[0])


def test_a_csv_job_is_the_export_routes_text_in_files_of_whole_rows(jenv: Env) -> None:
    exported = jenv.client.post(
        "/api/v1/query/pg/export?format=csv", json={"query": QUERY}, headers=jenv.org.headers()
    ).text
    header, rest = exported.split("\n", 1)
    assert header.startswith('"id","\'=risky"')  # the server's text: PostgreSQL's spellings
    assert "2024-01-02 03:04:05+00" in rest and '"say ""hi"", then\nleave"' in rest

    done = job(jenv, query=QUERY)
    assert done["state"] == "succeeded", done
    result = done["result"]
    assert (result["row_count"], result["truncated"]) == (5, False)
    assert [c["row_count"] for c in result["chunks"]] == [2, 2, 1]
    texts = files(jenv, done)
    assert all(t.startswith(header + "\n") for t in texts)
    # Split at row ends, never inside the quoted newline of row 2.
    assert "".join(t.split("\n", 1)[1] for t in texts) == rest
    assert [len(list(csv.reader(io.StringIO(t)))) for t in texts] == [3, 3, 2]
    event = last_audit(jenv)
    assert (event["status"], event["row_count"], event["detail"]) == ("ok", 5, None)


def test_a_csv_job_cut_at_its_row_limit_says_so(jenv: Env) -> None:
    done = job(jenv, query="SELECT id, risky FROM cells ORDER BY id", row_limit=3)
    result = done["result"]
    assert (result["row_count"], result["truncated"], result["truncated_by"]) == (
        3,
        True,
        "row_limit",
    )
    rows = [r for t in files(jenv, done) for r in list(csv.reader(io.StringIO(t)))[1:]]
    assert [r[0] for r in rows] == ["1", "2", "3"]
    event = last_audit(jenv)
    assert event["status"] == "ok" and event["row_count"] == 3
    assert event["detail"] == {"truncated": True, "row_limit": 3}


def test_a_csv_job_past_its_timeout_fails_and_is_audited(jenv: Env) -> None:
    """In 2-row files: the deadline holds between the files of one chunk of the server's text
    (tests/jobs/test_job_deadline.py times it on every engine)."""
    slow = (
        "SELECT a * 100000 + b AS g, md5(b::text) AS h "
        "FROM generate_series(0, 99999) AS a, generate_series(1, 100000) AS b"
    )
    done = job(jenv, query=slow, timeout=1)
    assert done["state"] == "failed" and done["error"]["code"] == "timeout"
    event = last_audit(jenv)
    assert event["status"] == "error" and event["error_code"] == "timeout"
    assert event["row_count"] > 0  # rows were written before the deadline
    assert job(jenv, query="SELECT 3 AS three")["result"]["row_count"] == 1  # session usable


# --- the result files, from text ----------------------------------------------------------------


def test_rows_end_counts_only_newlines_outside_quotes() -> None:
    data = b'1,"a\n""b"""\n2,"\n"\n3,\n'
    assert [rows_end(data, n) for n in (1, 2, 3)] == [12, 18, 21]


def test_the_byte_limit_cuts_text_between_chunks(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    chunks = [(b"%d\n" % i * 10, 10) for i in range(10)]  # 10 chunks of 10 rows, 20 bytes
    manifest = store.write_text(
        "job_00000000000000aa",
        [Column("n", "INTEGER")],
        b'"n"\n',
        iter(chunks),
        Limits(byte_limit=50, chunk_rows=15, chunk_bytes=10**6),
        lambda rows, nbytes: None,
        lambda: None,
    )
    assert [c.row_count for c in manifest.chunks] == [15, 15]
    assert (manifest.row_count, manifest.truncated, manifest.truncated_by) == (
        30,
        True,
        "byte_limit",
    )
    on_disk = [(tmp_path / "job_00000000000000aa" / c.file).read_bytes() for c in manifest.chunks]
    assert on_disk[0] == b'"n"\n' + b"0\n" * 10 + b"1\n" * 5
    assert on_disk[1] == b'"n"\n' + b"1\n" * 5 + b"2\n" * 10


# --- the CLI --------------------------------------------------------------------------------------


def test_the_cli_writes_the_servers_text_and_says_when_it_cut(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    pg_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SQLGATE_DATA_DIR", raising=False)
    data_dir = ["--data-dir", str(tmp_path)]
    assert main(["init", "--json", *data_dir]) == 0
    database = pg_url.rsplit("/", 1)[1]
    add = ["connections", "add", "pg", "--type", "postgresql", "--database", database]
    assert main([*add, "--host", "127.0.0.1", "--username", "postgres", *data_dir]) == 0
    capsys.readouterr()
    assert main(["query", "pg", QUERY, "--format", "csv", *data_dir]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.startswith('"id","\'=risky","note"')
    assert '2,"\'-x","say ""hi"", then\nleave",0,-0.25,f,2024-01-02 03:04:05.5+00' in out

    monkeypatch.setenv("SQLGATE_EXPORT_ROW_LIMIT", "2")
    assert main(["query", "pg", QUERY, "--format", "csv", *data_dir]) == 0
    out, err = capsys.readouterr()
    assert [r[0] for r in csv.reader(io.StringIO(out))] == ["id", "1", "2"]
    assert err == "warning: the result was cut at 2 rows (the export row limit)\n"
    services = Services.build(make_settings(tmp_path))
    try:
        with services.store.session() as session:
            events = list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    finally:
        services.close()
    runs = [(e.action, e.row_count, e.detail) for e in events if e.sql == QUERY]
    assert runs == [
        ("query.export", 5, None),
        ("query.export", 2, {"truncated": True, "row_limit": 2}),
    ]
