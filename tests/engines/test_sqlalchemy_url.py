"""The generic SQLAlchemy engine on real databases: a SQLite file URL (the Chinook copy), the
local PostgreSQL (a fresh database per test) and, for MySQL's KILL QUERY timeout, MariaDB."""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest
from sqlalchemy.engine import make_url

from sqlgate.engines.base import ConnectionSpec, Engine
from sqlgate.engines.sqlalchemy_url import SQLAlchemyEngine, sqlglot_dialect
from sqlgate.errors import (
    ConnectionFailed,
    ParameterError,
    QueryError,
    QueryTimeout,
    SqlgateError,
    SqlNotAllowed,
)
from sqlgate.vocabulary.schema import ForeignKey
from tests.conftest import CHINOOK_SQLITE
from tests.services import fresh_pg_database, unavailable

SECRET = "pw-S3cret-7f"  # trust auth ignores it; it must never show in an error
MARIADB_URL = os.environ.get(
    "SQLGATE_TEST_MYSQL_SA_URL", "mysql+pymysql://root@127.0.0.1:3306/test"
)
COUNT_TO = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < {}) "


def spec(url: str, password: str | None = None) -> ConnectionSpec:
    return ConnectionSpec(
        id="conn_test",
        type="sqlalchemy",
        database=url,
        updated_at=datetime.now(UTC),
        password=password,
    )


def rows(engine: Engine, sql: str, params: dict[str, object] | None = None) -> list[dict]:
    return engine.execute(sql, params, timeout=10, row_limit=1000).table.to_pylist()


# --- SQLite file URL ---------------------------------------------------------------------------


@pytest.fixture
def chinook_path(tmp_path: Path) -> Path:
    path = tmp_path / "chinook.sqlite"
    shutil.copy(CHINOOK_SQLITE, path)
    return path


@pytest.fixture
def lite(chinook_path: Path) -> Iterator[SQLAlchemyEngine]:
    # One pooled connection: what a query leaves behind would be seen by the next one.
    engine = SQLAlchemyEngine(spec(f"sqlite:///{chinook_path}"), pool_size=1)
    yield engine
    engine.close()


def test_sqlite_query_params_and_dialect(lite: SQLAlchemyEngine) -> None:
    assert lite.dialect == "sqlite"
    assert lite.type == "sqlalchemy" and lite.parameter_style == ":name"
    assert rows(lite, "SELECT Name FROM Artist WHERE ArtistId = :id", {"id": 1}) == [
        {"Name": "AC/DC"}
    ]
    # Colons in strings and comments are not parameters.
    sql = "SELECT ':x' AS s, '{\"a\":1}' AS j, :n AS n -- :c"
    assert rows(lite, sql, {"n": 5}) == [{"s": ":x", "j": '{"a":1}', "n": 5}]
    with pytest.raises(ParameterError, match="missing"):
        lite.execute("SELECT :missing", None, timeout=5, row_limit=1)


def test_sqlite_truncation_and_columns(lite: SQLAlchemyEngine) -> None:
    result = lite.execute(
        "SELECT TrackId, Name, UnitPrice FROM Track ORDER BY TrackId", None, timeout=5, row_limit=10
    )
    assert result.row_count == 10 and result.truncated
    assert [(c.name, c.type) for c in result.columns] == [
        ("TrackId", "BIGINT"),
        ("Name", "VARCHAR"),
        ("UnitPrice", "DOUBLE"),
    ]
    full = lite.execute("SELECT * FROM Genre", None, timeout=5, row_limit=1000)
    assert full.row_count == 25 and not full.truncated


def test_sqlite_streams_100k_rows_in_batches(lite: SQLAlchemyEngine) -> None:
    stream = lite.stream(
        COUNT_TO.format(100_000) + "SELECT n FROM r",
        None,
        timeout=30,
        row_limit=None,
        batch_rows=10_000,
    )
    batches = list(stream)
    assert len(batches) == 10
    assert sum(b.num_rows for b in batches) == 100_000 and not stream.truncated
    assert batches[-1].column("n")[-1].as_py() == 100_000


