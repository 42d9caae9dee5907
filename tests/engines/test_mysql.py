"""The MySQL/MariaDB engine on the real server, as a non-root user that *could* write.

Every query goes straight to the engine (no SQL guard): what is checked here is the engine's own
session: refusals by the server's view of the statement, the read-only transaction, the deadline
that kills the statement, and the reset that leaves nothing behind for the next query.
"""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pymysql
import pytest

from sqlgate.engines._mysql_schema import write_grants
from sqlgate.engines._mysql_statement import leading_word
from sqlgate.engines._params import bind_named
from sqlgate.engines.mysql import MySQLEngine, _flavour
from sqlgate.errors import (
    ConnectionFailed,
    ParameterError,
    QueryError,
    QueryTimeout,
    SqlgateError,
    SqlNotAllowed,
)
from tests.conftest import corpus_cases
from tests.mysql_services import MySQLDatabase, create_user, drop_user, fresh_mysql_database

SETUP = [
    "CREATE TABLE users (id INT PRIMARY KEY, org_id INT NOT NULL, name TEXT, "
    "email TEXT COMMENT 'Login address', pw_hash TEXT, created_at TIMESTAMP NULL, "
    "`drop` TEXT, `select` TEXT) COMMENT 'People who sign in'",
    "CREATE TABLE orders (id INT PRIMARY KEY, org_id INT, user_id INT, amount DECIMAL(10,2), "
    "total DECIMAL(10,2), note TEXT, created_at DATETIME, "
    "CONSTRAINT orders_user FOREIGN KEY (user_id) REFERENCES users (id))",
    "CREATE TABLE events (id INT, payload JSON)",
    "CREATE TABLE `insert` (`drop` TEXT, `delete` TEXT, `update` TEXT)",
    "CREATE TABLE `update` (`drop` TEXT, `select` TEXT)",
    "CREATE VIEW big_orders AS SELECT id, amount FROM orders WHERE amount > 100",
    "INSERT INTO users VALUES "
    "(1, 1, 'Ada', 'ada@example.com', 'h1', '2024-01-02 10:00:00', 'd1', 's1'), "
    "(2, 1, 'O''Brien; DROP TABLE users', 'ob@example.com', 'h2', '2024-02-03 11:00:00', "
    "NULL, NULL), "
    "(3, 2, 'alan', 'alan@example.com', 'h3', '2024-03-04 12:00:00', NULL, NULL), "
    "(4, 2, '=HYPERLINK(\"http://evil\")', 'x@example.com', 'h4', '2024-04-05 13:00:00', "
    "NULL, NULL)",
    "INSERT INTO orders VALUES (1, 1, 1, 120.50, 120.50, 'first; order', '2024-01-10 09:00:00'), "
    "(2, 1, 1, 15.25, 15.25, NULL, '2024-02-11 09:30:00'), "
    "(3, 2, 3, 300.00, 310.00, '-5 discount', '2024-03-12 10:00:00')",
    "INSERT INTO events VALUES (1, '{\"a\": 1}')",
    "INSERT INTO `insert` VALUES ('a', 'b', 'c')",
    "INSERT INTO `update` VALUES ('x', 'y')",
    "CREATE TABLE kinds (id INT NOT NULL PRIMARY KEY, i INT, big BIGINT UNSIGNED, "
    "d DECIMAL(10,2), f DOUBLE, day DATE, at DATETIME(6), ts TIMESTAMP NULL, t TIME, j JSON, "
    "s VARCHAR(50), b BLOB, y YEAR, bits BIT(8), e ENUM('a', 'b'))",
    # A function the user may call that changes its session: the reset must undo all of it.
    "CREATE FUNCTION taint() RETURNS INT NOT DETERMINISTIC NO SQL SQL SECURITY INVOKER "
    "BEGIN SET @u = 7; SET SESSION time_zone = '+05:00'; "
    "RETURN GET_LOCK('sqlgate_taint', 0); END",
]
KINDS = [
    (1, -42, 2**64 - 1, Decimal("12.34"), 1.5, date(2024, 1, 2),
     datetime(2024, 1, 2, 3, 4, 5, 123456), datetime(2024, 1, 2, 3, 4, 5), "-01:02:03",
     '{"a": [1, 2]}', 'it\'s\na "line"', b"\x00\xff\x10", 2024, b"\x05", "b"),
    (2, 0, 0, Decimal("-0.50"), -2.25, date(1999, 12, 31), datetime(1999, 12, 31, 23, 59, 59),
     None, "838:59:59", "null", "", b"", 1999, b"\x00", "a"),
    (3, *[None] * 14),
]  # fmt: skip


