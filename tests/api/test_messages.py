"""Messages that point the user the right way: a database file registered under the wrong type,
a path outside the data roots, DuckDB's depth limit, every unknown column, the write warning of
a connection test, and the SQL length limit as docs/security.md documents it."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from sqlgate.sql.guard import MAX_SQL_CHARS
from tests.api.test_servers import pg_body
from tests.conftest import Env, Org, make_settings, open_env
from tests.services import fresh_pg_database
from tests.sql.test_guard import REASONS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def make_sqlite(path: Path) -> Path:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (a INTEGER)")
    return path


def make_duckdb(path: Path) -> Path:
    with duckdb.connect(str(path)) as db:
        db.execute("CREATE TABLE t (a INTEGER)")
    return path


@pytest.fixture
def roots(env: Env) -> Path:
    return env.settings.roots[0]


def test_a_sqlite_file_registered_as_duckdb_is_named_for_what_it_is(
    client: TestClient, org: Org, roots: Path
) -> None:
    make_sqlite(roots / "msg_lite.db")
    r = client.post(
        "/v1/connections",
        json={"type": "duckdb", "name": "msg-lite", "database": "msg_lite.db"},
        headers=org.headers(),
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_error" and error["field"] == "database"
    assert error["message"] == (
        "`database` is a SQLite file, not a DuckDB file (its first bytes say so): "
        "register it with type `sqlite`"
    )
    assert "extension" not in error["message"]
    # Registered with the type it names, it works.
    r = client.post(
        "/v1/connections",
        json={"type": "sqlite", "name": "msg-lite", "database": "msg_lite.db"},
        headers=org.headers(),
    )
    assert r.status_code == 201, r.text


def test_a_duckdb_file_registered_as_sqlite_is_named_for_what_it_is(
    client: TestClient, org: Org, roots: Path
) -> None:
    make_duckdb(roots / "msg_duck.db")
    r = client.post(
        "/v1/connections",
        json={"type": "sqlite", "name": "msg-duck", "database": "msg_duck.db"},
        headers=org.headers(),
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"] == (
        "`database` is a DuckDB file, not a SQLite file (its first bytes say so): "
        "register it with type `duckdb`"
    )


def test_a_connection_test_names_a_file_replaced_by_another_type(
    client: TestClient, org: Org, roots: Path
) -> None:
    path = make_duckdb(roots / "msg_swapped.duckdb")
    r = client.post(
        "/v1/connections",
        json={"type": "duckdb", "name": "msg-swapped", "database": "msg_swapped.duckdb"},
        headers=org.headers(),
    )
    assert r.status_code == 201, r.text
    path.unlink()
    make_sqlite(path)
    t = client.post(f"/v1/connections/{r.json()['data']['id']}/test", headers=org.headers())
    assert t.status_code == 502, t.text
    assert t.json()["error"]["code"] == "connection_error"
    assert "register it with type `sqlite`" in t.json()["error"]["message"]


def test_a_file_that_is_no_database_keeps_the_engine_message(
    client: TestClient, org: Org, roots: Path
) -> None:
    (roots / "msg_junk.db").write_bytes(b"not a database at all" * 50)
    r = client.post(
        "/v1/connections",
        json={"type": "sqlite", "name": "msg-junk", "database": "msg_junk.db"},
        headers=org.headers(),
    )
    assert r.status_code == 422, r.text
    message = r.json()["error"]["message"]
    assert "register it with type" not in message and "not a database" in message


def test_a_refused_path_names_the_data_roots_and_how_to_register(
    client: TestClient, org: Org, roots: Path
) -> None:
    r = client.post(
        "/v1/connections",
        json={"type": "sqlite", "name": "msg-outside", "database": "/etc/hosts"},
        headers=org.headers(),
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["field"] == "database"
    assert error["message"] == (
        f"`database` must be a file under a data root ({roots}). Copy the file under one of "
        f"them and register that path (a relative path is read from {roots}), or add its "
        "directory to SQLGATE_DATA_ROOTS and restart"
    )


@pytest.fixture(scope="module")
def two_roots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    base = tmp_path_factory.mktemp("roots")
    extra = base / "extra"
    extra.mkdir()
    yield from open_env(base / "data", data_roots=[base / "data" / "databases", extra])


def test_every_data_root_is_named(two_roots: Env) -> None:
    r = two_roots.client.post(
        "/v1/connections",
        json={"type": "sqlite", "name": "x", "database": "/etc/hosts"},
        headers=two_roots.org.headers(),
    )
    first, second = two_roots.settings.roots
    assert f"a data root ({first}, {second})" in r.json()["error"]["message"]


def test_duckdbs_depth_limit_says_to_simplify_not_to_change_a_setting(
    client: TestClient, org: Org
) -> None:
    sql = "SELECT " + " + ".join(["1"] * 1500)
    r = client.post("/api/v1/query/duck", json={"query": sql}, headers=org.headers())
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "sql_not_allowed" and error["reason"] == "too_complex"
    assert error["message"].startswith(
        "The query is nested too deeply for DuckDB (over 1000 levels of expressions). Simplify it"
    )
    assert "SET" not in error["message"] and "max_expression_depth" not in error["message"]


def test_validate_names_every_unknown_column(client: TestClient, org: Org) -> None:
    r = client.post(
        "/api/v1/query/chinook/validate",
        json={"query": "SELECT Title, Nonsense, Other FROM Album WHERE Missing = 1"},
        headers=org.headers(),
    )
    body = r.json()
    assert body["is_valid"] is True
    assert body["warning"] == "Unknown columns: nonsense, other, missing"


@pytest.mark.postgres
def test_a_connection_tests_write_warning_says_it_once(tmp_path: Path) -> None:
    with fresh_pg_database() as url:
        for env in open_env(tmp_path):
            h = env.org.headers()
            r = env.client.post("/v1/connections", json=pg_body(url, "pg"), headers=h)
            assert r.status_code == 201, r.text
            t = env.client.post(f"/v1/connections/{r.json()['data']['id']}/test", headers=h)
            data = t.json()["data"]
            assert data["can_write"] is True
            assert data["warning"] == (
                "These credentials can write: the role is a superuser; it can CREATE objects in "
                "schema public. sqlgate runs every query in a read-only transaction, but a role "
                "with only SELECT grants is safer."
            )


def _guard_reasons_documented() -> dict[str, str]:
    """docs/security.md's table of guard checks: reason code → the check it documents."""
    text = (DOCS / "security.md").read_text()
    table = text.split("| check | `reason` when it fails |", 1)[1].split("\n\n", 1)[0]
    reasons: dict[str, str] = {}
    for row in table.strip().splitlines()[1:]:
        check, codes = row.strip("|").rsplit("|", 1)
        for code in re.findall(r"`([a-z_]+)`", re.sub(r"\([^)]*\)", "", codes)):
            reasons[code] = check.strip()
    return reasons


