"""Schema introspection of the file engines, on real DuckDB and SQLite files."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from sqlgate.engines.base import Engine
from sqlgate.engines.duckdb import DuckDBEngine
from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.vocabulary.schema import DatabaseSchema, ForeignKey, SchemaTable
from tests.conftest import CHINOOK_SQLITE, build_corpus_duckdb, build_corpus_sqlite

# A schema that sorts before `main`, composite keys, comments and a view.
SHOP_DDL = """
CREATE SCHEMA analytics;
CREATE TABLE analytics.daily (day DATE PRIMARY KEY, revenue DECIMAL(12, 2));
CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR NOT NULL, region VARCHAR,
    code INTEGER, UNIQUE (region, code));
CREATE TABLE orders (order_no INTEGER, line INTEGER, customer_id INTEGER REFERENCES customers (id),
    region VARCHAR, code INTEGER, amount DOUBLE, PRIMARY KEY (order_no, line),
    FOREIGN KEY (region, code) REFERENCES customers (region, code));
CREATE VIEW big_orders AS SELECT order_no, amount FROM orders WHERE amount > 100;
COMMENT ON TABLE customers IS 'People who buy';
COMMENT ON COLUMN customers.email IS 'Login address';
COMMENT ON VIEW big_orders IS 'Orders over 100';
"""


def table(schema: DatabaseSchema, name: str, in_schema: str = "main") -> SchemaTable:
    return next(t for t in schema.tables if t.name == name and t.schema == in_schema)


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[DuckDBEngine]:
    path = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(path))
    con.execute(SHOP_DDL)
    con.close()
    engine = DuckDBEngine(path)
    yield engine
    engine.close()


@pytest.fixture
def chinook(tmp_path: Path) -> Iterator[SQLiteEngine]:
    path = tmp_path / "chinook.sqlite"
    shutil.copy(CHINOOK_SQLITE, path)
    engine = SQLiteEngine(path)
    yield engine
    engine.close()


@pytest.fixture
def corpus_duck(tmp_path: Path) -> Iterator[DuckDBEngine]:
    engine = DuckDBEngine(build_corpus_duckdb(tmp_path / "c.duckdb"))
    yield engine
    engine.close()


@pytest.fixture
def corpus_lite(tmp_path: Path) -> Iterator[SQLiteEngine]:
    path = build_corpus_sqlite(tmp_path / "c.sqlite")
    con = sqlite3.connect(path)
    con.executescript(
        # A foreign key without columns (the parent's primary key), spelled in another case,
        # and a view.
        "CREATE TABLE Refunds (id INTEGER PRIMARY KEY, order_id INTEGER REFERENCES ORDERS);"
        "CREATE VIEW rich AS SELECT user_id, sum(total) AS spent FROM orders GROUP BY 1;"
    )
    con.close()
    engine = SQLiteEngine(path)
    yield engine
    engine.close()


def test_duckdb_tables_views_and_order(shop: DuckDBEngine) -> None:
    schema = shop.schema()
    names = [(t.schema, t.name, t.kind) for t in schema.tables]
    assert names == [
        ("main", "big_orders", "view"),
        ("main", "customers", "table"),
        ("main", "orders", "table"),
        ("analytics", "daily", "table"),
    ]
    assert schema.schemas == ["main", "analytics"]


def test_duckdb_columns_keys_and_comments(shop: DuckDBEngine) -> None:
    schema = shop.schema()
    customers = table(schema, "customers")
    assert customers.comment == "People who buy"
    assert [(c.name, c.type, c.nullable, c.comment) for c in customers.columns] == [
        ("id", "INTEGER", False, None),
        ("email", "VARCHAR", False, "Login address"),
        ("region", "VARCHAR", True, None),
        ("code", "INTEGER", True, None),
    ]
    assert customers.primary_key == ("id",)
    assert customers.foreign_keys == ()

    orders = table(schema, "orders")
    assert orders.primary_key == ("order_no", "line")
    assert [c.nullable for c in orders.columns[:2]] == [False, False]
    assert orders.comment is None
    assert [
        (fk.columns, fk.references_schema, fk.references_table, fk.references_columns)
        for fk in orders.foreign_keys
    ] == [
        (("customer_id",), "main", "customers", ("id",)),
        (("region", "code"), "main", "customers", ("region", "code")),
    ]
    assert all(fk.name for fk in orders.foreign_keys)

    view = table(schema, "big_orders")
    assert view.comment == "Orders over 100"
    assert [(c.name, c.type) for c in view.columns] == [
        ("order_no", "INTEGER"),
        ("amount", "DOUBLE"),
    ]
    assert view.primary_key == () and view.foreign_keys == ()

    daily = table(schema, "daily", "analytics")
    assert [(c.name, c.type, c.nullable) for c in daily.columns] == [
        ("day", "DATE", False),
        ("revenue", "DECIMAL(12,2)", True),
    ]
    assert daily.primary_key == ("day",)


def test_duckdb_corpus_types(corpus_duck: DuckDBEngine) -> None:
    users = table(corpus_duck.schema(), "users")
    assert [(c.name, c.type) for c in users.columns][:6] == [
        ("id", "INTEGER"),
        ("org_id", "INTEGER"),
        ("name", "VARCHAR"),
        ("email", "VARCHAR"),
        ("pw_hash", "VARCHAR"),
        ("created_at", "TIMESTAMP"),
    ]
    assert table(corpus_duck.schema(), "orders").columns[3].type == "DECIMAL(10,2)"
    assert table(corpus_duck.schema(), "events").columns[1].type == "JSON"


def test_sqlite_chinook(chinook: SQLiteEngine) -> None:
    schema = chinook.schema()
    assert [t.name for t in schema.tables] == [
        "Album", "Artist", "Customer", "Employee", "Genre", "Invoice", "InvoiceLine",
        "MediaType", "Playlist", "PlaylistTrack", "Track",
    ]  # fmt: skip
    assert schema.schemas == ["main"]
    assert all(t.kind == "table" and t.comment is None for t in schema.tables)

    album = table(schema, "Album")
    assert [(c.name, c.type, c.nullable, c.comment) for c in album.columns] == [
        ("AlbumId", "INTEGER", False, None),
        ("Title", "NVARCHAR(160)", False, None),
        ("ArtistId", "INTEGER", False, None),
    ]
    assert album.primary_key == ("AlbumId",)
    assert album.foreign_keys == (ForeignKey(("ArtistId",), "main", "Artist", ("ArtistId",)),)

    track = table(schema, "Track")
    assert {c.name: c.nullable for c in track.columns}["Composer"] is True
    assert {c.name: c.type for c in track.columns}["UnitPrice"] == "NUMERIC(10,2)"
    assert table(schema, "PlaylistTrack").primary_key == ("PlaylistId", "TrackId")
    # Foreign keys in the order they were declared; a table may reference itself.
    assert [fk.references_table for fk in table(schema, "InvoiceLine").foreign_keys] == [
        "Invoice",
        "Track",
    ]
    assert table(schema, "Employee").foreign_keys == (
        ForeignKey(("ReportsTo",), "main", "Employee", ("EmployeeId",)),
    )


def test_sqlite_views_rowid_and_implicit_references(corpus_lite: SQLiteEngine) -> None:
    schema = corpus_lite.schema()
    assert [(t.name, t.kind) for t in schema.tables] == [
        ("Refunds", "table"),
        ("events", "table"),
        ("insert", "table"),
        ("orders", "table"),
        ("rich", "view"),
        ("update", "table"),
        ("users", "table"),
    ]
    users = table(schema, "users")
    # An INTEGER PRIMARY KEY is the rowid, never NULL though not declared NOT NULL.
    assert [(c.name, c.nullable) for c in users.columns[:3]] == [
        ("id", False),
        ("org_id", False),
        ("name", True),
    ]
    assert users.primary_key == ("id",)
    assert {c.name: c.type for c in table(schema, "orders").columns}["amount"] == "NUMERIC(10,2)"
    assert table(schema, "events").columns[1].type == "JSON"
    assert table(schema, "Refunds").foreign_keys == (
        ForeignKey(("order_id",), "main", "ORDERS", ("id",)),
    )
    rich = table(schema, "rich")
    assert [c.name for c in rich.columns] == ["user_id", "spent"]
    assert rich.primary_key == ()


ENGINES = ["shop", "chinook", "corpus_duck", "corpus_lite"]


@pytest.mark.parametrize("name", ENGINES)
def test_schema_is_cached_until_refreshed(name: str, request: pytest.FixtureRequest) -> None:
    engine: Engine = request.getfixturevalue(name)
    first = engine.schema()
    assert engine.schema() is first
    catalog = engine.catalog()
    refreshed = engine.schema(refresh=True)
    assert refreshed is not first
    assert refreshed.tables == first.tables
    assert engine.schema() is refreshed
    assert engine.catalog() is not catalog  # derived from the new schema


@pytest.mark.parametrize("name", ENGINES)
def test_catalog_agrees_with_schema(name: str, request: pytest.FixtureRequest) -> None:
    engine: Engine = request.getfixturevalue(name)
    schema = engine.schema()
    catalog = engine.catalog()
    assert engine.schema() is schema  # reading the catalog did not re-read the schema
    for t in schema.tables:
        for key in (t.name, f"{t.schema}.{t.name}".upper()):
            columns = catalog.columns(key)
            assert columns is not None, key
            assert [(c.name, c.type, c.not_null) for c in columns.values()] == [
                (c.name, c.type, not c.nullable) for c in t.columns
            ]


class SlowSQLiteEngine(SQLiteEngine):
    """Introspection that takes as long as the test says, like a schema read over a slow link."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.reading = threading.Event()
        self.may_finish = threading.Event()

    def _read_schema(self) -> DatabaseSchema:
        self.reading.set()
        assert self.may_finish.wait(30)
        return super()._read_schema()


