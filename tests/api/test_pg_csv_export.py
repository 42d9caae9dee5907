"""CSV exports from PostgreSQL send the server's own COPY text on: the values as PostgreSQL (and
`psql \\copy`) spells them, string cells quoted and neutralised like every CSV export, and the
same row limit, truncation headers, audit row and concurrency slot as any other export."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import Env, open_env
from tests.services import fresh_pg_database
from tests.test_server import prepare, start_server

pytestmark = pytest.mark.postgres

EXPORT = "/api/v1/query/pg/export?format=csv"

# Every kind of cell the text can hold: formula-like strings (neutralised), quotes, commas,
# newlines, the empty string and NULL (which CSV tells apart), padded char(n), json and numbers
# that start with a minus sign (numbers are never neutralised).
ROWS = """
    (1, '=1+1', 'plain', -5, 2.50, true, '2024-01-02 03:04:05+00', '2024-01-02', '{"a": -1}'),
    (2, '-x', 'say "hi", then
leave', 0, -0.25, false, '2024-01-02 03:04:05.5+00', '1999-12-31', '-1'),
    (3, '@sum', '', NULL, NULL, NULL, NULL, NULL, NULL),
    (4, E'\\tTab', NULL, 7, 0, true, '2024-06-30 23:59:59+00', '2024-02-29', '[]'),
    (5, '+', 'ab', 1, 1, false, '2000-01-01 00:00:00+00', '2000-01-01', '"=x"')
"""


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with fresh_pg_database() as url:
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("SET TimeZone = 'UTC'")
            con.execute(
                "CREATE TABLE cells (id int PRIMARY KEY, risky text, note varchar(40), "
                "n int, amount numeric(6,2), flag bool, at timestamptz, day date, doc json, "
                "code char(3) DEFAULT 'ab')"
            )
            con.execute(
                "INSERT INTO cells (id, risky, note, n, amount, flag, at, day, doc) VALUES" + ROWS
            )
            con.execute(f"ALTER DATABASE {url.rsplit('/', 1)[1]} SET TimeZone = 'UTC'")
        yield url


def pg_body(url: str, name: str) -> dict[str, Any]:
    return {
        "type": "postgresql",
        "name": name,
        "host": "127.0.0.1",
        "port": 5432,
        "database": url.rsplit("/", 1)[1],
        "username": "postgres",
    }


@pytest.fixture(scope="module")
def penv(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> Iterator[Env]:
    for env in open_env(
        tmp_path_factory.mktemp("pgcsv"), export_row_limit=250_000, org_max_concurrent_queries=1
    ):
        created = env.client.post(
            "/v1/connections", json=pg_body(pg_url, "pg"), headers=env.org.headers()
        )
        assert created.status_code == 201, created.text
        yield env


def export(env: Env, query: str, **body: Any) -> httpx.Response:
    return env.client.post(EXPORT, json={"query": query, **body}, headers=env.org.headers())


def last_audit(env: Env) -> dict[str, Any]:
    env.org.services.audit.flush()
    events = env.client.get(
        "/v1/audit", params={"action": "query.export", "limit": 1}, headers=env.org.headers()
    ).json()["data"]
    return dict(events[0])


def test_values_are_postgresql_spellings_with_strings_quoted_and_neutralised(penv: Env) -> None:
    r = export(penv, 'SELECT id, risky AS "=risky", note, n, amount, flag, at, day, doc, code '
               "FROM cells ORDER BY id")  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["x-sqlgate-truncated"] == "false"
    assert r.text == (
        '"id","\'=risky","note","n","amount","flag","at","day","doc","code"\n'
        '1,"\'=1+1","plain",-5,2.50,t,2024-01-02 03:04:05+00,2024-01-02,"{""a"": -1}","ab "\n'
        '2,"\'-x","say ""hi"", then\nleave",0,-0.25,f,2024-01-02 03:04:05.5+00,1999-12-31,'
        '"\'-1","ab "\n'
        '3,"\'@sum","",,,,,,,"ab "\n'
        '4,"\'\tTab",,7,0.00,t,2024-06-30 23:59:59+00,2024-02-29,"[]","ab "\n'
        '5,"\'+","ab",1,1.00,f,2000-01-01 00:00:00+00,2000-01-01,"""=x""","ab "\n'
    )
    # What a CSV reader gets: NULL and the empty string apart, the quoted newline kept.
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[2][2] == 'say "hi", then\nleave' and rows[3][2] == "" and rows[4][2] == ""
    assert last_audit(penv)["row_count"] == 5


def test_the_string_cells_match_the_json_export(penv: Env) -> None:
    """The neutralised cells are exactly those the Arrow CSV writer changes (checked against
    the unchanged values of the json export)."""
    query = "SELECT risky, note, doc::text AS doc FROM cells ORDER BY id"
    as_csv = list(csv.reader(io.StringIO(export(penv, query).text)))[1:]
    plain = penv.client.post(
        "/api/v1/query/pg/export?format=json", json={"query": query}, headers=penv.org.headers()
    ).json()
    for row, record in zip(as_csv, plain, strict=True):
        for cell, value in zip(row, record.values(), strict=True):
            expected = "" if value is None else value
            if value and value[0] in "=+-@\t\r":
                expected = "'" + value
            assert cell == expected


def test_an_export_cut_at_its_row_limit_says_so(penv: Env) -> None:
    r = export(penv, "SELECT id, risky FROM cells ORDER BY id", row_limit=3)
    assert r.status_code == 200, r.text
    assert r.headers["x-sqlgate-truncated"] == "true"
    assert r.headers["x-sqlgate-row-limit"] == "3"
    assert [row[0] for row in csv.reader(io.StringIO(r.text))] == ["id", "1", "2", "3"]
    event = last_audit(penv)
    assert event["status"] == "ok" and event["row_count"] == 3
    assert event["detail"] == {"truncated": True, "row_limit": 3}


def test_a_large_export_is_cut_at_the_export_row_limit_across_chunks(penv: Env) -> None:
    """300,000 rows of some 40 bytes span several of the reader's chunks; the export row
    limit (250,000 here) cuts in the middle of one. The header cannot say so (the body is
    larger than what is held back before answering), the audit row does."""
    query = "SELECT g, repeat('x', 30) AS pad FROM generate_series(1, 300000) AS g"
    r = export(penv, query)
    assert r.status_code == 200, r.text
    assert "x-sqlgate-truncated" not in r.headers
    assert r.headers["x-sqlgate-row-limit"] == "250000"
    lines = r.text.splitlines()
    assert len(lines) == 250_001 and lines[-1] == '250000,"' + "x" * 30 + '"'
    event = last_audit(penv)
    assert event["row_count"] == 250_000
    assert event["detail"] == {"truncated": True, "row_limit": 250_000}
    # The whole result fits: no cut, nothing said.
    whole = export(penv, query.replace("300000", "249999"))
    assert len(whole.text.splitlines()) == 250_000
    assert last_audit(penv)["detail"] is None


def test_refusals_and_errors_answer_before_any_byte(penv: Env) -> None:
    refused = export(penv, "DELETE FROM cells")
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "sql_not_allowed"
    missing = export(penv, "SELECT nope FROM cells")
    assert missing.status_code == 400, missing.text
    assert last_audit(penv)["status"] == "error"
    # The org's one concurrent-query slot came back after each of them.
    assert export(penv, "SELECT 1 AS one").text == '"one"\n1\n'


def test_a_timeout_before_the_first_row_is_an_error_status(penv: Env) -> None:
    r = export(penv, "SELECT count(*) FROM generate_series(1, 500000000)", timeout=0.5)
    assert r.status_code == 504, r.text
    assert r.json()["error"]["code"] == "timeout"
    assert export(penv, "SELECT 2 AS two").text == '"two"\n2\n'


# --- through a real server: a timeout after rows went out aborts the transfer ------------------

#: Rows at once (a nested loop over two small series streams), then past the timeout; 3 s so
#: that a busy machine still sends the first rows in time.
SLOW = {
    "query": "SELECT a * 100000 + b AS g, md5(b::text) AS h "
    "FROM generate_series(0, 99999) AS a, generate_series(1, 100000) AS b",
    "timeout": 3,
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> Iterator[tuple[str, str]]:
    data_dir = tmp_path_factory.mktemp("pgserved")
    proc, base = start_server(data_dir, env={"SQLGATE_EXPORT_ROW_LIMIT": "5000000000"})
    assert proc.stdout is not None
    reader = threading.Thread(target=proc.stdout.read, daemon=True)
    reader.start()
    try:
        init = prepare("init", "--json", data_dir=data_dir)
        assert init.returncode == 0, init.stderr
        key = json.loads(init.stdout)["api_key"]
        created = httpx.post(
            f"{base}/v1/connections", json=pg_body(pg_url, "pg"), headers={"X-API-Key": key}
        )
        assert created.status_code == 201, created.text
        yield base, key
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        reader.join(timeout=5)


@pytest.mark.server
def test_a_timeout_part_way_aborts_the_transfer_and_is_audited(
    served: tuple[str, str], tmp_path: Path
) -> None:
    base, key = served
    head, size, lines = b"", 0, 0  # counted, not kept: seconds of rows are hundreds of MB
    with httpx.stream(
        "POST", base + EXPORT, json=SLOW, headers={"X-API-Key": key}, timeout=60
    ) as r:
        assert r.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):  # noqa: PT012 - raised mid-iteration
            for chunk in r.iter_bytes():
                head += chunk[: max(0, 100 - len(head))]
                size, lines = size + len(chunk), lines + chunk.count(b"\n")
    assert size > 1_000_000  # rows went out before the deadline
    assert head.startswith(b'"g","h"\n1,"c4ca4238a0b923820dcc509a6f75849b"\n')
    assert lines > 10_000
    events = httpx.get(
        f"{base}/v1/audit", params={"action": "query.export", "limit": 1},
        headers={"X-API-Key": key},
    ).json()["data"]  # fmt: skip
    assert events[0]["status"] == "error" and events[0]["error_code"] == "timeout"
    assert events[0]["row_count"] > 0
    # The session went back to a usable state: the next export works.
    again = httpx.post(
        base + EXPORT, json={"query": "SELECT 3 AS three"}, headers={"X-API-Key": key}
    )
    assert again.text == '"three"\n3\n'
