"""The PostgreSQL engine against the real server, connected as a role that owns the tables (so it
could write if the read-only session let it), with the SQL guard out of the way."""

from __future__ import annotations

import datetime as dt
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from psycopg.conninfo import conninfo_to_dict

from sqlgate.engines.base import ConnectionSpec
from sqlgate.engines.postgres import PostgresEngine
from sqlgate.errors import (
    ConnectionFailed,
    ParameterError,
    QueryError,
    QueryTimeout,
    SqlgateError,
    SqlNotAllowed,
)
from sqlgate.vocabulary.schema import ForeignKey
from tests.conftest import CORPUS_ROWS, corpus_cases
from tests.services import PG_ADMIN_URL, fresh_pg_database

pytestmark = pytest.mark.postgres

ADVISORY_LOCKS = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)

# The corpus tables (shared/security/README.md) plus what introspection and the corpus need: keys,
# a comment, a view, a materialized view `mv`, a second schema, and a function that deletes.
TABLES = """
CREATE SCHEMA sales;
CREATE TABLE users (id integer PRIMARY KEY, org_id integer NOT NULL, name text, email text,
    pw_hash text, created_at timestamp, "drop" text, "select" text);
CREATE TABLE orders (id integer PRIMARY KEY, org_id integer,
    user_id integer CONSTRAINT orders_user_fk REFERENCES users (id),
    amount numeric, total numeric, note text, created_at timestamp);
CREATE TABLE events (id integer, payload json);
CREATE TABLE "insert" ("drop" text, "delete" text, "update" text);
CREATE TABLE "update" ("drop" text, "select" text);
CREATE TABLE sales.regions (code char(2) PRIMARY KEY, name varchar(40) NOT NULL);
CREATE TABLE sales.targets (region char(2) REFERENCES sales.regions,
    user_id integer REFERENCES public.users (id), amount numeric(12,2),
    PRIMARY KEY (region, user_id));
COMMENT ON TABLE users IS 'People who can sign in';
COMMENT ON COLUMN users.email IS 'Where receipts go';
"""
DERIVED = """
CREATE VIEW big_orders AS SELECT id, total FROM orders WHERE total > 100;
CREATE MATERIALIZED VIEW mv AS SELECT org_id, count(*) AS n FROM users GROUP BY org_id;
CREATE FUNCTION purge_users() RETURNS bigint LANGUAGE sql
    AS $$ WITH d AS (DELETE FROM users RETURNING 1) SELECT count(*) FROM d $$;
INSERT INTO sales.regions VALUES ('EU', 'Europe');
INSERT INTO sales.targets VALUES ('EU', 1, 1000.00);
"""


@dataclass
class Pg:
    admin: psycopg.Connection[Any]  # superuser, on the test database
    database: str
    owner: str  # owns every table: could write without the read-only session
    reader: str  # SELECT grants only
    host: str
    port: int

    def spec(self, **overrides: Any) -> ConnectionSpec:
        fields: dict[str, Any] = {
            "id": "conn_pg",
            "type": "postgresql",
            "database": self.database,
            "updated_at": dt.datetime.now(dt.UTC),
            "host": self.host,
            "port": self.port,
            "username": self.owner,
        }
        fields.update(overrides)
        return ConnectionSpec(**fields)

    def one(self, sql: str) -> Any:
        row = self.admin.execute(sql).fetchone()
        return row[0] if row else None


@pytest.fixture(scope="module")
def pg() -> Iterator[Pg]:
    server = conninfo_to_dict(PG_ADMIN_URL)
    owner = f"sqlgate_t_{secrets.token_hex(4)}"
    reader = f"{owner}_ro"
    created = False
    try:
        with fresh_pg_database() as url, psycopg.connect(url, autocommit=True) as admin:
            database = url.rsplit("/", 1)[1]
            admin.execute(f'CREATE ROLE "{owner}" LOGIN; CREATE ROLE "{reader}" LOGIN')
            created = True
            admin.execute(
                f'GRANT ALL ON DATABASE "{database}" TO "{owner}";'
                f'GRANT ALL ON SCHEMA public TO "{owner}";'
                # PostgreSQL < 15 lets everyone create in public; the reader must not.
                "REVOKE CREATE ON SCHEMA public FROM PUBLIC;"
                f'SET ROLE "{owner}"'
            )
            admin.execute(TABLES)
            admin.execute(CORPUS_ROWS)
            admin.execute(DERIVED)
            admin.execute(
                f'GRANT USAGE ON SCHEMA sales TO "{reader}";'
                f'GRANT SELECT ON ALL TABLES IN SCHEMA public, sales TO "{reader}";'
                "RESET ROLE"
            )
            yield Pg(
                admin,
                database,
                owner,
                reader,
                str(server.get("host", "127.0.0.1")),
                int(server.get("port", 5432)),
            )
    finally:
        if created:  # the database (and every grant in it) is gone: the roles can go
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP ROLE IF EXISTS "{owner}"; DROP ROLE IF EXISTS "{reader}"')