@pytest.fixture(scope="module")
def db() -> Iterator[MySQLDatabase]:
    with fresh_mysql_database() as db:
        with db.admin() as admin, admin.cursor() as cursor:
            for statement in SETUP:
                cursor.execute(statement)
            cursor.executemany(f"INSERT INTO kinds VALUES ({', '.join(['%s'] * 15)})", KINDS)
        yield db


@pytest.fixture(scope="module")
def engine(db: MySQLDatabase) -> Iterator[MySQLEngine]:
    engine = MySQLEngine(db.spec())
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def solo(db: MySQLDatabase) -> Iterator[MySQLEngine]:
    """One pooled connection: each query reuses the previous one's session when it was healthy."""
    engine = MySQLEngine(db.spec(), pool_size=1)
    yield engine
    engine.close()


@pytest.fixture
def admin(db: MySQLDatabase) -> Iterator[Any]:
    with db.admin() as conn:
        yield conn


def rows(
    engine: MySQLEngine, sql: str, params: dict[str, Any] | None = None
) -> list[tuple[Any, ...]]:
    table = engine.execute(sql, params, timeout=10, row_limit=10_000).table
    return list(zip(*(column.to_pylist() for column in table.columns), strict=True))


def one(conn: Any, sql: str, args: Any = None) -> Any:
    with conn.cursor() as cursor:
        cursor.execute(sql, args)
        return cursor.fetchone()


def numbers(engine: MySQLEngine, n: int) -> str:
    """``SELECT n`` for 1..n: MariaDB's Sequence engine, else cross-joined digits."""
    if engine.version().startswith("MariaDB"):
        return f"SELECT seq AS n FROM seq_1_to_{n}"
    width = len(str(n))
    digits = ", ".join(f"d AS d{i}" for i in range(width))
    value = " + ".join(f"{10**i} * d{i}.x" for i in range(width))
    return (
        "WITH RECURSIVE d(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM d WHERE x < 9) "
        f"SELECT 1 + {value} AS n FROM {digits} HAVING n <= {n}"
    )


# --- connecting ---------------------------------------------------------------------------------


def test_version_and_probe_flag_a_user_that_could_write(engine: MySQLEngine) -> None:
    assert engine.version().split(" ")[0] in {"MariaDB", "MySQL"}
    assert engine.version().split(" ")[1][0].isdigit()
    info = engine.probe()
    assert info.latency_ms > 0
    assert info.can_write
    assert info.write_detail is not None
    assert "ALL PRIVILEGES ON" in info.write_detail and "only SELECT" in info.write_detail
    assert "PASSWORD" not in info.write_detail  # MariaDB's grant lines carry the hash


def test_probe_of_a_select_only_user(db: MySQLDatabase, admin: Any) -> None:
    reader, password = f"sqlgate_r_{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    escaped = db.name.replace("_", "\\_")
    create_user(admin, reader, password, f"SELECT ON `{escaped}`.*")
    try:
        engine = MySQLEngine(db.spec(username=reader, password=password))
        try:
            info = engine.probe()
        finally:
            engine.close()
    finally:
        drop_user(admin, reader)
    assert not info.can_write and info.write_detail is None


def test_write_grants_read_targets_and_wildcards() -> None:
    grants = [
        "GRANT USAGE ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*2B602296A79E0A8784ACC5C88D92E46'",
        "GRANT SELECT, INSERT ON `shop`.* TO `u`@`%`",
        "GRANT SELECT (`a`, `b`), UPDATE (`c`) ON `shop`.`t` TO `u`@`%`",
        "GRANT DELETE ON `sh_p`.* TO `u`@`%`",
        "GRANT DROP ON `sh\\_p`.* TO `u`@`%`",
        "GRANT ALL PRIVILEGES ON `other`.* TO `u`@`%`",
        "GRANT EXECUTE ON PROCEDURE `shop`.`p` TO `u`@`%`",
        "GRANT `reporting`@`%` TO `u`@`%`",
    ]
    assert write_grants(grants, "shop") == [
        "INSERT ON `shop`.*",
        "UPDATE ON `shop`.`t`",
        "DELETE ON `sh_p`.*",
    ]
    assert write_grants(["GRANT FILE ON *.* TO 'u'@'%'"], "x") == ["FILE ON *.*"]
    assert write_grants(["GRANT SELECT ON *.* TO 'u'@'%'"], "x") == []


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ("5.5.5-10.11.19-MariaDB-0+deb12u1", (True, "10.11.19")),
        ("11.4.2-MariaDB-log", (True, "11.4.2")),
        ("8.0.36-0ubuntu0.22.04.1", (False, "8.0.36")),
    ],
)
def test_flavour_from_the_server_version(info: str, expected: tuple[bool, str]) -> None:
    assert _flavour(info) == expected