def test_sqlite_writes_fail_and_leave_nothing(lite: SQLAlchemyEngine, chinook_path: Path) -> None:
    with pytest.raises(SqlNotAllowed) as refused:
        lite.execute("INSERT INTO Artist (Name) VALUES ('x')", None, timeout=5, row_limit=1)
    assert refused.value.details["reason"] == "engine_refused"
    # A temp table may be created on a read-only file, but the rollback drops it.
    with pytest.raises(SqlNotAllowed) as no_rows:
        lite.execute("CREATE TEMP TABLE t AS SELECT 1 AS a", None, timeout=5, row_limit=1)
    assert no_rows.value.details["reason"] == "not_read_only"
    with pytest.raises(QueryError, match="no such table"):
        lite.execute("SELECT * FROM temp.t", None, timeout=5, row_limit=1)
    with pytest.raises(SqlNotAllowed) as stacked:
        lite.execute("SELECT 1; DELETE FROM Artist", None, timeout=5, row_limit=1)
    assert stacked.value.details["reason"] == "multiple_statements"
    with pytest.raises(SqlgateError):
        lite.execute(f"ATTACH '{chinook_path}.x' AS x", None, timeout=5, row_limit=1)
    assert not Path(f"{chinook_path}.x").exists()
    con = sqlite3.connect(chinook_path)
    assert con.execute("SELECT count(*) FROM Artist").fetchone() == (275,)
    con.close()


def test_sqlite_timeout_interrupts(lite: SQLAlchemyEngine) -> None:
    sql = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r"
    started = time.monotonic()
    with pytest.raises(QueryTimeout):
        lite.execute(sql, None, timeout=0.5, row_limit=1)
    assert time.monotonic() - started < 2
    assert rows(lite, "SELECT 1 AS one") == [{"one": 1}]


def test_sqlite_schema_version_and_probe(lite: SQLAlchemyEngine) -> None:
    schema = lite.schema()
    assert [t.name for t in schema.tables][:3] == ["Album", "Artist", "Customer"]
    assert len(schema.tables) == 11 and schema.schemas == ["main"]
    album = schema.tables[0]
    assert [(c.name, c.type, c.nullable) for c in album.columns] == [
        ("AlbumId", "INTEGER", False),
        ("Title", "NVARCHAR(160)", False),
        ("ArtistId", "INTEGER", False),
    ]
    assert album.primary_key == ("AlbumId",)
    assert album.foreign_keys == (ForeignKey(("ArtistId",), "main", "Artist", ("ArtistId",)),)
    assert lite.schema() is schema and lite.schema(refresh=True) is not schema
    track = lite.catalog().columns("track")
    assert track is not None and track["name"].not_null and not track["composer"].not_null
    assert lite.version().startswith("SQLite 3.")
    info = lite.probe()
    assert info.version == lite.version() and info.can_write is False


# --- PostgreSQL --------------------------------------------------------------------------------

PG_DDL = """
CREATE SCHEMA sales;
CREATE TABLE artist (id integer PRIMARY KEY, name varchar(120) NOT NULL);
COMMENT ON TABLE artist IS 'Who plays';
COMMENT ON COLUMN artist.name IS 'Stage name';
CREATE TABLE album (id integer PRIMARY KEY, artist_id integer REFERENCES artist (id),
    title text, released timestamptz);
CREATE VIEW long_titles AS SELECT id, title FROM album WHERE length(title) > 20;
COMMENT ON VIEW long_titles IS 'Wordy';
CREATE TABLE aardvark (x int);
CREATE TABLE log (msg text);
CREATE TABLE sales.invoice (id bigint, line int, album_id integer REFERENCES public.album (id),
    total numeric(10, 2), PRIMARY KEY (id, line));
CREATE FUNCTION write_log() RETURNS int LANGUAGE sql
    AS $$ INSERT INTO log VALUES ('x') RETURNING 1 $$;
INSERT INTO artist VALUES (1, 'AC/DC'), (2, 'Accept');
"""


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_pg_database() as url:
        with psycopg.connect(url, autocommit=True) as con:
            con.execute(PG_DDL)
        yield url


@pytest.fixture
def pg(pg_url: str) -> Iterator[SQLAlchemyEngine]:
    engine = SQLAlchemyEngine(
        spec(pg_url.replace("postgresql://", "postgresql+psycopg://"), SECRET), pool_size=2
    )
    yield engine
    engine.close()