@pytest.fixture(scope="module")
def engine(pg: Pg) -> Iterator[PostgresEngine]:
    """One session only, so "the next query" always runs on the session the last one used."""
    engine = PostgresEngine(pg.spec(), pool_size=1)
    yield engine
    engine.close()


def rows(engine: PostgresEngine, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
    return engine.execute(sql, params, timeout=10, row_limit=1000).table.to_pylist()


def value(engine: PostgresEngine, sql: str, params: dict[str, Any] | None = None) -> Any:
    return next(iter(rows(engine, sql, params)[0].values()))


# --- results and types -------------------------------------------------------------------------

TYPES_SQL = """SELECT 1::int2 AS i2, 2::int4 AS i4, 3::int8 AS i8, 1.5::float4 AS f4,
    'NaN'::float8 AS f8, true AS b, 12.34::numeric(10,2) AS n, 1.000000000000000000000000001 AS nu,
    '2024-01-02 03:04:05.123456+02'::timestamptz AS tz, '2024-01-02 03:04:05'::timestamp AS ts,
    '2024-01-02'::date AS d, '03:04:05.5'::time AS t, '{"a": [1, "x,y"]}'::json AS j,
    '{"b": 1}'::jsonb AS jb, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u,
    '\\x01ff'::bytea AS by, interval '1 day 2 hours' AS iv, ARRAY[1, 2] AS arr,
    'x'::varchar(5) AS vc, 'ab'::char(3) AS bp, NULL::int AS null_int"""


def test_every_mapped_type_arrives_typed_with_its_postgres_name(engine: PostgresEngine) -> None:
    result = engine.execute(TYPES_SQL, None, timeout=10, row_limit=10)
    expected = {
        "i2": (pa.int16(), "smallint", 1),
        "i4": (pa.int32(), "integer", 2),
        "i8": (pa.int64(), "bigint", 3),
        "f4": (pa.float32(), "real", 1.5),
        "b": (pa.bool_(), "boolean", True),
        "n": (pa.decimal128(10, 2), "numeric(10,2)", Decimal("12.34")),
        "nu": (pa.float64(), "numeric", 1.0),  # unbounded numeric: a double
        "tz": (
            pa.timestamp("us", "UTC"),
            "timestamp with time zone",
            dt.datetime(2024, 1, 2, 1, 4, 5, 123456, tzinfo=dt.UTC),
        ),
        "ts": (pa.timestamp("us"), "timestamp without time zone", dt.datetime(2024, 1, 2, 3, 4, 5)),
        "d": (pa.date32(), "date", dt.date(2024, 1, 2)),
        "t": (pa.time64("us"), "time without time zone", dt.time(3, 4, 5, 500000)),
        "j": (pa.string(), "json", '{"a": [1, "x,y"]}'),
        "jb": (pa.string(), "jsonb", '{"b": 1}'),
        "u": (pa.string(), "uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        "by": (pa.string(), "bytea", "\\x01ff"),
        "iv": (pa.string(), "interval", "1 day 02:00:00"),
        "arr": (pa.string(), "integer[]", "{1,2}"),
        "vc": (pa.string(), "character varying(5)", "x"),
        "bp": (pa.string(), "character(3)", "ab "),
        "null_int": (pa.int32(), "integer", None),
    }
    row = result.table.to_pylist()[0]
    types = {c.name: c.type for c in result.columns}
    for name, (arrow_type, pg_type, expected_value) in expected.items():
        assert result.table.schema.field(name).type == arrow_type, name
        assert types[name] == pg_type, name
        assert row[name] == expected_value, name
    assert types["f8"] == "double precision" and row["f8"] != row["f8"]  # NaN


def test_null_empty_string_and_csv_metacharacters_survive(engine: PostgresEngine) -> None:
    texts = ["a", None, "", 'comma, "quotes"', "two\nlines", "\\N", "t"]
    sql = "SELECT x FROM unnest(%s) WITH ORDINALITY AS u(x, i) ORDER BY i"
    literal = "ARRAY[" + ", ".join("NULL" if t is None else _quote(t) for t in texts) + "]::text[]"
    assert [r["x"] for r in rows(engine, sql % literal)] == texts
    # A one-column NULL row is an empty line in COPY's CSV: it must not be skipped.
    assert [r["n"] for r in rows(engine, "SELECT NULL::int AS n FROM generate_series(1, 3)")] == [
        None
    ] * 3


def _quote(text: str) -> str:
    return "E'" + text.replace("\\", "\\\\").replace("'", "''").replace("\n", "\\n") + "'"


def test_an_empty_result_keeps_its_columns(engine: PostgresEngine) -> None:
    result = engine.execute("SELECT id, name FROM users WHERE false", None, timeout=5, row_limit=5)
    assert result.row_count == 0 and [c.name for c in result.columns] == ["id", "name"]
    assert [c.type for c in result.columns] == ["integer", "text"]


def test_values_without_an_arrow_form_are_a_clear_error(engine: PostgresEngine) -> None:
    with pytest.raises(QueryError, match=r"Column 'd' \(date\).*infinity.*CAST"):
        engine.execute("SELECT 'infinity'::date AS d", None, timeout=5, row_limit=5)
    assert value(engine, "SELECT 'infinity'::date::text AS d") == "infinity"


def test_a_trailing_semicolon_and_comment_are_dropped(engine: PostgresEngine) -> None:
    assert value(engine, "SELECT 1 AS x; -- done\n") == 1
    assert value(engine, "SELECT 2 AS x -- trailing comment") == 2


# --- parameters --------------------------------------------------------------------------------


def test_params_are_values_never_sql(engine: PostgresEngine, pg: Pg) -> None:
    name = "O'Brien; DROP TABLE users"
    assert rows(engine, "SELECT id FROM users WHERE name = :name", {"name": name}) == [{"id": 2}]
    for attack in ("x' OR '1'='1", "x\\' OR 1=1 --", "'; DELETE FROM users; --"):
        sql = "SELECT count(*) AS n FROM users WHERE name = :name"
        assert value(engine, sql, {"name": attack}) == 0
    assert pg.one("SELECT count(*) FROM users") == 4


def test_param_types_and_negative_numbers(engine: PostgresEngine) -> None:
    row = rows(
        engine,
        "SELECT 5-:x AS diff, :f AS f, :b AS b, :n::text AS n, :ids AS ids, :s AS s",
        {"x": -1, "f": 2.5, "b": True, "n": None, "ids": [1, 2], "s": "a\\b"},
    )[0]
    # A float literal is an unbounded numeric to PostgreSQL (read as a double); arrays arrive in
    # their text form.
    assert row == {"diff": 6, "f": 2.5, "b": True, "n": None, "ids": "{1,2}", "s": "a\\b"}


def test_bad_params_are_parameter_errors(engine: PostgresEngine) -> None:
    with pytest.raises(ParameterError):
        engine.execute("SELECT :missing", {"other": 1}, timeout=5, row_limit=1)
    with pytest.raises(ParameterError, match="dict"):
        engine.execute("SELECT :p", {"p": {"a": 1}}, timeout=5, row_limit=1)
    with pytest.raises(ParameterError):
        engine.execute("SELECT :p", {"p": "nul\x00"}, timeout=5, row_limit=1)


# --- limits, streaming, sessions ----------------------------------------------------------------


def test_row_limit_truncates_on_the_server(engine: PostgresEngine) -> None:
    sql = "SELECT g FROM generate_series(1, 100) AS g"
    limited = engine.execute(sql, None, timeout=5, row_limit=10)
    assert limited.row_count == 10 and limited.truncated
    assert limited.table.column("g").to_pylist() == list(range(1, 11))
    exact = engine.execute(sql, None, timeout=5, row_limit=100)
    assert exact.row_count == 100 and not exact.truncated


def test_a_large_result_streams_in_bounded_batches(engine: PostgresEngine) -> None:
    stream = engine.stream(
        "SELECT g, md5(g::text) AS h FROM generate_series(1, 200000) AS g",
        None,
        timeout=30,
        row_limit=None,
        batch_rows=50_000,
    )
    sizes, total, last = [], 0, None
    for batch in stream:
        sizes.append(batch.num_rows)
        total += pc.sum(batch.column("g")).as_py()
        last = batch.column("g")[-1].as_py()
    assert sum(sizes) == 200_000 and len(sizes) >= 4 and max(sizes) <= 50_000
    assert total == 200_000 * 200_001 // 2 and last == 200_000
    assert not stream.truncated


def test_closing_a_stream_early_cancels_the_copy_and_keeps_the_session(
    engine: PostgresEngine, pg: Pg
) -> None:
    pid = value(engine, "SELECT pg_backend_pid()")
    sql = "SELECT g, md5(g::text) AS h FROM (SELECT generate_series(1, 50000000) AS g) AS s"
    stream = engine.stream(sql, None, timeout=60, row_limit=None)
    assert next(iter(stream)).num_rows > 0
    started = time.monotonic()
    stream.close()
    assert time.monotonic() - started < 2
    active = f"SELECT count(*) FROM pg_stat_activity WHERE pid = {pid} AND state <> 'idle'"
    assert pg.one(active) == 0
    assert value(engine, "SELECT pg_backend_pid()") == pid  # the same session, reset and reused


def test_timeout_stops_the_query_on_the_server(engine: PostgresEngine, pg: Pg) -> None:
    started = time.monotonic()
    with pytest.raises(QueryTimeout):
        engine.execute("SELECT pg_sleep(30)", None, timeout=1, row_limit=1)
    assert time.monotonic() - started < 2
    sleeping = (
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE state = 'active' AND query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()"
    )
    while pg.one(sleeping) and time.monotonic() - started < 2:  # timeout + 1 s
        time.sleep(0.02)
    assert pg.one(sleeping) == 0
    assert value(engine, "SELECT 1 AS ok") == 1


def test_timeout_mid_stream(engine: PostgresEngine) -> None:
    # Rows over 8 kB: the server flushes each at once rather than filling its send buffer.
    sql = "SELECT g, repeat('x', 9000) AS pad, pg_sleep(0.05) FROM generate_series(1, 1000) AS g"
    started = time.monotonic()
    stream = engine.stream(sql, None, timeout=1, row_limit=None)
    with pytest.raises(QueryTimeout):
        for _ in stream:
            pass
    assert time.monotonic() - started < 2.5
    assert value(engine, "SELECT 1 AS ok") == 1


def test_sessions_are_capped_by_the_pool_size(engine: PostgresEngine) -> None:
    stream = engine.stream("SELECT 1 AS x", None, timeout=5, row_limit=None)  # holds the session
    try:
        with pytest.raises(QueryTimeout, match="busy"):
            engine.execute("SELECT 2", None, timeout=0.3, row_limit=1)
    finally:
        stream.close()
    assert value(engine, "SELECT 3 AS x") == 3


def test_a_session_the_server_dropped_is_replaced(engine: PostgresEngine, pg: Pg) -> None:
    pid = value(engine, "SELECT pg_backend_pid()")
    pg.admin.execute(f"SELECT pg_terminate_backend({pid})")
    assert value(engine, "SELECT 4 AS x") == 4


def test_nothing_a_query_sets_survives_it(engine: PostgresEngine, pg: Pg) -> None:
    """Run straight to the engine (no guard): settings, advisory locks and the like are gone
    before the next query, which runs on the very same session."""
    pid = value(engine, "SELECT pg_backend_pid()")
    rows(
        engine,
        "SELECT set_config('search_path', 'x', false), set_config('app.org_id', '2', false), "
        "set_config('work_mem', '1MB', false), pg_advisory_lock(42)",
    )
    after = rows(
        engine,
        "SELECT pg_backend_pid() AS pid, current_setting('search_path') AS search_path, "
        "current_setting('app.org_id', true) AS org, current_setting('work_mem') AS work_mem",
    )[0]
    assert after["pid"] == pid
    assert after["search_path"] == '"$user", public'
    assert after["org"] in (None, "")  # the name stays defined in the session, the value does not
    assert after["work_mem"] == "64MB"  # the engine's own per-query cap, not the 1MB set above
    assert pg.one(ADVISORY_LOCKS) == 0


# --- refused statements ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("SELECT 1; SELECT 2", "multiple_statements"),
        ("SET work_mem = '1MB'", "not_read_only"),
        ("EXPLAIN SELECT 1", "not_read_only"),
        ("SHOW search_path", "not_read_only"),
        ("INSERT INTO users (id, org_id) VALUES (99, 1) RETURNING id", "not_read_only"),
        ("SELECT purge_users()", "engine_refused"),
        ("SELECT nextval('no_such_seq')", None),
        ("  ", "empty"),
    ],
)
def test_statements_the_engine_refuses(
    engine: PostgresEngine, pg: Pg, sql: str, reason: str | None
) -> None:
    with pytest.raises(SqlgateError) as caught:
        engine.execute(sql, None, timeout=5, row_limit=5)
    if reason is None:
        assert isinstance(caught.value, QueryError)
    else:
        assert isinstance(caught.value, SqlNotAllowed)
        assert caught.value.details["reason"] == reason
    assert pg.one("SELECT count(*) FROM users") == 4