def test_a_pooled_connection_the_server_dropped_is_replaced(solo: MySQLEngine, admin: Any) -> None:
    (old,) = rows(solo, "SELECT CONNECTION_ID()")[0]
    with admin.cursor() as cursor:
        cursor.execute(f"KILL {int(old)}")
    (new,) = rows(solo, "SELECT CONNECTION_ID()")[0]
    assert new != old


def test_wrong_password_fails_without_the_password(db: MySQLDatabase) -> None:
    secret = "Wr0ng-" + secrets.token_hex(6)
    with pytest.raises(ConnectionFailed) as caught:
        MySQLEngine(db.spec(password=secret))
    error = caught.value
    assert "Access denied" in error.message
    for text in (error.message, str(error), repr(error), repr(error.details)):
        assert secret not in text


def test_unreachable_port_and_unknown_database_fail_to_connect(db: MySQLDatabase) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(ConnectionFailed, match="Can't connect"):
        MySQLEngine(db.spec(host="127.0.0.1", port=free_port), connect_timeout=2)
    assert time.monotonic() - started < 3
    with pytest.raises(ConnectionFailed, match="sqlgate_missing"):
        MySQLEngine(db.spec(database="sqlgate_missing"))


def test_ssl_modes(db: MySQLDatabase, admin: Any) -> None:
    with pytest.raises(ConnectionFailed, match="Unknown ssl_mode"):
        MySQLEngine(db.spec(ssl_mode="sometimes"))
    MySQLEngine(db.spec(ssl_mode="disabled")).close()
    MySQLEngine(db.spec(ssl_mode="preferred")).close()
    if one(admin, "SELECT @@have_ssl")[0] == "YES":
        MySQLEngine(db.spec(ssl_mode="required")).close()
    else:
        with pytest.raises(ConnectionFailed, match=r"SSL|TLS"):
            MySQLEngine(db.spec(ssl_mode="required"))


# --- results ------------------------------------------------------------------------------------


def test_types_values_and_names(engine: MySQLEngine) -> None:
    result = engine.execute("SELECT * FROM kinds ORDER BY id", None, timeout=10, row_limit=10)
    types = {f.name: f.type for f in result.table.schema}
    assert types == {
        "id": pa.int64(),
        "i": pa.int64(),
        "big": pa.uint64(),
        "d": pa.decimal128(10, 2),
        "f": pa.float64(),
        "day": pa.date32(),
        "at": pa.timestamp("us"),
        "ts": pa.timestamp("us"),
        "t": pa.string(),
        "j": pa.string(),
        "s": pa.string(),
        "b": pa.binary(),
        "y": pa.int16(),
        "bits": pa.int64(),
        "e": pa.string(),
    }
    names = {c.name: c.type for c in result.columns}
    assert names["big"] == "BIGINT UNSIGNED" and names["d"] == "DECIMAL(10,2)"
    assert names["at"] == "DATETIME" and names["ts"] == "TIMESTAMP" and names["t"] == "TIME"
    assert names["b"] == "BLOB" and names["e"] == "ENUM" and names["y"] == "YEAR"
    assert names["j"] in {"JSON", "TEXT"}  # MariaDB's JSON is LONGTEXT with a check
    got = list(zip(*(column.to_pylist() for column in result.table.columns), strict=True))
    expected = [list(row) for row in KINDS]
    expected[0][13], expected[1][13] = 5, 0  # BIT(8) as a number
    assert got == [tuple(row) for row in expected]
    assert got[1][10] == "" and got[2][10] is None  # empty string is not NULL