@pytest.mark.postgres
def test_pg_query_params_and_types(pg: SQLAlchemyEngine) -> None:
    assert pg.dialect == "postgres"
    assert rows(pg, "SELECT :n::int + 1 AS v, '{\"a\":1}'::jsonb AS j", {"n": "41"}) == [
        {"v": 42, "j": '{"a": 1}'}
    ]
    result = pg.execute(
        "SELECT 1.50::numeric(10, 2) AS d, now() AS t, date '2024-01-02' AS day, true AS b, "
        "interval '1 day' AS i, 'a%b' AS p, gen_random_uuid() AS u",
        None,
        timeout=5,
        row_limit=10,
    )
    assert result.table.schema.types == [
        pa.decimal128(38, 2),
        pa.timestamp("us", tz="UTC"),
        pa.date32(),
        pa.bool_(),
        pa.duration("us"),
        pa.string(),
        pa.string(),
    ]
    assert result.table.column("p").to_pylist() == ["a%b"]
    truncated = pg.execute(
        "SELECT * FROM generate_series(1, 50) AS n", None, timeout=5, row_limit=20
    )
    assert truncated.row_count == 20 and truncated.truncated


@pytest.mark.postgres
def test_pg_streams_100k_rows(pg: SQLAlchemyEngine) -> None:
    sql = "SELECT n, md5(n::text) AS h FROM generate_series(1, 100000) AS n"
    stream = pg.stream(sql, None, timeout=30, row_limit=None, batch_rows=10_000)
    assert sum(b.num_rows for b in stream) == 100_000 and not stream.truncated
    limited = pg.stream(sql, None, timeout=30, row_limit=25_000, batch_rows=10_000)
    assert sum(b.num_rows for b in limited) == 25_000 and limited.truncated


@pytest.mark.postgres
def test_pg_timeout_cancels_on_the_server(pg: SQLAlchemyEngine, pg_url: str) -> None:
    started = time.monotonic()
    with pytest.raises(QueryTimeout):
        pg.execute("SELECT pg_sleep(10)", None, timeout=0.5, row_limit=1)
    assert time.monotonic() - started < 2
    with psycopg.connect(pg_url) as con:
        sleeping = con.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE state = 'active' AND query LIKE '%pg_sleep(10)%' AND pid <> pg_backend_pid()"
        ).fetchone()
    assert sleeping == (0,)
    assert rows(pg, "SELECT 1 AS one") == [{"one": 1}]


@pytest.mark.postgres
def test_pg_writes_are_refused_and_not_kept(pg: SQLAlchemyEngine, pg_url: str) -> None:
    with pytest.raises(SqlNotAllowed) as refused:
        pg.execute("SELECT write_log()", None, timeout=5, row_limit=1)
    assert refused.value.details["reason"] == "engine_refused"
    for sql in (
        "INSERT INTO log VALUES ('y')",
        "WITH d AS (DELETE FROM artist RETURNING *) SELECT * FROM d",
        "SELECT 1; DELETE FROM artist",
    ):
        with pytest.raises((SqlNotAllowed, QueryError)):
            pg.execute(sql, None, timeout=5, row_limit=1)
    with psycopg.connect(pg_url) as con:
        assert con.execute("SELECT count(*) FROM log").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM artist").fetchone() == (2,)


@pytest.mark.postgres
def test_pg_schema(pg: SQLAlchemyEngine) -> None:
    schema = pg.schema()
    assert [(t.schema, t.name, t.kind) for t in schema.tables] == [
        ("public", "aardvark", "table"),
        ("public", "album", "table"),
        ("public", "artist", "table"),
        ("public", "log", "table"),
        ("public", "long_titles", "view"),
        ("sales", "invoice", "table"),
    ]
    assert schema.schemas == ["public", "sales"]
    tables = {(t.schema, t.name): t for t in schema.tables}
    artist = tables["public", "artist"]
    assert artist.comment == "Who plays"
    assert [(c.name, c.type, c.nullable, c.comment) for c in artist.columns] == [
        ("id", "INTEGER", False, None),
        ("name", "VARCHAR(120)", False, "Stage name"),
    ]
    assert artist.primary_key == ("id",)
    album = tables["public", "album"]
    assert {c.name: c.type for c in album.columns}["released"] == "TIMESTAMP WITH TIME ZONE"
    assert album.foreign_keys == (
        ForeignKey(("artist_id",), "public", "artist", ("id",), "album_artist_id_fkey"),
    )
    assert tables["public", "long_titles"].comment == "Wordy"
    invoice = tables["sales", "invoice"]
    assert invoice.primary_key == ("id", "line")
    assert invoice.foreign_keys[0].references_schema == "public"
    assert {c.name: c.type for c in invoice.columns}["total"] == "NUMERIC(10, 2)"
    catalog = pg.catalog()
    assert catalog.columns("sales.invoice") is not None
    assert catalog.columns("ARTIST")["name"].not_null  # type: ignore[index]
    assert pg.version().startswith("PostgreSQL ")
    assert pg.probe().can_write is False


