"""Small SQLite results are answered from the driver's rows, without building Arrow and
converting back; the JSON is the same as through Arrow, and anything Arrow would change (mixed
types, large results, the size cap) still goes through Arrow."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sqlgate.engines.base import collect
from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.errors import ResultTooLarge
from sqlgate.results.jsonable import dumps, json_rows


@pytest.fixture(scope="module")
def lite(tmp_path_factory: pytest.TempPathFactory) -> SQLiteEngine:
    path = Path(tmp_path_factory.mktemp("plain")) / "plain.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, mixed)")
        con.executemany(
            "INSERT INTO t VALUES (?, ?, ?, ?, ?)",
            [
                (1, 1.5, "one", b"\x00\xff", 1),
                (2, None, "", None, "two"),
                (None, -0.25, None, b"", 3.5),
                (-(2**63), 1e300, 'ünï\ncode"', b"x", None),
            ],
        )
    return SQLiteEngine(path)


def through_arrow(engine: SQLiteEngine, sql: str, row_limit: int) -> tuple[bytes, bool]:
    """The rows and truncation as collected from the engine's Arrow batches."""
    stream = engine.stream(sql, None, timeout=5, row_limit=row_limit)
    result = collect(stream, 0.0)
    return dumps(json_rows(result.table)), result.truncated


@pytest.mark.parametrize(
    ("sql", "plain"),
    [
        ("SELECT i, r, s, b FROM t ORDER BY rowid", True),
        ("SELECT i > 0 AS flag, s || '!' AS loud, length(b) AS n FROM t ORDER BY rowid", True),
        ("SELECT * FROM t WHERE i = 99", True),  # no rows
        ("SELECT i FROM t WHERE i IS NULL", True),  # only NULLs
        # Arrow changes these values (a column of numbers and text becomes text; integers in
        # a float column become floats), so they are answered through Arrow.
        ("SELECT mixed FROM t ORDER BY rowid", False),
        ("SELECT CASE WHEN i = 1 THEN 1 ELSE r END AS x FROM t ORDER BY rowid", False),
    ],
)
def test_the_json_is_the_same_either_way(lite: SQLiteEngine, sql: str, plain: bool) -> None:
    result = lite.execute(sql, None, timeout=5, row_limit=100)
    assert (result._rows is not None) is plain
    assert (dumps(result.json_rows()), result.truncated) == through_arrow(lite, sql, 100)
    # The Arrow table, when something asks for it, holds the same values.
    assert dumps(json_rows(result.table)) == dumps(result.json_rows())
    assert result.row_count == result.table.num_rows


def test_truncation_is_told_the_same(lite: SQLiteEngine) -> None:
    sql = "SELECT i, s FROM t ORDER BY rowid"
    for limit, cut in ((2, True), (3, True), (4, False), (5, False)):
        result = lite.execute(sql, None, timeout=5, row_limit=limit)
        assert result._rows is not None
        assert result.row_count == min(limit, 4) and result.truncated is cut
        assert (dumps(result.json_rows()), result.truncated) == through_arrow(lite, sql, limit)


def test_results_near_the_size_cap_are_measured_through_arrow(lite: SQLiteEngine) -> None:
    sql = "SELECT printf('%.*c', 3000, 'x') AS wide FROM t"
    lite.max_result_bytes = 20_000  # 4 rows of 3,000 characters fit in Arrow
    try:
        fits = lite.execute(sql, None, timeout=5, row_limit=10)
        # Four bytes a character could be 48,000 bytes: too close to tell without Arrow.
        assert fits._rows is None and fits.row_count == 4
        lite.max_result_bytes = 10_000
        with pytest.raises(ResultTooLarge):
            lite.execute(sql, None, timeout=5, row_limit=10)
        lite.max_result_bytes = 100_000
        assert lite.execute(sql, None, timeout=5, row_limit=10)._rows is not None
    finally:
        lite.max_result_bytes = None