def test_not_null_comes_from_the_column_flags(engine: MySQLEngine) -> None:
    def flags(sql: str) -> list[bool]:
        return [c.not_null for c in engine.execute(sql, None, timeout=10, row_limit=10).columns]

    assert flags("SELECT id, i FROM kinds") == [True, False]
    assert flags("SELECT 1 AS one, NULL AS nothing, count(*) AS n FROM users") == [
        True,
        False,
        True,
    ]
    assert flags("SELECT u.id, o.id FROM users u LEFT JOIN orders o ON o.user_id = u.id") == [
        True,
        False,
    ]
    # WITH ROLLUP adds NULLs to columns the server still flags NOT NULL.
    rollup = "SELECT org_id, count(*) AS n FROM users GROUP BY org_id WITH ROLLUP"
    assert flags(rollup) == [False, False]
    assert rows(engine, rollup)[-1] == (None, 4)


def test_parameters_stay_values(engine: MySQLEngine) -> None:
    tricky = [
        "it's",
        "back\\slash",
        "\\' OR 1=1 -- ",
        "x' OR '1'='1",
        'a\nb"c',
        "%s %(v)s :v",
        "",
        None,
        -3,
        1.5,
        b"\x00'\xff",
    ]
    for value in tricky:
        assert rows(engine, "SELECT :v AS v", {"v": value}) == [(value,)]
    assert rows(engine, "SELECT :v AS v", {"v": True}) == [(1,)]
    assert rows(engine, "SELECT :v AS v", {"v": Decimal("1.25")}) == [(Decimal("1.25"),)]
    count = "SELECT count(*) FROM users WHERE name = :name"
    assert rows(engine, count, {"name": "x' OR '1'='1"}) == [(0,)]
    assert rows(engine, count, {"name": "O'Brien; DROP TABLE users"}) == [(1,)]
    assert rows(engine, "SELECT id FROM users WHERE id IN :ids ORDER BY id", {"ids": [3, 1]}) == [
        (1,),
        (3,),
    ]
    like = "SELECT name FROM users WHERE name LIKE '%la%' AND id < :n"
    assert rows(engine, like, {"n": 10}) == [("alan",)]
    assert rows(engine, "SELECT '%s' AS s") == [("%s",)]
    bad_params: list[dict[str, Any]] = [{"v": {"a": 1}}, {"v": []}, {"v": float("nan")}, {"w": 1}]
    for bad in bad_params:
        with pytest.raises(ParameterError):
            engine.execute("SELECT :v AS v", bad, timeout=10, row_limit=1)


@pytest.mark.parametrize("sql_mode", ["", "NO_BACKSLASH_ESCAPES"])
def test_binding_follows_the_sessions_escaping(db: MySQLDatabase, sql_mode: str) -> None:
    """The engine binds with ``conn.escape``: PyMySQL reads NO_BACKSLASH_ESCAPES from the
    server's status flags, so a backslash cannot end a literal in either mode."""
    conn = pymysql.connect(
        host=db.host, port=db.port, user=db.user, password=db.password, database=db.name
    )
    with conn, conn.cursor() as cursor:
        cursor.execute(f"SET SESSION sql_mode = '{sql_mode}'")
        for value in ("\\' OR 1=1 -- ", "a\\", "'; SELECT 1; --"):
            cursor.execute(bind_named("SELECT :v", {"v": value}, "mysql", conn.escape))
            assert cursor.fetchall() == ((value,),)


# --- streaming ----------------------------------------------------------------------------------


def test_row_limit_truncates_and_keeps_the_connection(solo: MySQLEngine) -> None:
    before = rows(solo, "SELECT CONNECTION_ID()")
    result = solo.execute(numbers(solo, 100), None, timeout=10, row_limit=10)
    assert result.truncated and result.row_count == 10
    assert rows(solo, "SELECT CONNECTION_ID()") == before


def test_concurrent_queries_share_the_pool(engine: MySQLEngine) -> None:
    def work(i: int) -> list[tuple[Any, ...]]:
        return [rows(engine, "SELECT :i + 0 AS i, @x := :i AS x", {"i": i})[0] for _ in range(5)]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(16)))
    assert results == [[(i, i)] * 5 for i in range(16)]


def test_a_large_result_streams_in_batches(engine: MySQLEngine) -> None:
    stream = engine.stream(numbers(engine, 200_000), None, timeout=60, row_limit=None)
    sizes, total = [], 0
    for batch in stream:
        sizes.append(batch.num_rows)
        total += pc.sum(batch.column(0)).as_py()
    assert sum(sizes) == 200_000 and max(sizes) <= 65_536 and len(sizes) >= 4
    assert total == 200_000 * 200_001 // 2