def test_errors_point_at_the_sql_sent(engine: PostgresEngine) -> None:
    with pytest.raises(QueryError) as caught:
        engine.execute("SELECT id,\n  nosuch FROM users", None, timeout=5, row_limit=1)
    assert "nosuch" in caught.value.message
    assert caught.value.details == {"line": 2, "column": 3}
    # A bound value longer than its placeholder does not shift the location.
    with pytest.raises(QueryError) as caught:
        engine.execute(
            "SELECT :p AS p, nosuch\nFROM users", {"p": "x" * 50}, timeout=5, row_limit=1
        )
    assert caught.value.details == {"line": 1, "column": 17}
    with pytest.raises(QueryError, match="division by zero"):
        engine.execute("SELECT 1/0", None, timeout=5, row_limit=1)


# --- the security corpus, guard off ---------------------------------------------------------

# class, then what the engine alone does with it (as a non-superuser owner of the tables):
# a SqlNotAllowed reason, "query_error", "timeout", or "runs" (then it must leave nothing).
# Classes write/file/network/setting/session-state must be refused or contained; the other
# classes (runtime, disclosure, other-sessions) are the guard's to refuse and are listed so
# a change in what the engine does is seen.
CORPUS: dict[str, tuple[str, str]] = {
    "SELECT 1; DELETE FROM users --": ("write", "multiple_statements"),
    "SELECT 1 /* ; */ ; DELETE FROM users": ("write", "multiple_statements"),
    "SELECT 1 -- note\n; DROP TABLE users": ("write", "multiple_statements"),
    "SELECT 1 -- note\r; DROP TABLE users": ("write", "multiple_statements"),
    "ROLLBACK; SET default_transaction_read_only = off; DELETE FROM users": (
        "write",
        "multiple_statements",
    ),
    "SET TRANSACTION READ WRITE; DELETE FROM users; COMMIT": ("write", "multiple_statements"),
    "BEGIN; DELETE FROM users; COMMIT": ("write", "multiple_statements"),
    "UPDATE users SET name = 'x'": ("write", "not_read_only"),
    "INSERT INTO users (id) VALUES (1)": ("write", "not_read_only"),
    "TRUNCATE TABLE users": ("write", "not_read_only"),
    "ALTER TABLE users ADD COLUMN x INT": ("write", "not_read_only"),
    "CREATE TABLE copy_of_users AS SELECT * FROM users": ("write", "not_read_only"),
    "CREATE VIEW v AS SELECT 1": ("write", "not_read_only"),
    "": ("write", "empty"),
    "-- just a comment": ("write", "empty"),
    "SELECT 1 \u037e DROP TABLE users": ("write", "query_error"),  # a syntax error to PostgreSQL
    "\uff24\uff25\uff2c\uff25\uff34\uff25 FROM users": ("write", "query_error"),
    "EXPLAIN (ANALYZE, BUFFERS) WITH d AS (DELETE FROM users RETURNING 1) SELECT * FROM d": (
        "write",
        "not_read_only",
    ),
    "EXPLAIN ANALYZE SELECT purge_users()": ("write", "not_read_only"),
    "SELECT id INTO TEMP t FROM users": ("write", "not_read_only"),
    "WITH d AS (DELETE FROM users RETURNING *) SELECT * FROM d": ("write", "not_read_only"),
    "WITH u AS (UPDATE users SET name = 'x' RETURNING id) SELECT count(*) FROM u": (
        "write",
        "not_read_only",
    ),
    "WITH x AS (SELECT 1), d AS (DELETE FROM users RETURNING 1) SELECT * FROM x": (
        "write",
        "not_read_only",
    ),
    "SELECT pg_read_file('/etc/passwd')": ("file", "engine_refused"),
    "SELECT \"pg_read_file\"('/etc/passwd')": ("file", "engine_refused"),
    "SELECT PG_READ_BINARY_FILE('/etc/passwd')": ("file", "engine_refused"),
    "SELECT lo_import('/etc/passwd')": ("file", "engine_refused"),
    "SELECT lo_export(16409, '/tmp/x')": ("file", "engine_refused"),
    # dblink is not installed here; where it is, only the guard denies it.
    "SELECT * FROM dblink('host=10.0.0.5 dbname=prod user=admin password=x', "
    "'SELECT * FROM secrets') AS t(k text)": ("network", "query_error"),
    "COPY users TO '/tmp/users.csv'": ("file", "not_read_only"),
    "SELECT set_config('role', 'admin', false)": ("setting", "query_error"),  # no such role
    "SELECT pg_catalog.set_config('search_path', 'attacker_schema, public', false)": (
        "setting",
        "runs",
    ),
    # Both RLS switches run: the engine contains the setting (gone after the query), but only
    # the guard stops the switch taking effect inside the one query.
    "SELECT string_agg(org_id::text, ',') FROM orders "
    "WHERE set_config('app.org_id', '2', false) IS NOT NULL": ("setting", "runs"),
    "SELECT o.* FROM (SELECT set_config('app.org_id', '2', true) AS x) s "
    "CROSS JOIN LATERAL (SELECT * FROM orders) o": ("setting", "runs"),
    "SET app.org_id = '2'": ("setting", "not_read_only"),
    "SET statement_timeout = 0": ("setting", "not_read_only"),
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE": ("setting", "not_read_only"),
    "RESET ALL": ("setting", "not_read_only"),
    "SELECT pg_sleep(3600)": ("runtime", "timeout"),
    # Refused here only because pg_stat_activity also lists superuser sessions (or our own,
    # which then cancels itself); cancelling another session of the same role is guard-only.
    "SELECT pg_cancel_backend(pid) FROM pg_stat_activity": ("other-sessions", "refused"),
    "SELECT pg_advisory_lock(42)": ("session-state", "runs"),
    "SELECT pg_try_advisory_lock(1)": ("session-state", "runs"),
    "SELECT * FROM users FOR UPDATE": ("session-state", "engine_refused"),
    "SELECT * FROM users FOR SHARE NOWAIT": ("session-state", "engine_refused"),
    "SELECT * FROM users FOR NO KEY UPDATE SKIP LOCKED": ("session-state", "engine_refused"),
    "DO $$ BEGIN DELETE FROM users; END $$": ("write", "not_read_only"),
    "LOCK TABLE users IN ACCESS EXCLUSIVE MODE": ("session-state", "not_read_only"),
    "VACUUM FULL users": ("write", "not_read_only"),
    "REFRESH MATERIALIZED VIEW mv": ("write", "not_read_only"),
    "EXECUTE p": ("session-state", "not_read_only"),
    "DECLARE c CURSOR WITH HOLD FOR SELECT * FROM users": ("session-state", "not_read_only"),
    "CHECKPOINT": ("write", "not_read_only"),
    "DISCARD ALL": ("session-state", "not_read_only"),
    "SELECT database_to_xml(true, true, '')": ("disclosure", "runs"),
    "SELECT current_setting('data_directory')": ("disclosure", "engine_refused"),
    "SELECT inet_server_addr(), inet_server_port()": ("disclosure", "runs"),
    "SELECT pid, usename, query FROM pg_stat_activity": ("disclosure", "runs"),
    "TABLE pg_authid": ("disclosure", "engine_refused"),
    "SELECT row_to_json(u) FROM users u": ("disclosure", "runs"),
    "SELECT pg_reload_conf()": ("setting", "engine_refused"),
    "SELECT * FROM pg_hba_file_rules": ("disclosure", "engine_refused"),
    "SELECT 'a\\'; DROP TABLE users; --'": ("write", "multiple_statements"),
    "SELECT $a$ ; $a$; DROP TABLE users": ("write", "multiple_statements"),
}
MUST_NOT_RUN = {"write", "file", "network"}
REJECTED = [c for c in corpus_cases("postgres", "any") if c["expect"] == "reject"]
ALLOWED = [c for c in corpus_cases("postgres", "any") if c["expect"] == "allow"]