@pytest.mark.postgres
def test_pg_errors_never_show_the_password(pg: SQLAlchemyEngine, pg_url: str) -> None:
    errors: list[SqlgateError] = []
    for sql in ("SELECT * FROM nope", "SELEC 1", "SELECT 1/0"):
        with pytest.raises(QueryError) as failed:
            pg.execute(sql, None, timeout=5, row_limit=1)
        errors.append(failed.value)
    assert "nope" in errors[0].message and "[SQL:" not in errors[0].message
    bad = pg_url.replace("postgresql://", "postgresql+psycopg://") + "_missing"
    with pytest.raises(ConnectionFailed) as no_db:
        SQLAlchemyEngine(spec(bad, SECRET))
    errors.append(no_db.value)
    assert "postgres:***@" in no_db.value.message and "does not exist" in no_db.value.message
    for error in errors:
        assert SECRET not in error.message and SECRET not in repr(error.body())


# --- missing packages, dialect mapping ---------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "module", "package"),
    [
        ("snowflake://u@acct/db", "snowflake", "pip install snowflake-sqlalchemy"),
        ("mssql+pymssql://u@host/db", "pymssql", "pip install pymssql"),
        ("mysql+mysqldb://u@host/db", "MySQLdb", "pip install mysqlclient"),
    ],
)
def test_missing_dialect_or_driver_names_the_package(url: str, module: str, package: str) -> None:
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed here")
    with pytest.raises(ConnectionFailed) as failed:
        SQLAlchemyEngine(spec(url, SECRET))
    assert package in failed.value.message
    assert SECRET not in failed.value.message


def test_unusable_urls() -> None:
    with pytest.raises(ConnectionFailed, match="not valid"):
        SQLAlchemyEngine(spec("not a url"))
    with pytest.raises(ConnectionFailed, match="no SQLAlchemy URL"):
        SQLAlchemyEngine(spec(""))


@pytest.mark.parametrize(
    ("url", "dialect"),
    [
        ("postgresql+psycopg://u@h/db", "postgres"),
        ("mariadb+pymysql://u@h/db", "mysql"),
        ("mssql+pyodbc://u@dsn", "tsql"),
        ("snowflake://u@acct/db", "snowflake"),
        ("bigquery://project/dataset", "bigquery"),
        ("trino://u@h:8080/catalog", "trino"),
        ("clickhouse+native://u@h/db", "clickhouse"),
        ("oracle+oracledb://u@h/db", "oracle"),
        ("somethingelse://u@h/db", ""),
        ("not a url", ""),
    ],
)
def test_sqlglot_dialect_from_url(url: str, dialect: str) -> None:
    assert sqlglot_dialect(url) == dialect


# --- MariaDB: no driver-level cancel, so KILL QUERY ---------------------------------------------


@pytest.fixture
def maria() -> Iterator[SQLAlchemyEngine]:
    try:
        engine = SQLAlchemyEngine(spec(MARIADB_URL), pool_size=1, connect_timeout=3)
    except ConnectionFailed as exc:
        unavailable("MariaDB", exc)
        raise
    yield engine
    engine.close()


def test_mariadb_timeout_kills_the_query(maria: SQLAlchemyEngine) -> None:
    assert maria.dialect == "mysql" and maria.version().startswith("MariaDB ")
    started = time.monotonic()
    with pytest.raises(QueryTimeout):
        maria.execute("SELECT SLEEP(10)", None, timeout=0.5, row_limit=1)
    assert time.monotonic() - started < 3
    assert rows(maria, "SELECT 1 AS one") == [{"one": 1}]


def test_mariadb_transactions_are_read_only(maria: SQLAlchemyEngine) -> None:
    import pymysql

    table = f"sqlgate_sa_{secrets.token_hex(4)}"
    url = make_url(MARIADB_URL)
    con = pymysql.connect(
        host=url.host, port=url.port or 3306, user=url.username, database=url.database
    )
    try:
        with con.cursor() as cur:
            cur.execute(f"CREATE TABLE {table} (a int)")
        with pytest.raises(SqlNotAllowed) as refused:
            maria.execute(f"INSERT INTO {table} VALUES (1)", None, timeout=5, row_limit=1)
        assert refused.value.details["reason"] == "engine_refused"
        with con.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {table}")
            assert cur.fetchone() == (0,)
    finally:
        with con.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
        con.close()