def test_closing_a_huge_stream_early_is_quick_and_leaves_the_pool_healthy(
    solo: MySQLEngine, db: MySQLDatabase, admin: Any
) -> None:
    before = rows(solo, "SELECT CONNECTION_ID()")
    started = time.monotonic()
    stream = solo.stream(
        numbers(solo, 10_000_000), None, timeout=60, row_limit=None, batch_rows=1000
    )
    assert next(iter(stream)).num_rows == 1000
    stream.close()
    assert time.monotonic() - started < 3
    assert rows(solo, "SELECT CONNECTION_ID()") == before  # killed, drained and reused
    busy = (
        "SELECT count(*) FROM information_schema.PROCESSLIST WHERE USER = %s AND COMMAND <> 'Sleep'"
    )
    assert one(admin, busy, (db.user,)) == (0,)


@pytest.mark.parametrize(
    "call",
    ["SLEEP(30)", "BENCHMARK(10000000000, MD5('x'))"],  # both return normally when killed
)
def test_timeout_kills_the_statement_on_the_server(
    engine: MySQLEngine, admin: Any, call: str
) -> None:
    marker = f"busy_{secrets.token_hex(4)}"
    started = time.monotonic()
    with pytest.raises(QueryTimeout):
        engine.execute(f"SELECT {call} AS {marker}", None, timeout=1, row_limit=1)
    # Well before the server's own limit (timeout + 1 s): the deadline's KILL QUERY did it.
    assert time.monotonic() - started < 1.6
    running = (
        "SELECT count(*) FROM information_schema.PROCESSLIST "
        "WHERE INFO LIKE %s AND ID <> CONNECTION_ID()"
    )
    while one(admin, running, (f"%{marker}%",)) != (0,):
        assert time.monotonic() - started < 2.0, "the statement still runs on the server"
        time.sleep(0.05)
    assert rows(engine, "SELECT 1") == [(1,)]


# --- refusals and errors ------------------------------------------------------------------------


def test_stacked_statements_are_refused_before_anything_runs(
    engine: MySQLEngine, admin: Any
) -> None:
    with pytest.raises(SqlNotAllowed) as caught:
        engine.execute("SELECT 1; DROP TABLE users", None, timeout=10, row_limit=1)
    assert caught.value.details["reason"] == "multiple_statements"
    assert one(admin, "SELECT count(*) FROM users") == (4,)


def test_statements_without_rows_are_refused_before_running(engine: MySQLEngine) -> None:
    for sql in ("SELECT id FROM users INTO @x", "WITH u AS (SELECT 1) SELECT * FROM u INTO @y"):
        with pytest.raises(SqlNotAllowed, match="returns no rows"):
            engine.execute(sql, None, timeout=10, row_limit=1)
    started = time.monotonic()
    with pytest.raises(SqlNotAllowed, match="returns no rows"):
        engine.execute("SELECT SLEEP(2) INTO @z", None, timeout=10, row_limit=1)
    assert time.monotonic() - started < 1  # refused when prepared, not after running
    with pytest.raises(SqlNotAllowed, match="executable comment"):
        engine.execute("/*!50000 SELECT */ 1", None, timeout=10, row_limit=1)


@pytest.mark.parametrize(
    ("sql", "word"),
    [
        ("  (SELECT 1)", "SELECT"),
        ("/* note */ with x AS (SELECT 1) SELECT * FROM x", "WITH"),
        ("-- note\nVALUES (1)", "VALUES"),
        ("# note\nSELECT 1", "SELECT"),
        ("--1", "-"),  # not a comment to MySQL without a blank after --
        ("/*! SELECT */ 1", "/*!"),
        ("/*M!100000 OPTIMIZE */ TABLE t", "/*!"),
        ("/* unterminated SELECT", ""),
        ("\uff24\uff25\uff2c\uff25\uff34\uff25 FROM users", "\uff24"),
        ("set statement max_statement_time=0 for select 1", "SET"),
    ],
)
def test_leading_word_is_read_as_the_server_reads_it(sql: str, word: str) -> None:
    assert leading_word(sql) == word