def _outcome(engine: PostgresEngine, sql: str, timeout: float) -> str:
    try:
        engine.execute(sql, None, timeout=timeout, row_limit=100)
    except SqlNotAllowed as exc:
        return str(exc.details["reason"])
    except QueryTimeout:
        return "timeout"
    except QueryError:
        return "query_error"
    return "runs"


def _fingerprint(pg: Pg) -> tuple[Any, ...]:
    """Every corpus table's content, and each relation's storage (TRUNCATE, VACUUM FULL and
    REFRESH give it a new file)."""
    row = pg.admin.execute(
        """SELECT (SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM users t),
                  (SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM orders t),
                  (SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM events t),
                  (SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM "insert" t),
                  (SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM "update" t),
                  (SELECT string_agg(n.nspname || '.' || c.relname || ':' || c.relfilenode,
                                     ',' ORDER BY n.nspname, c.relname)
                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname IN ('public', 'sales')),
                  (SELECT count(*) FROM pg_largeobject_metadata),
                  pg_stat_file('/tmp/x', true), pg_stat_file('/tmp/users.csv', true)"""
    ).fetchone()
    assert row is not None
    return tuple(row)


_LEFTOVERS = """SELECT current_user::text AS role, current_setting('search_path') AS search_path,
    coalesce(current_setting('app.org_id', true), '') AS org,
    (SELECT md5(string_agg(name || '=' || setting, ',' ORDER BY name)) FROM pg_settings
     WHERE name NOT IN ('statement_timeout', 'lock_timeout',
                        'idle_in_transaction_session_timeout')) AS settings,
    (SELECT count(*) FROM pg_prepared_statements) AS prepared,
    (SELECT count(*) FROM pg_cursors) AS cursors,
    (SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()) AS temp_objects,
    (SELECT count(*) FROM pg_listening_channels()) AS listening"""


