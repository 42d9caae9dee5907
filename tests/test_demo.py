"""The generated demo dataset: schema, determinism, integrity, realism and the file handling."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from sqlgate import demo
from sqlgate.demo import DEMO_TABLES, build_demo_database, ensure_demo_database

SMALL = 0.05


def _fingerprint(path: Path) -> dict[str, Any]:
    """Every row of every table in stored order, plus the schema, reduced to a few hashes."""
    with duckdb.connect(str(path), read_only=True) as con:
        result: dict[str, Any] = {
            table: con.execute(
                f"SELECT count(*), md5(string_agg(t::VARCHAR, ';' ORDER BY rowid)) FROM {table} t"
            ).fetchone()
            for table in DEMO_TABLES
        }
        result["schema"] = con.execute(
            "SELECT string_agg(table_name || '.' || column_name || ':' || data_type || ':'"
            " || comment, ';' ORDER BY table_name, column_index) FROM duckdb_columns()"
            " WHERE NOT internal"
        ).fetchone()
    return result


def _with_threads(monkeypatch: pytest.MonkeyPatch, threads: int) -> None:
    """Make the builder's connection use `threads` threads."""
    real_connect = duckdb.connect

    def connect(database: str, *args: Any, **kwargs: Any) -> duckdb.DuckDBPyConnection:
        con = real_connect(database, *args, **kwargs)
        con.execute(f"SET threads = {threads}")
        return con

    monkeypatch.setattr(duckdb, "connect", connect)


@pytest.fixture(scope="module")
def small_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("small") / "demo.duckdb"
    build_demo_database(path, scale=SMALL)
    return path