def test_query_errors(engine: MySQLEngine) -> None:
    with pytest.raises(QueryError, match="doesn't exist"):
        engine.execute("SELECT * FROM nowhere", None, timeout=10, row_limit=1)
    with pytest.raises(QueryError, match="syntax"):
        engine.execute("SELECT FROM WHERE", None, timeout=10, row_limit=1)
    with pytest.raises(SqlNotAllowed, match="Refused by the read-only session") as caught:
        engine.execute("SELECT * FROM mysql.user", None, timeout=10, row_limit=1)
    assert caught.value.details["reason"] == "engine_refused"


def test_the_session_is_reset_between_queries(solo: MySQLEngine, admin: Any) -> None:
    first = rows(solo, "SELECT taint(), @v := 5, CONNECTION_ID()")
    assert first[0][:2] == (1, 5)
    after = rows(
        solo,
        "SELECT @u, @v, @@session.time_zone = @@global.time_zone, "
        "IS_FREE_LOCK('sqlgate_taint'), CONNECTION_ID()",
    )
    assert after == [(None, None, 1, 1, first[0][2])]  # same connection, clean session
    assert one(admin, "SELECT IS_FREE_LOCK('sqlgate_taint')") == (1,)


def test_schema(engine: MySQLEngine, db: MySQLDatabase) -> None:
    schema = engine.schema(refresh=True)
    tables = {t.name: t for t in schema.tables}
    assert set(tables) == {"big_orders", "events", "insert", "kinds", "orders", "update", "users"}
    assert schema.schemas == [db.name]
    users, orders, view = tables["users"], tables["orders"], tables["big_orders"]
    assert users.kind == "table" and users.comment == "People who sign in"
    assert users.primary_key == ("id",)
    email = next(c for c in users.columns if c.name == "email")
    org_id = next(c for c in users.columns if c.name == "org_id")
    assert email.comment == "Login address" and email.nullable and not org_id.nullable
    assert [c.type for c in orders.columns][3] == "decimal(10,2)"
    (fk,) = orders.foreign_keys
    assert (fk.columns, fk.references_schema, fk.references_table, fk.references_columns) == (
        ("user_id",),
        db.name,
        "users",
        ("id",),
    )
    assert fk.name == "orders_user"
    assert view.kind == "view" and view.comment is None and view.primary_key == ()
    assert engine.catalog().columns("USERS") is not None


# --- the security corpus, guard off --------------------------------------------------------------

# How the engine alone deals with each MySQL `expect: reject` case:
#   refused:   an error before anything runs (or the server's own refusal);
#   contained: it runs, and the checks below prove nothing is left behind or leaked;
#   ran:       a read the engine cannot tell from a legitimate one; only the SQL guard stops it.
REJECTS: dict[str, tuple[str, str]] = {
    "SELECT 1; DELETE FROM users --": ("write", "refused"),
    "SELECT 1 /* ; */ ; DELETE FROM users": ("write", "refused"),
    "SELECT 1 -- note\n; DROP TABLE users": ("write", "refused"),
    "BEGIN; DELETE FROM users; COMMIT": ("write", "refused"),
    "UPDATE users SET name = 'x'": ("write", "refused"),
    "INSERT INTO users (id) VALUES (1)": ("write", "refused"),
    "TRUNCATE TABLE users": ("write", "refused"),
    "ALTER TABLE users ADD COLUMN x INT": ("write", "refused"),
    "CREATE TABLE copy_of_users AS SELECT * FROM users": ("write", "refused"),
    "CREATE VIEW v AS SELECT 1": ("write", "refused"),
    "": ("empty", "refused"),
    "-- just a comment": ("empty", "refused"),
    "SELECT 1 \u037e DROP TABLE users": ("write", "refused"),
    "\uff24\uff25\uff2c\uff25\uff34\uff25 FROM users": ("write", "refused"),
    "SELECT * FROM users /*!INTO OUTFILE '/tmp/x' */": ("file", "refused"),
    "SELECT 1 /*!, LOAD_FILE('/etc/passwd') */": ("file", "contained"),
    "SELECT BENCHMARK(1000000000, MD5('x'))": ("cpu", "refused"),
    "DO SLEEP(10)": ("cpu", "refused"),
    "SET SESSION max_execution_time = 0": ("setting", "refused"),
    "SET GLOBAL general_log = 'ON'": ("setting", "refused"),
    "SELECT * FROM users FOR UPDATE": ("session-state", "refused"),  # MariaDB: read-only txn
    "SELECT * FROM users LOCK IN SHARE MODE": ("session-state", "contained"),
    "LOCK TABLES users READ": ("session-state", "refused"),
    "SELECT * FROM users INTO @a": ("session-state", "refused"),
    "LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE t": ("file", "refused"),
    "SELECT 1; COMMIT; DROP TABLE t": ("write", "refused"),
    "SELECT @@datadir, @@hostname, @@secure_file_priv": ("disclosure", "ran"),
    "SELECT * FROM information_schema.processlist": ("disclosure", "contained"),
    "KILL 12345": ("session-state", "refused"),
    "SHOW PROCESSLIST": ("disclosure", "refused"),
    "REPLACE INTO users VALUES (1, 1, 'x')": ("write", "refused"),
}
MYSQL_REJECTS = [c for c in corpus_cases("mysql", "any") if c["expect"] == "reject"]
MYSQL_ALLOWS = [c for c in corpus_cases("mysql", "any") if c["expect"] == "allow"]


