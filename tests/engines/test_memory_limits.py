"""Caps on what one query may take: DuckDB's memory and temporary disk, and the result size
every engine hands back (``SQLGATE_MAX_RESULT_BYTES``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb
import pytest

from sqlgate.engines._rows import BATCH_BYTES, fetch_rows
from sqlgate.engines.base import Engine
from sqlgate.engines.duckdb import DuckDBEngine
from sqlgate.engines.registry import EngineRegistry
from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.errors import QueryError, ResultTooLarge
from sqlgate.settings import Settings

WIDE = "SELECT i, repeat('x', 1000) AS pad FROM range(5000) AS t(i)"
WIDE_SQLITE = (
    "WITH RECURSIVE t(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM t WHERE i < 4999) "
    "SELECT i, printf('%.*c', 1000, 'x') AS pad FROM t"
)


@pytest.fixture
def duck(tmp_path: Path) -> DuckDBEngine:
    path = tmp_path / "d.duckdb"
    duckdb.connect(str(path)).close()
    return DuckDBEngine(path, memory_limit="128MB", max_temp_directory_size="16MB")


@pytest.fixture
def lite(tmp_path: Path) -> SQLiteEngine:
    path = tmp_path / "l.sqlite"
    sqlite3.connect(path).close()
    return SQLiteEngine(path, max_value_bytes=1_000_000)


def test_duckdb_memory_and_spill_caps_end_the_query_with_a_clear_error(duck: DuckDBEngine) -> None:
    with pytest.raises(QueryError, match="SQLGATE_DUCKDB_MEMORY_LIMIT") as caught:
        duck.execute(
            "SELECT count(*) FROM (SELECT i, repeat('y', 100) AS s FROM range(5000000) AS t(i) "
            "ORDER BY s DESC, i) AS sorted",
            None,
            timeout=20,
            row_limit=10,
        )
    assert caught.value.status == 400
    assert duck.execute("SELECT 42 AS x", None, timeout=5, row_limit=1).table.to_pylist() == [
        {"x": 42}
    ]


def test_sqlite_caps_one_value(lite: SQLiteEngine) -> None:
    with pytest.raises(QueryError, match="too big"):
        lite.execute(
            "WITH RECURSIVE t(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM t WHERE i < 100000) "
            "SELECT group_concat(printf('%.*c', 100, 'x')) FROM t",
            None,
            timeout=10,
            row_limit=10,
        )


@pytest.mark.parametrize(("name", "sql"), [("duck", WIDE), ("lite", WIDE_SQLITE)])
def test_a_result_over_the_cap_is_refused_not_sent(
    name: str, sql: str, request: pytest.FixtureRequest
) -> None:
    engine: Engine = request.getfixturevalue(name)
    engine.max_result_bytes = 100_000
    with pytest.raises(ResultTooLarge, match="100,000 bytes") as caught:
        engine.execute(sql, None, timeout=10, row_limit=5000)
    assert caught.value.status == 422
    assert caught.value.body()["error"]["limit_bytes"] == 100_000
    # An export streams in batches: one batch over the cap stops it.
    stream = engine.stream(sql, None, timeout=10, row_limit=None, batch_rows=4096)
    with pytest.raises(ResultTooLarge):
        for _ in stream:
            pass
    # Under the cap, as before.
    assert engine.execute(sql, None, timeout=10, row_limit=50).row_count == 50


def test_the_registry_gives_engines_the_configured_cap(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from sqlgate.engines.base import ConnectionSpec

    path = tmp_path / "d.duckdb"
    duckdb.connect(str(path)).close()
    registry = EngineRegistry(Settings(data_dir=tmp_path, max_result_bytes=12_345))
    spec = ConnectionSpec(id="c", type="duckdb", database=str(path), updated_at=datetime.now(UTC))
    engine = registry.get("c", spec.updated_at, lambda: spec)
    try:
        assert engine.max_result_bytes == 12_345
    finally:
        registry.close()


def test_wide_rows_make_short_batches_not_a_huge_one(lite: SQLiteEngine) -> None:
    """Row engines (SQLite, MySQL, SQLAlchemy) read a batch in growing chunks until it holds
    about BATCH_BYTES of text: 200 values of 1 MB are several batches, all rows still there."""
    lite = SQLiteEngine(lite._path, max_value_bytes=2_000_000)
    sql = (
        "WITH RECURSIVE t(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM t WHERE i < 200) "
        "SELECT i, printf('%.*c', 1000000, 'x') AS wide FROM t"
    )
    stream = lite.stream(sql, None, timeout=30, row_limit=None)
    sizes = [(batch.num_rows, batch.nbytes) for batch in stream]
    assert sum(rows for rows, _ in sizes) == 200
    assert len(sizes) >= 4
    assert max(nbytes for _, nbytes in sizes) < 2 * BATCH_BYTES


def test_fetch_rows_knows_when_the_result_ended() -> None:
    data = [(i, "x") for i in range(10)]
    position = 0

    def fetch(n: int) -> list[tuple[int, str]]:
        nonlocal position
        got = data[position : position + n]
        position += len(got)
        return got

    assert fetch_rows(fetch, 4) == (data[:4], False)
    assert fetch_rows(fetch, 100) == (data[4:], True)
    assert fetch_rows(fetch, 100) == ([], True)