@pytest.fixture(scope="module")
def baseline(engine: PostgresEngine, pg: Pg) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return _fingerprint(pg), rows(engine, _LEFTOVERS)[0]


def test_every_postgres_corpus_case_is_classified() -> None:
    assert sorted(c["sql"] for c in REJECTED) == sorted(CORPUS)


@pytest.mark.parametrize("case", REJECTED, ids=lambda c: c["sql"][:60])
def test_corpus_rejects_are_refused_or_leave_nothing(
    case: dict[str, str],
    engine: PostgresEngine,
    pg: Pg,
    baseline: tuple[tuple[Any, ...], dict[str, Any]],
) -> None:
    kind, expected = CORPUS[case["sql"]]
    outcome = _outcome(engine, case["sql"], timeout=0.5 if kind == "runtime" else 5)
    if expected == "refused":
        assert outcome != "runs", case["why"]
    else:
        assert outcome == expected, case["why"]
    assert not (kind in MUST_NOT_RUN and outcome == "runs")
    fingerprint, leftovers = baseline
    assert _fingerprint(pg) == fingerprint, "something was written"
    # The next query, on the same single session: nothing the case set or held is left.
    assert rows(engine, _LEFTOVERS)[0] == leftovers
    assert pg.one(ADVISORY_LOCKS) == 0