def test_the_docs_table_lists_the_guards_reasons() -> None:
    assert set(_guard_reasons_documented()) == REASONS


@pytest.mark.parametrize(
    ("sql", "reason", "message"),
    [
        ("   ", "empty", "The SQL is empty"),
        (
            "SELECT 1 -- " + "x" * 100_000,
            "too_long",
            "The SQL is 100,012 characters long; at most 100,000 are allowed "
            "(SQLGATE_MAX_SQL_CHARS)",
        ),
        ("SELECT 1; SELECT 2", "multiple_statements", None),
        ("DELETE FROM t", "not_read_only", None),
        ("SELECT read_csv('/etc/passwd')", "denied_function", None),
    ],
)
def test_the_server_sends_the_documented_reasons(
    client: TestClient, org: Org, sql: str, reason: str, message: str | None
) -> None:
    documented = _guard_reasons_documented()
    assert reason in documented
    if reason == "too_long":
        assert "SQLGATE_MAX_SQL_CHARS" in documented[reason]
    for path in ("/api/v1/query/duck", "/v1/jobs"):
        body = {"query": sql} if path != "/v1/jobs" else {"connection_id": "duck", "query": sql}
        r = client.post(path, json=body, headers=org.headers())
        assert r.status_code == 422, (path, r.text)
        error = r.json()["error"]
        assert error["code"] == "sql_not_allowed" and error["reason"] == reason, (path, error)
        if message:
            assert error["message"] == message
    v = client.post("/api/v1/query/duck/validate", json={"query": sql}, headers=org.headers())
    assert v.status_code == 200 and v.json()["is_valid"] is False
    if message:
        assert v.json()["error"] == message


def test_the_length_limit_can_be_lowered_not_raised_past_the_guards(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_sql_chars"):
        make_settings(tmp_path, max_sql_chars=MAX_SQL_CHARS + 1)
    for env in open_env(tmp_path, max_sql_chars=50):
        r = env.client.post(
            "/api/v1/query/duck",
            json={"query": "SELECT 1 -- " + "x" * 40},
            headers=env.org.headers(),
        )
        assert r.status_code == 422 and r.json()["error"]["reason"] == "too_long"
        assert r.json()["error"]["message"] == (
            "The SQL is 52 characters long; at most 50 are allowed (SQLGATE_MAX_SQL_CHARS)"
        )
