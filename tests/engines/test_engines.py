"""Engine building blocks, tested directly on real DuckDB and SQLite files."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from sqlgate.engines.base import Deadline
from sqlgate.engines.duckdb import DuckDBEngine, _locate
from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.errors import QueryError, QueryTimeout
from tests.conftest import build_corpus_duckdb, build_corpus_sqlite


def test_deadlines_fire_in_order_and_cancelled_ones_do_not() -> None:
    fired: list[str] = []
    done = threading.Event()
    late = Deadline(0.3, lambda: (fired.append("late"), done.set()))
    cancelled = Deadline(0.1, lambda: fired.append("cancelled"))
    early = Deadline(0.05, lambda: fired.append("early"))
    cancelled.cancel()
    assert done.wait(3)
    assert fired == ["early", "late"]
    assert early.expired and late.expired and not cancelled.expired


def test_many_deadlines_share_one_thread() -> None:
    before = threading.active_count()
    deadlines = [Deadline(30, lambda: None) for _ in range(200)]
    assert threading.active_count() <= before + 1
    for d in deadlines:
        d.cancel()


def test_duckdb_error_location() -> None:
    text = 'Parser Error: syntax error at or near "+"\n\nLINE 1: select 1 +\n                 ^'
    assert _locate(text) == ('Parser Error: syntax error at or near "+"', 1, 10)
    assert _locate("Binder Error: no such column\nCandidate bindings: x") == (
        "Binder Error: no such column Candidate bindings: x",
        None,
        None,
    )


@pytest.fixture
def duck(tmp_path: Path) -> DuckDBEngine:
    engine = DuckDBEngine(build_corpus_duckdb(tmp_path / "c.duckdb"))
    yield engine  # type: ignore[misc]
    engine.close()


@pytest.fixture
def lite(tmp_path: Path) -> SQLiteEngine:
    engine = SQLiteEngine(build_corpus_sqlite(tmp_path / "c.sqlite"))
    yield engine  # type: ignore[misc]
    engine.close()


@pytest.mark.parametrize("name", ["duck", "lite"])
def test_catalog_knows_tables_and_not_null(name: str, request: pytest.FixtureRequest) -> None:
    engine = request.getfixturevalue(name)
    users = engine.catalog().columns("USERS")
    assert users is not None
    assert users["id"].not_null and users["org_id"].not_null and not users["name"].not_null
    first = engine.catalog()
    assert engine.catalog() is first  # cached
    refreshed = engine.catalog(refresh=True)
    assert refreshed is not first
    assert engine.catalog() is refreshed


@pytest.mark.parametrize("name", ["duck", "lite"])
def test_stream_respects_row_limit_lazily(name: str, request: pytest.FixtureRequest) -> None:
    engine = request.getfixturevalue(name)
    sql = (
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 1000000) "
        "SELECT n FROM r"
    )
    stream = engine.stream(sql, None, timeout=30, row_limit=150_000, batch_rows=10_000)
    rows = sum(b.num_rows for b in stream)
    assert rows == 150_000
    assert stream.truncated


@pytest.mark.parametrize("name", ["duck", "lite"])
def test_timeout_interrupts(name: str, request: pytest.FixtureRequest) -> None:
    engine = request.getfixturevalue(name)
    sql = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r"
    started = time.monotonic()
    with pytest.raises(QueryTimeout):
        engine.execute(sql, None, timeout=0.5, row_limit=10)
    assert time.monotonic() - started < 2
    # The engine is still usable afterwards.
    assert engine.execute("SELECT 1 AS one", None, timeout=5, row_limit=10).row_count == 1


def test_sqlite_mixed_types_fall_back_to_text(tmp_path: Path) -> None:
    path = tmp_path / "mixed.sqlite"
    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE t (v); INSERT INTO t VALUES ('a'), (1), (2.5), (NULL);")
    con.close()
    engine = SQLiteEngine(path)
    result = engine.execute("SELECT v FROM t ORDER BY rowid", None, timeout=5, row_limit=10)
    assert result.table.column("v").to_pylist() == ["a", "1", "2.5", None]
    # An integer column in the first batch and text in a later one cannot be typed up front.
    sql = (
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) "
        "SELECT CASE WHEN n < 3 THEN n ELSE 'x' END AS v FROM r"
    )
    with pytest.raises(QueryError, match="mixes value types"):
        list(engine.stream(sql, None, timeout=5, row_limit=None, batch_rows=2))
    engine.close()
