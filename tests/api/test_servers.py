"""Server connections (PostgreSQL, MariaDB) through `/v1/connections`: creating, testing,
rotating credentials, secrets that never come back, and queries on the real servers."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from sqlgate.store.models import Connection
from tests.conftest import Env, open_env
from tests.mysql_services import MySQLDatabase, fresh_mysql_database
from tests.services import fresh_pg_database

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def senv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield from open_env(tmp_path_factory.mktemp("servers"))


@pytest.fixture(scope="module")
def mysql_db() -> Iterator[MySQLDatabase]:
    with fresh_mysql_database() as db:
        with db.admin() as admin, admin.cursor() as cursor:
            cursor.execute("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL)")
            cursor.execute("INSERT INTO t VALUES (1, 'one'), (2, 'two')")
        yield db


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with fresh_pg_database() as url:
        import psycopg

        with psycopg.connect(url, autocommit=True) as con:
            con.execute("CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL)")
            con.execute("INSERT INTO t VALUES (1, 'one'), (2, 'two')")
        yield url


def mysql_body(db: MySQLDatabase, name: str, **changes: Any) -> dict[str, Any]:
    body = {
        "type": "mysql",
        "name": name,
        "host": db.host,
        "port": db.port,
        "database": db.name,
        "username": db.user,
        "password": db.password,
    }
    return body | changes


def pg_body(url: str, name: str, **changes: Any) -> dict[str, Any]:
    return {
        "type": "postgresql",
        "name": name,
        "host": "127.0.0.1",
        "port": 5432,
        "database": url.rsplit("/", 1)[1],
        "username": "postgres",
    } | changes


def names(senv: Env) -> list[str]:
    listed = senv.client.get("/v1/connections", headers=senv.org.headers()).json()["data"]
    return [c["name"] for c in listed]


def test_mysql_create_query_test_and_secrets(senv: Env, mysql_db: MySQLDatabase) -> None:
    h = senv.org.headers()
    r = senv.client.post("/v1/connections", json=mysql_body(mysql_db, "maria"), headers=h)
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    assert data["password_set"] is True and data["port"] == mysql_db.port
    assert mysql_db.password not in r.text and "password" not in data
    for response in (
        senv.client.get("/v1/connections", headers=h),
        senv.client.get(f"/v1/connections/{data['id']}", headers=h),
    ):
        assert mysql_db.password not in response.text
    # at rest: encrypted, not the password
    with senv.org.services.store.session() as session:
        stored = session.scalar(
            select(Connection.password_encrypted).where(Connection.id == data["id"])
        )
    assert stored and mysql_db.password not in stored

    q = senv.client.post(
        "/api/v1/query/maria",
        json={"query": "SELECT name FROM t WHERE id = :id", "params": {"id": 2}},
        headers=h,
    )
    assert q.status_code == 200, q.text
    assert q.json()["rows"] == [["two"]]

    t = senv.client.post(f"/v1/connections/{data['id']}/test", headers=h)
    assert t.status_code == 200, t.text
    result = t.json()["data"]
    assert result["ok"] is True and result["server_version"].startswith("MariaDB ")
    assert result["can_write"] is True and "read-only" in result["warning"]

    schema = senv.client.get(f"/v1/connections/{data['id']}/schema", headers=h).json()["data"]
    [db_schema] = schema["schemas"]
    assert db_schema["name"] == mysql_db.name
    [table] = db_schema["tables"]
    assert table["name"] == "t" and table["primary_key"] == ["id"]


def test_mysql_wrong_password_is_502_without_the_secret(senv: Env, mysql_db: MySQLDatabase) -> None:
    wrong = "not-the-" + secrets.token_hex(6)
    r = senv.client.post(
        "/v1/connections",
        json=mysql_body(mysql_db, "maria-bad", password=wrong),
        headers=senv.org.headers(),
    )
    assert r.status_code == 502, r.text
    error = r.json()["error"]
    assert error["code"] == "connection_error"
    assert "denied" in error["message"].lower()
    assert wrong not in r.text and mysql_db.password not in r.text
    assert "maria-bad" not in names(senv)


def test_unreachable_servers_are_502_naming_the_problem(senv: Env, pg_url: str) -> None:
    h = senv.org.headers()
    cases = [
        pg_body(pg_url, "pg-port", port=1),
        pg_body(pg_url, "pg-role", username="no_such_role_" + secrets.token_hex(3)),
        pg_body(pg_url, "pg-db", database="no_such_db_" + secrets.token_hex(3)),
        {"type": "mysql", "name": "my-port", "host": "127.0.0.1", "port": 1, "database": "x",
         "username": "u", "password": "pw-secret-1"},
    ]  # fmt: skip
    for body in cases:
        r = senv.client.post("/v1/connections", json=body, headers=h)
        assert r.status_code == 502, (body, r.text)
        assert r.json()["error"]["code"] == "connection_error"
        assert len(r.json()["error"]["message"]) > 20
        assert "pw-secret-1" not in r.text
        assert body["name"] not in names(senv)


def test_rotating_credentials_with_patch(senv: Env, mysql_db: MySQLDatabase) -> None:
    h = senv.org.headers()
    created = senv.client.post(
        "/v1/connections", json=mysql_body(mysql_db, "rotating"), headers=h
    ).json()["data"]
    url = f"/v1/connections/{created['id']}"
    query = {"query": "SELECT count(*) AS n FROM t"}
    assert senv.client.post("/api/v1/query/rotating", json=query, headers=h).status_code == 200

    # a wrong new password is refused and the old one keeps working
    r = senv.client.patch(url, json={"password": "wrong-" + secrets.token_hex(4)}, headers=h)
    assert r.status_code == 502, r.text
    assert senv.client.post("/api/v1/query/rotating", json=query, headers=h).status_code == 200

    # the server's password changes; sqlgate gets the new one
    new_password = secrets.token_urlsafe(12)
    with mysql_db.admin() as admin, admin.cursor() as cursor:
        for host in ("127.0.0.1", "localhost"):
            cursor.execute(
                f"ALTER USER '{mysql_db.user}'@'{host}' IDENTIFIED BY %s", (new_password,)
            )
    try:
        r = senv.client.patch(url, json={"password": new_password}, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["data"]["updated_at"] > created["updated_at"]
        assert new_password not in r.text
        after = senv.client.post("/api/v1/query/rotating", json=query, headers=h)
        assert after.status_code == 200 and after.json()["rows"] == [[2]]
    finally:
        with mysql_db.admin() as admin, admin.cursor() as cursor:
            for host in ("127.0.0.1", "localhost"):
                cursor.execute(
                    f"ALTER USER '{mysql_db.user}'@'{host}' IDENTIFIED BY %s",
                    (mysql_db.password,),
                )


def test_postgres_connection_end_to_end(senv: Env, pg_url: str) -> None:
    h = senv.org.headers()
    r = senv.client.post("/v1/connections", json=pg_body(pg_url, "pg"), headers=h)
    assert r.status_code == 201, r.text
    conn_id = r.json()["data"]["id"]
    assert r.json()["data"]["password_set"] is False
    q = senv.client.post(
        "/api/v1/query/pg",
        json={"query": "SELECT id, name FROM t WHERE name = :n", "params": {"n": "one"}},
        headers=h,
    )
    assert q.status_code == 200, q.text
    body = q.json()
    assert body["rows"] == [[1, "one"]]
    assert [c["notNull"] for c in body["columns"]] == [True, True]
    t = senv.client.post(f"/v1/connections/{conn_id}/test", headers=h).json()["data"]
    assert t["server_version"].startswith("PostgreSQL ") and t["can_write"] is True
    v = senv.client.post(
        "/api/v1/query/pg/validate", json={"query": "SELECT nope FROM t"}, headers=h
    ).json()
    assert v["warning"] == "Unknown column: nope"
    refused = senv.client.post("/api/v1/query/pg", json={"query": "DELETE FROM t"}, headers=h)
    assert refused.status_code == 422
    export = senv.client.post(
        "/api/v1/query/pg/export?format=csv",
        json={"query": "SELECT * FROM t ORDER BY id"},
        headers=h,
    )
    assert export.status_code == 200
    assert export.text.splitlines() == ['"id","name"', '1,"one"', '2,"two"']
    assert senv.client.delete(f"/v1/connections/{conn_id}", headers=h).status_code == 204


def test_connection_changes_are_audited_without_secrets(senv: Env, mysql_db: MySQLDatabase) -> None:
    from sqlgate.store.models import AuditEvent

    h = senv.org.headers()
    created = senv.client.post(
        "/v1/connections", json=mysql_body(mysql_db, "audited"), headers=h
    ).json()["data"]
    conn_id = created["id"]
    bad = "bad-" + secrets.token_hex(6)
    assert (
        senv.client.patch(
            f"/v1/connections/{conn_id}", json={"password": bad}, headers=h
        ).status_code
        == 502
    )
    assert senv.client.post(f"/v1/connections/{conn_id}/test", headers=h).status_code == 200
    assert senv.client.delete(f"/v1/connections/{conn_id}", headers=h).status_code == 204
    senv.org.services.audit.flush()
    with senv.org.services.store.session() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.connection_id == conn_id).order_by(AuditEvent.id)
        ).all()
    assert [(e.action, e.status, e.error_code) for e in events] == [
        ("connection.create", "ok", None),
        ("connection.update", "error", "connection_error"),
        ("connection.test", "ok", None),
        ("connection.delete", "ok", None),
    ]
    assert all(e.member_id and e.key_id and e.org_id == senv.org.id for e in events)
    text = repr([(e.sql, e.error_code, e.client) for e in events])
    assert mysql_db.password not in text and bad not in text


def test_operators_can_limit_which_hosts_connections_reach(
    tmp_path_factory: pytest.TempPathFactory, mysql_db: MySQLDatabase
) -> None:
    for env in open_env(
        tmp_path_factory.mktemp("hosts"),
        connection_hosts=["*.db.internal", "10.1.*"],
        sqlalchemy_orgs=["*"],
    ):
        h = env.org.headers()
        refused = [
            mysql_body(mysql_db, "local"),
            mysql_body(mysql_db, "localhost", host="LOCALHOST"),
            {"type": "sqlalchemy", "name": "raw", "url": "postgresql+psycopg://u@127.0.0.1/db"},
        ]
        for body in refused:
            r = env.client.post("/v1/connections", json=body, headers=h)
            assert r.status_code == 422, r.text
            assert "SQLGATE_CONNECTION_HOSTS" in r.json()["error"]["message"]
        # an allowed pattern gets as far as trying to connect (nothing listens there)
        allowed = mysql_body(mysql_db, "internal", host="nowhere.db.internal")
        r = env.client.post("/v1/connections", json=allowed, headers=h)
        assert r.status_code == 502, r.text
