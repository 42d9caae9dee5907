"""The security corpus through the HTTP API on the real PostgreSQL and MariaDB servers.

Both connections are registered through `POST /v1/connections` as roles that *could* write (the
PostgreSQL role owns the tables; the MariaDB user holds ALL PRIVILEGES on its database), so only
the two layers stand between a request and a change:

1. Guard on: every `reject` is refused with a 4xx naming why; every `allow` runs (the
   `[runtime-limit]` ones are stopped by the timeout).
2. Guard off: each `reject` goes straight to the engine. The engine tests' per-case tables say
   what the engine alone does (refused, contained, or guard-only policy); the HTTP answer must
   agree, and afterwards nothing changed on the server and the next query on the same (single)
   pooled session sees the defaults.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.api.test_servers import mysql_body
from tests.conftest import Env, corpus_cases, open_env
from tests.engines import test_mysql, test_postgres
from tests.engines.test_postgres import ADVISORY_LOCKS, Pg
from tests.mysql_services import MySQLDatabase

pytestmark = pytest.mark.postgres

# The engine tests' databases, reused as fixtures: the corpus tables on each server, owned by
# (PostgreSQL) or writable by (MariaDB) the non-superuser the connections use.
pg = test_postgres.pg
maria = test_mysql.db

PG, MARIA = "pg", "maria"  # connection names in both apps
REFUSED, CONTAINED, GUARD_ONLY = "refused", "contained", "guard-only"

# What the engine alone must not let run; for PostgreSQL a case of another class that runs is
# not the engine's to stop (test_postgres.CORPUS's comment).
PG_CONTAINABLE = test_postgres.MUST_NOT_RUN | {"setting", "session-state"}

# Cases the engines run because they only read what the role may read: policy, not read-only
# violations. Only the guard refuses them (test_guard_refuses); test_engine_alone checks they run.
GUARD_ONLY_POLICY = {
    (PG, "SELECT database_to_xml(true, true, '')"): "every readable table in one value",
    (PG, "SELECT inet_server_addr(), inet_server_port()"): "server address recon",
    (PG, "SELECT pid, usename, query FROM pg_stat_activity"): "other roles' SQL shows hidden",
    (PG, "SELECT row_to_json(u) FROM users u"): "whole rows; no column allow-list yet",
    (MARIA, "SELECT @@datadir, @@hostname, @@secure_file_priv"): "variables any user may read",
}

# Files the corpus tries to create (the servers are local).
WRITE_TARGETS = [Path("/tmp/x"), Path("/tmp/users.csv")]

PG_DEFAULT_SEARCH_PATH = '"$user", public'
MARIA_SESSION = (
    "SELECT @a AS a, @u AS u, @@session.sql_mode = @@global.sql_mode AS sql_mode, "
    "@@session.time_zone = @@global.time_zone AS time_zone, "
    "@@session.autocommit = @@global.autocommit AS autocommit"
)


@dataclass(frozen=True)
class Case:
    conn: str
    sql: str
    why: str
    outcome: str  # what the engine alone does, from the engine tests' tables

    @property
    def runtime(self) -> bool:
        """Stopped by the timeout: keep it short."""
        if self.conn == PG:
            return test_postgres.CORPUS[self.sql][0] == "runtime"
        return test_mysql.REJECTS[self.sql][0] == "cpu"


def _outcome(conn: str, sql: str) -> str:
    if conn == PG:
        kind, result = test_postgres.CORPUS[sql]
        if result != "runs":
            return REFUSED
        return CONTAINED if kind in PG_CONTAINABLE else GUARD_ONLY
    return {"refused": REFUSED, "contained": CONTAINED, "ran": GUARD_ONLY}[
        test_mysql.REJECTS[sql][1]
    ]


def _cases(expect: str) -> list[Case]:
    out = []
    for conn, engine in ((PG, "postgres"), (MARIA, "mysql")):
        for c in corpus_cases(engine, "any"):
            if c["expect"] == expect:
                outcome = _outcome(conn, c["sql"]) if expect == "reject" else ""
                out.append(Case(conn, c["sql"], c["why"], outcome))
    return out


def _id(case: Case) -> str:
    return f"{case.conn}:{case.sql[:40]}"


REJECTS = _cases("reject")
ALLOWS = _cases("allow")


def query(env: Env, conn: str, sql: str, timeout: float = 5) -> httpx2.Response:
    return env.client.post(
        f"/api/v1/query/{conn}", json={"query": sql, "timeout": timeout}, headers=env.org.headers()
    )


def rows(env: Env, conn: str, sql: str) -> list[list[Any]]:
    r = query(env, conn, sql)
    assert r.status_code == 200, r.text
    result: list[list[Any]] = r.json()["rows"]
    return result


def register(env: Env, pg: Pg, maria: MySQLDatabase) -> None:
    """Both server connections, as the roles that could write."""
    bodies = [
        {
            "type": "postgresql",
            "name": PG,
            "host": pg.host,
            "port": pg.port,
            "database": pg.database,
            "username": pg.owner,
        },
        mysql_body(maria, MARIA),
    ]
    for body in bodies:
        r = env.client.post("/v1/connections", json=body, headers=env.org.headers())
        assert r.status_code == 201, r.text
        assert r.json()["data"]["username"] == body["username"]


@pytest.fixture(scope="module")
def guarded(
    tmp_path_factory: pytest.TempPathFactory, pg: Pg, maria: MySQLDatabase
) -> Iterator[Env]:
    for env in open_env(tmp_path_factory.mktemp("guarded")):
        register(env, pg, maria)
        yield env


@pytest.fixture(scope="module")
def unguarded(
    tmp_path_factory: pytest.TempPathFactory, pg: Pg, maria: MySQLDatabase
) -> Iterator[Env]:
    """One pooled session per connection: "the next query" runs where the last one did."""
    for env in open_env(tmp_path_factory.mktemp("unguarded"), sql_guard=False, server_pool_size=1):
        register(env, pg, maria)
        yield env


@pytest.fixture(scope="module")
def maria_admin(maria: MySQLDatabase) -> Iterator[Any]:
    with maria.admin() as conn:
        yield conn


@pytest.fixture(scope="module")
def defaults(unguarded: Env) -> dict[str, list[list[Any]]]:
    """Each session's state before any case ran on it."""
    pg_state = rows(unguarded, PG, test_postgres._LEFTOVERS)
    assert pg_state[0][1] == PG_DEFAULT_SEARCH_PATH
    maria_state = rows(unguarded, MARIA, MARIA_SESSION)
    assert maria_state == [[None, None, 1, 1, 1]]
    return {PG: pg_state, MARIA: maria_state}