@pytest.mark.parametrize("case", ALLOWED, ids=lambda c: c["sql"][:60])
def test_corpus_allowed_queries_run(case: dict[str, str], engine: PostgresEngine) -> None:
    if case["why"].startswith("[runtime-limit]"):
        started = time.monotonic()
        with pytest.raises(QueryTimeout):
            engine.execute(case["sql"], None, timeout=0.5, row_limit=100)
        assert time.monotonic() - started < 1.5
    else:
        engine.execute(case["sql"], None, timeout=5, row_limit=100)


# --- connecting --------------------------------------------------------------------------------

SECRET = "s3cret-Pa55word"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"host": "127.0.0.1", "port": "free"}, "connection refused"),
        ({"database": "sqlgate_no_such_db"}, 'database "sqlgate_no_such_db" does not exist'),
        ({"username": "sqlgate_no_such_role"}, 'role "sqlgate_no_such_role" does not exist'),
    ],
)
def test_connection_failures_name_the_problem_without_secrets(
    pg: Pg, overrides: dict[str, Any], expected: str
) -> None:
    if overrides.get("port") == "free":
        overrides = {**overrides, "port": _free_port()}
    spec = pg.spec(password=SECRET, **overrides)
    with pytest.raises(ConnectionFailed) as caught:
        PostgresEngine(spec, connect_timeout=3)
    message = caught.value.message
    assert message.startswith(f"Could not connect to PostgreSQL at {spec.host}:{spec.port}: ")
    assert expected in message
    assert SECRET not in message and SECRET not in repr(caught.value.details)


