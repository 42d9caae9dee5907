"""A connection's stored password never shapes an error message, through a real `sqlgate serve`
and real PostgreSQL and MariaDB servers.

Messages are built from what the driver reports (the server's message, the error number), which
never holds the password, so nothing is masked by substring: a guess typed into another field
comes back as typed whether it is right or wrong (no oracle), and a short password does not eat
letters out of messages ("does not e***ist")."""

from __future__ import annotations

import json
import secrets
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.mysql_services import create_user, drop_user, fresh_mysql_database
from tests.services import PG_ADMIN_URL, fresh_pg_database
from tests.test_server import prepare, start_server

pytestmark = pytest.mark.server


@dataclass
class Server:
    base: str
    key: str
    proc: Any

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return httpx.request(
            method,
            self.base + path,
            json=body,
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=30,
        )

    def connect(self, name: str, **fields: Any) -> str:
        r = self.call("POST", "/v1/connections", {"name": name, **fields})
        assert r.status_code == 201, r.text
        return str(r.json()["data"]["id"])

    def refused_database(self, connection: str, database: str) -> str:
        r = self.call("PATCH", f"/v1/connections/{connection}", {"database": database})
        assert r.status_code == 502, r.text
        assert r.json()["error"]["code"] == "connection_error"
        return str(r.json()["error"]["message"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir: Path = tmp_path_factory.mktemp("passwords")
    init = prepare("init", "--json", data_dir=data_dir)
    assert init.returncode == 0, init.stderr
    proc, base = start_server(data_dir)
    yield Server(base, json.loads(init.stdout)["api_key"], proc)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)


@pytest.fixture(scope="module")
def pg_database() -> Iterator[tuple[str, str]]:
    """(host, database) of a fresh PostgreSQL database."""
    with fresh_pg_database() as url:
        host = PG_ADMIN_URL.split("@", 1)[1].split("/", 1)[0].split(":", 1)[0]
        yield host, url.rsplit("/", 1)[1]


def _same_apart_from(a: str, a_value: str, b: str, b_value: str) -> None:
    assert a_value in a and b_value in b
    assert a.replace(a_value, "<database>") == b.replace(b_value, "<database>")


def test_a_right_guess_and_a_wrong_guess_read_the_same_on_postgresql(
    server: Server, pg_database: tuple[str, str]
) -> None:
    host, database = pg_database
    conn = server.connect(
        "pg_guess", type="postgresql", host=host, port=5432, database=database,
        username="postgres", password="s3cr3t",
    )  # fmt: skip
    right = server.refused_database(conn, "guess_s3cr3t")
    wrong = server.refused_database(conn, "guess_hunter")
    assert 'database "guess_s3cr3t" does not exist' in right
    _same_apart_from(right, "guess_s3cr3t", wrong, "guess_hunter")
    assert "***" not in right


def test_a_one_letter_password_leaves_messages_whole(
    server: Server, pg_database: tuple[str, str]
) -> None:
    host, database = pg_database
    conn = server.connect(
        "pg_short", type="postgresql", host=host, port=5432, database=database,
        username="postgres", password="x",
    )  # fmt: skip
    message = server.refused_database(conn, "nosuchdb")
    assert message.endswith('database "nosuchdb" does not exist'), message
    r = server.call("POST", f"/api/v1/query/{conn}", {"query": "SELECT * FROM nosuchtable_x"})
    assert r.status_code == 400, r.text
    assert 'relation "nosuchtable_x" does not exist' in r.json()["error"]["message"]


def test_a_right_guess_and_a_wrong_guess_read_the_same_on_mariadb(server: Server) -> None:
    with fresh_mysql_database() as db:
        admin = db.admin()
        user, password = f"sqlgate_g_{secrets.token_hex(3)}", "s3cr3t"
        create_user(admin, user, password, f"SELECT ON `{db.name}`.*")
        try:
            conn = server.connect(
                "maria_guess", type="mysql", host=db.host, port=db.port, database=db.name,
                username=user, password=password,
            )  # fmt: skip
            right = server.refused_database(conn, "guess_s3cr3t")
            wrong = server.refused_database(conn, "guess_hunter")
        finally:
            drop_user(admin, user)
            admin.close()
    assert "denied" in right.lower()
    _same_apart_from(right, "guess_s3cr3t", wrong, "guess_hunter")
    assert "***" not in right


def test_the_password_is_in_no_error_log_line_or_audit_row(
    server: Server, pg_database: tuple[str, str], tmp_path: Path
) -> None:
    host, database = pg_database
    password = "Pw-" + secrets.token_hex(8)
    conn = server.connect(
        "pg_secret", type="postgresql", host=host, port=5432, database=database,
        username="postgres", password=password,
    )  # fmt: skip
    bodies = [
        server.refused_database(conn, "nosuchdb"),
        server.call("PATCH", f"/v1/connections/{conn}", {"port": 1}).text,
        server.call("POST", f"/api/v1/query/{conn}", {"query": "SELECT * FROM nope"}).text,
        server.call("POST", f"/api/v1/query/{conn}", {"query": "SELEC 1"}).text,
        server.call("POST", f"/v1/connections/{conn}/test").text,
        server.call("GET", f"/v1/connections/{conn}").text,
        server.call("POST", "/v1/connections", {
            "name": "pg_secret_2", "type": "postgresql", "host": host, "port": 1,
            "database": database, "username": "postgres", "password": password,
        }).text,
    ]  # fmt: skip
    assert len([b for b in bodies[1:] if '"error"' in b]) == 4  # test and get succeed
    audit = server.call("GET", "/v1/audit", None)
    assert audit.status_code == 200
    assert "connection.update" in audit.text
    server.proc.send_signal(signal.SIGINT)
    log, _ = server.proc.communicate(timeout=20)
    assert "PATCH /v1/connections" in log  # the access log was captured
    for text in [*bodies, audit.text, log]:
        assert password not in text