def test_cases_and_classes() -> None:
    assert {(c.conn, c.sql) for c in REJECTS if c.outcome == GUARD_ONLY} == set(GUARD_ONLY_POLICY)
    assert len({(c.conn, c.sql) for c in REJECTS}) == len(REJECTS)


# --- guard on ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", REJECTS, ids=_id)
def test_guard_refuses(guarded: Env, case: Case) -> None:
    r = query(guarded, case.conn, case.sql)
    assert 400 <= r.status_code < 500, f"{case.why}: {r.status_code} {r.text}"
    error = r.json()["error"]
    # Empty SQL is refused by the request schema, before the guard.
    allowed = {"sql_not_allowed", "sql_syntax_error"} | (
        {"validation_error"} if not case.sql else set()
    )
    assert error["code"] in allowed, error
    assert len(error["message"]) > 10


@pytest.mark.parametrize("case", ALLOWS, ids=_id)
def test_guard_allows(guarded: Env, case: Case) -> None:
    r = query(guarded, case.conn, case.sql, timeout=1)
    if "[runtime-limit]" in case.why:
        assert r.status_code == 504, r.text
        assert r.json()["error"]["code"] == "timeout"
    else:
        assert r.status_code == 200, f"{case.why}: {r.text}"
    v = guarded.client.post(
        f"/api/v1/query/{case.conn}/validate",
        json={"query": case.sql},
        headers=guarded.org.headers(),
    )
    assert v.json()["is_valid"] is True, v.text


# --- guard off: the engine session alone ---------------------------------------------------------


def _server_state(case: Case, pg: Pg, maria: MySQLDatabase, admin: Any) -> tuple[Any, ...]:
    """PG: table contents, relations, server-side files. MariaDB: tables, checksums, globals."""
    if case.conn == PG:
        return test_postgres._fingerprint(pg)
    return test_mysql.snapshot(admin, maria.name)


def _assert_nothing_held(case: Case, env: Env, pg: Pg, admin: Any, defaults: Any) -> None:
    """The next query on the same session sees the defaults; no lock outlives the request."""
    if case.conn == PG:
        assert rows(env, PG, test_postgres._LEFTOVERS) == defaults[PG]
        assert pg.one(ADVISORY_LOCKS) == 0
        held = (
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            f"WHERE a.usename = '{pg.owner}'"
        )
        assert pg.one(held) == 0
    else:
        assert rows(env, MARIA, MARIA_SESSION) == defaults[MARIA]
        with admin.cursor() as cursor:  # another session writes at once (and rolls back)
            cursor.execute("SET SESSION lock_wait_timeout = 1, innodb_lock_wait_timeout = 1")
            cursor.execute("START TRANSACTION")
            cursor.execute("UPDATE users SET name = name WHERE id = 1")
            cursor.execute("ROLLBACK")


@pytest.mark.parametrize("case", REJECTS, ids=_id)
def test_engine_alone(
    unguarded: Env,
    pg: Pg,
    maria: MySQLDatabase,
    maria_admin: Any,
    defaults: dict[str, list[list[Any]]],
    case: Case,
) -> None:
    before = _server_state(case, pg, maria, maria_admin)
    existed = {p: p.exists() for p in WRITE_TARGETS}
    r = query(unguarded, case.conn, case.sql, timeout=1 if case.runtime else 5)
    assert r.status_code != 500, r.text
    if case.outcome == REFUSED:
        assert r.status_code != 200, f"{case.why}: ran: {r.text}"
        error = r.json()["error"]
        codes = {"sql_not_allowed", "query_error", "timeout"}
        if not case.sql:  # empty SQL is refused by the request schema
            codes.add("validation_error")
        assert error["code"] in codes, error
        assert len(error["message"]) > 10
    else:  # contained, or guard-only policy: the engine runs it
        assert r.status_code == 200, f"{case.why}: {r.text}"
        assert "root:x:0" not in r.text  # no /etc/passwd in the answer
        if "processlist" in case.sql:
            body = r.json()
            user = [c["name"] for c in body["columns"]].index("USER")
            assert {row[user] for row in body["rows"]} == {maria.user}
    assert _server_state(case, pg, maria, maria_admin) == before, "something changed"
    for path, was in existed.items():
        assert path.exists() == was, f"{path} appeared"
    _assert_nothing_held(case, unguarded, pg, maria_admin, defaults)