def test_unix_sockets_are_not_allowed(pg: Pg) -> None:
    with pytest.raises(ConnectionFailed, match="Unix-domain"):
        PostgresEngine(pg.spec(host="/var/run/postgresql"))


# --- metadata ----------------------------------------------------------------------------------


def test_schema_lists_tables_views_columns_and_keys(engine: PostgresEngine) -> None:
    schema = engine.schema(refresh=True)
    names = [(t.schema, t.name, t.kind) for t in schema.tables]
    assert names == [
        ("public", "big_orders", "view"),
        ("public", "events", "table"),
        ("public", "insert", "table"),
        ("public", "mv", "view"),
        ("public", "orders", "table"),
        ("public", "update", "table"),
        ("public", "users", "table"),
        ("sales", "regions", "table"),
        ("sales", "targets", "table"),
    ]
    tables = {(t.schema, t.name): t for t in schema.tables}
    users = tables["public", "users"]
    assert users.comment == "People who can sign in" and users.primary_key == ("id",)
    columns = {c.name: c for c in users.columns}
    assert [c.name for c in users.columns][:3] == ["id", "org_id", "name"]
    assert columns["id"].type == "integer" and not columns["id"].nullable
    assert columns["email"].comment == "Where receipts go" and columns["email"].nullable
    assert columns["created_at"].type == "timestamp without time zone"
    assert tables["public", "orders"].foreign_keys == (
        ForeignKey(("user_id",), "public", "users", ("id",), "orders_user_fk"),
    )
    targets = tables["sales", "targets"]
    assert targets.primary_key == ("region", "user_id")
    assert {(fk.references_schema, fk.references_table) for fk in targets.foreign_keys} == {
        ("sales", "regions"),
        ("public", "users"),
    }
    regions = {c.name: c for c in tables["sales", "regions"].columns}
    assert regions["code"].type == "character(2)"
    assert regions["name"].type == "character varying(40)" and not regions["name"].nullable
    catalog = engine.catalog()
    users_columns = catalog.columns("users")
    assert users_columns is not None and users_columns["org_id"].not_null
    assert catalog.columns("sales.regions") is not None