def test_every_reject_case_has_a_class() -> None:
    assert {c["sql"] for c in MYSQL_REJECTS} == set(REJECTS)


def snapshot(admin: Any, database: str) -> tuple[Any, ...]:
    """Everything a statement could have changed: tables, columns, data, global settings."""
    with admin.cursor() as cursor:
        cursor.execute(
            "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = %s ORDER BY 1",
            (database,),
        )
        tables = cursor.fetchall()
        cursor.execute(
            "SELECT count(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s", (database,)
        )
        columns = cursor.fetchall()
        cursor.execute("CHECKSUM TABLE users, orders, events, `insert`, `update`")
        data = cursor.fetchall()
        cursor.execute(
            "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('general_log', 'sql_mode', "
            "'max_statement_time', 'max_execution_time', 'local_infile', 'time_zone')"
        )
        settings = cursor.fetchall()
    return tables, columns, data, settings


def assert_nothing_held(solo: MySQLEngine, admin: Any) -> None:
    """No variable or setting survives into the next query on the same pool, and no row or table
    lock is left: another session writes at once (and rolls back)."""
    assert rows(
        solo,
        "SELECT @a, @@session.sql_mode = @@global.sql_mode, "
        "@@session.time_zone = @@global.time_zone",
    ) == [(None, 1, 1)]
    with admin.cursor() as cursor:
        cursor.execute("SET SESSION lock_wait_timeout = 1, innodb_lock_wait_timeout = 1")
        cursor.execute("START TRANSACTION")
        cursor.execute("UPDATE users SET name = name WHERE id = 1")
        cursor.execute("ROLLBACK")


@pytest.mark.parametrize("case", MYSQL_REJECTS, ids=lambda c: c["why"][:50])
def test_corpus_reject_is_refused_or_contained(
    case: dict[str, str], solo: MySQLEngine, admin: Any, db: MySQLDatabase
) -> None:
    expected = REJECTS[case["sql"]][1]
    outfile = Path("/tmp/x")  # the corpus's INTO OUTFILE target, when the server is local
    outfile_existed = outfile.exists()
    before = snapshot(admin, db.name)
    try:
        answer = solo.execute(case["sql"], None, timeout=1, row_limit=100).table.to_pylist()
    except (SqlNotAllowed, QueryError, QueryTimeout):
        answer = None
    assert (answer is None) == (expected == "refused")
    assert snapshot(admin, db.name) == before
    assert_nothing_held(solo, admin)
    assert outfile_existed or not outfile.exists()
    values = [v for row in answer or () for v in row.values()]
    assert not any("root:" in str(v) for v in values)  # no /etc/passwd in the answer
    if "processlist" in case["sql"] and answer is not None:
        assert {row["USER"] for row in answer} == {db.user}  # only its own sessions


@pytest.mark.parametrize("case", MYSQL_ALLOWS, ids=lambda c: c["why"][:50])
def test_corpus_allow_runs(case: dict[str, str], engine: MySQLEngine) -> None:
    try:
        engine.execute(case["sql"], None, timeout=10, row_limit=100)
    except SqlgateError as exc:
        pytest.fail(f"{case['sql']!r} was refused: {exc.message}")


def test_each_query_runs_with_capped_temporary_tables(db: MySQLDatabase) -> None:
    engine = MySQLEngine(db.spec(), tmp_table_bytes=1024 * 1024)
    try:
        assert rows(engine, "SELECT @@session.tmp_table_size, @@session.max_heap_table_size") == [
            (1024 * 1024, 1024 * 1024)
        ]
    finally:
        engine.close()