def test_a_slow_schema_read_stalls_only_its_own_engine(
    chinook: SQLiteEngine, tmp_path: Path
) -> None:
    path = tmp_path / "slow.sqlite"
    shutil.copy(CHINOOK_SQLITE, path)
    slow = SlowSQLiteEngine(path)
    reader = threading.Thread(target=slow.catalog)
    reader.start()
    try:
        assert slow.reading.wait(10)
        other = threading.Thread(target=chinook.catalog)
        other.start()
        other.join(10)  # with one lock for every engine this waited for the slow read
        assert not other.is_alive()
        assert chinook.catalog().columns("Album") is not None
        assert reader.is_alive()  # the slow engine's own read is still going
    finally:
        slow.may_finish.set()
        reader.join(10)
        slow.close()
    assert slow.catalog().columns("Album") is not None


@pytest.mark.parametrize(("name", "prefix"), [("shop", "DuckDB "), ("chinook", "SQLite ")])
def test_version_and_probe(name: str, prefix: str, request: pytest.FixtureRequest) -> None:
    engine: Engine = request.getfixturevalue(name)
    assert engine.version().startswith(prefix)
    assert engine.version()[len(prefix)][0].isdigit()
    info = engine.probe()
    assert info.version == engine.version()
    assert info.can_write is False
    assert info.latency_ms >= 0