def test_probe_reports_version_latency_and_write_access(engine: PostgresEngine, pg: Pg) -> None:
    info = engine.probe()
    assert info.version == engine.version() and info.version.startswith("PostgreSQL ")
    assert info.latency_ms > 0
    assert info.can_write and info.write_detail
    assert "SELECT grants" in info.write_detail
    reader = PostgresEngine(pg.spec(username=pg.reader), pool_size=1)
    try:
        read_only = reader.probe()
        assert not read_only.can_write and read_only.write_detail is None
        assert rows(reader, "SELECT count(*) AS n FROM users") == [{"n": 4}]
    finally:
        reader.close()


def test_close_ends_every_pooled_session(pg: Pg) -> None:
    engine = PostgresEngine(pg.spec())
    assert value(engine, "SELECT 1 AS x") == 1
    sessions = f"SELECT count(*) FROM pg_stat_activity WHERE usename = '{pg.owner}'"
    before = pg.one(sessions)
    engine.close()
    deadline = time.monotonic() + 2
    while pg.one(sessions) >= before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pg.one(sessions) == before - 1


# --- memory caps ------------------------------------------------------------------------------


def test_each_query_runs_under_work_mem_and_temp_file_limit_where_the_role_may(pg: Pg) -> None:
    sql = (
        "SELECT current_setting('work_mem') AS work_mem, "
        "current_setting('temp_file_limit') AS temp_file_limit"
    )
    server_default = pg.one("SHOW temp_file_limit")
    owner = PostgresEngine(pg.spec(), work_mem="8MB", temp_file_limit="100MB")
    superuser = PostgresEngine(
        pg.spec(username=conninfo_to_dict(PG_ADMIN_URL).get("user") or "postgres"),
        work_mem="1MB",
        temp_file_limit="5MB",
    )
    try:
        # Not a superuser: temp_file_limit is the superuser's to set, so it is skipped.
        assert rows(owner, sql) == [{"work_mem": "8MB", "temp_file_limit": server_default}]
        assert rows(superuser, sql) == [{"work_mem": "1MB", "temp_file_limit": "5MB"}]
        # A sort that spills more than the limit fails as a query error, not a 500.
        with pytest.raises(QueryError, match="temp_file_limit"):
            rows(
                superuser,
                "SELECT count(*) AS n FROM (SELECT md5(g::text) FROM generate_series(1, 500000)"
                " AS g ORDER BY 1 OFFSET 1) AS sorted",
            )
    finally:
        owner.close()
        superuser.close()


def test_a_size_that_is_not_postgresql_spelling_is_refused(pg: Pg) -> None:
    with pytest.raises(ValueError, match="Not a PostgreSQL size"):
        PostgresEngine(pg.spec(), work_mem="1GB'; DROP TABLE users; --")