@pytest.fixture(scope="module")
def con(small_db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect(str(small_db), read_only=True) as connection:
        yield connection


@pytest.fixture(scope="module")
def full_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_demo_database(tmp_path_factory.mktemp("data"))


def _row(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    return _row(con, sql)[0]


def test_small_build_is_quick_and_leaves_only_the_file(tmp_path: Path) -> None:
    path = tmp_path / "demo.duckdb"
    started = time.perf_counter()
    build_demo_database(path, scale=SMALL)
    assert time.perf_counter() - started < 10
    assert [p.name for p in tmp_path.iterdir()] == ["demo.duckdb"]


def test_schema_has_keys_and_comments(con: duckdb.DuckDBPyConnection) -> None:
    tables = con.execute("SELECT table_name, comment FROM duckdb_tables() ORDER BY 1").fetchall()
    assert sorted(name for name, _ in tables) == sorted(DEMO_TABLES)
    assert all(comment for _, comment in tables)
    uncommented = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns()"
        " WHERE NOT internal AND coalesce(comment, '') = ''"
    ).fetchall()
    assert uncommented == []
    constraints = con.execute(
        "SELECT table_name, constraint_type, constraint_column_names FROM duckdb_constraints()"
        " WHERE constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY', 'UNIQUE')"
    ).fetchall()
    assert {
        ("customers", "PRIMARY KEY", ("customer_id",)),
        ("customers", "UNIQUE", ("email",)),
        ("products", "PRIMARY KEY", ("product_id",)),
        ("orders", "PRIMARY KEY", ("order_id",)),
        ("orders", "FOREIGN KEY", ("customer_id",)),
        ("order_items", "PRIMARY KEY", ("order_id", "line_number")),
        ("order_items", "FOREIGN KEY", ("order_id",)),
        ("order_items", "FOREIGN KEY", ("product_id",)),
    } <= {(t, kind, tuple(cols)) for t, kind, cols in constraints}
    types = dict(
        con.execute(
            "SELECT table_name || '.' || column_name, data_type FROM duckdb_columns()"
            " WHERE NOT internal"
        ).fetchall()
    )
    assert types["orders.order_date"] == "TIMESTAMP"
    assert types["orders.total_amount"] == "DECIMAL(12,2)"
    assert types["order_items.discount"] == "DECIMAL(4,2)"
    assert types["customers.signup_date"] == "DATE"


def test_same_data_in_every_build(small_db: Path, tmp_path: Path) -> None:
    again = tmp_path / "other" / "demo.duckdb"
    again.parent.mkdir()
    build_demo_database(again, scale=SMALL)
    assert _fingerprint(again) == _fingerprint(small_db)


def test_referential_integrity(con: duckdb.DuckDBPyConnection) -> None:
    checks = {
        "orphan orders": "SELECT count(*) FROM orders ANTI JOIN customers USING (customer_id)",
        "orphan items (order)": "SELECT count(*) FROM order_items ANTI JOIN orders"
        " USING (order_id)",
        "orphan items (product)": "SELECT count(*) FROM order_items ANTI JOIN products"
        " USING (product_id)",
        "orders without items": "SELECT count(*) FROM orders ANTI JOIN order_items"
        " USING (order_id)",
        "wrong totals": """
            SELECT count(*) FROM orders o JOIN (
                SELECT order_id, sum(round(quantity * unit_price * (1 - discount), 2)) AS total
                FROM order_items GROUP BY order_id
            ) i USING (order_id) WHERE o.total_amount <> i.total""",
        "orders before signup": "SELECT count(*) FROM orders JOIN customers USING (customer_id) "
        "WHERE order_date < signup_date",
        "gaps in line numbers": "SELECT count(*) FROM (SELECT order_id FROM order_items "
        "GROUP BY order_id HAVING max(line_number) <> count(*))",
        "repeated products in an order": "SELECT count(*) - count(DISTINCT (order_id, product_id)) "
        "FROM order_items",
        "sold after discontinued": "SELECT count(*) FROM order_items JOIN orders USING (order_id) "
        "JOIN products p USING (product_id) WHERE NOT p.active AND order_date >= '2025-01-01'",
    }
    assert {name: _one(con, sql) for name, sql in checks.items()} == dict.fromkeys(checks, 0)


def test_dates_growth_and_seasonality(con: duckdb.DuckDBPyConnection) -> None:
    first, last = _row(con, "SELECT min(order_date), max(order_date) FROM orders")
    assert first.year == 2022
    assert last.year == 2025
    per_year = [
        n
        for (n,) in con.execute(
            "SELECT count(*) FROM orders GROUP BY year(order_date) ORDER BY year(order_date)"
        ).fetchall()
    ]
    assert per_year == sorted(per_year)
    assert per_year[-1] > 1.5 * per_year[0]
    december, average = _row(
        con, "SELECT count(*) FILTER (month(order_date) = 12) / 4, count(*) / 48 FROM orders"
    )
    assert december > 1.3 * average


def test_values_are_plausible(con: duckdb.DuckDBPyConnection) -> None:
    def values(sql: str) -> set[Any]:
        return {value for (value,) in con.execute(sql).fetchall()}

    segments = {"consumer", "small_business", "enterprise"}
    assert values("SELECT DISTINCT segment FROM customers") == segments
    assert values("SELECT DISTINCT channel FROM orders") == {"web", "mobile", "store"}
    assert {"completed", "cancelled", "returned"} <= values("SELECT DISTINCT status FROM orders")
    cities = {(country, city) for country, _, names in demo._COUNTRIES for city in names}
    assert values("SELECT DISTINCT (country, city) FROM customers") <= cities
    assert _one(
        con, "SELECT bool_and(email LIKE '%' || customer_id || '@example.%') FROM customers"
    )
    assert _one(con, "SELECT count(DISTINCT category) FROM products") <= 8
    assert _one(con, "SELECT min(unit_price) > 0 AND min(quantity) >= 1 FROM order_items")


@pytest.mark.parametrize("scale", [0, -1, 10.5])
def test_rejects_bad_scale(tmp_path: Path, scale: float) -> None:
    with pytest.raises(ValueError, match="scale"):
        build_demo_database(tmp_path / "demo.duckdb", scale=scale)
    assert list(tmp_path.iterdir()) == []


def test_existing_file_is_left_alone(full_db: Path) -> None:
    before = full_db.stat().st_mtime_ns
    listing = sorted(full_db.parent.iterdir())
    assert ensure_demo_database(full_db.parent.parent) == full_db
    build_demo_database(full_db, scale=SMALL)
    assert full_db.stat().st_mtime_ns == before
    assert sorted(full_db.parent.iterdir()) == listing


def test_failed_build_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_populate = demo._populate

    def populate_then_fail(con: duckdb.DuckDBPyConnection, scale: float) -> None:
        real_populate(con, scale)  # a temporary file with data now exists
        raise RuntimeError("disk full")

    monkeypatch.setattr(demo, "_populate", populate_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        build_demo_database(tmp_path / "demo.duckdb", scale=SMALL)
    assert list(tmp_path.iterdir()) == []


def test_opens_read_only_without_external_access(small_db: Path, tmp_path: Path) -> None:
    # A copy: this process already has `small_db` open with a different configuration.
    path = tmp_path / "demo.duckdb"
    shutil.copyfile(small_db, path)
    config = {"enable_external_access": False}
    with duckdb.connect(str(path), read_only=True, config=config) as con:
        assert _one(con, "SELECT count(*) FROM orders JOIN order_items USING (order_id)") > 0
        with pytest.raises(duckdb.Error):
            con.execute("DELETE FROM orders")


def test_full_scale_row_counts(full_db: Path) -> None:
    assert full_db.name == "demo.duckdb"
    assert full_db.parent.name == "demo"
    with duckdb.connect(str(full_db), read_only=True) as con:
        counts = {t: _one(con, f"SELECT count(*) FROM {t}") for t in DEMO_TABLES}
        categories = _one(con, "SELECT count(DISTINCT category) FROM products")
    assert counts["customers"] == 5_000
    assert counts["products"] == 300
    assert counts["orders"] == 60_000
    assert 140_000 <= counts["order_items"] <= 160_000
    assert categories == 8


@pytest.mark.parametrize("threads", [1, 4])
def test_same_data_for_any_thread_count(
    full_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threads: int
) -> None:
    # Full scale, so that tables span several row groups and DuckDB really works in parallel.
    _with_threads(monkeypatch, threads)
    path = tmp_path / "demo.duckdb"
    build_demo_database(path)
    assert _fingerprint(path) == _fingerprint(full_db)
