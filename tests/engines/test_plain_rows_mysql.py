"""Small MySQL/MariaDB results are answered from PyMySQL's rows, without building Arrow and
converting back; the JSON is the same as through Arrow, and columns whose values Arrow would
change (dates and times, bits; decimals of another scale than their column's) still go
through Arrow."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pyarrow as pa
import pytest

from sqlgate.engines._rows import plain_values
from sqlgate.engines.base import collect
from sqlgate.engines.mysql import MySQLEngine
from sqlgate.errors import ResultTooLarge
from sqlgate.results.jsonable import dumps, json_rows
from tests.mysql_services import fresh_mysql_database

SETUP = [
    "CREATE TABLE t (id INT PRIMARY KEY, i BIGINT, u BIGINT UNSIGNED, tiny TINYINT, y YEAR, "
    "f FLOAT, d DOUBLE, price DECIMAL(10,2), big DECIMAL(40,10), s VARCHAR(40), "
    "c CHAR(3), b VARBINARY(8), e ENUM('a','b'), j JSON, day DATE, at DATETIME(6), tm TIME, "
    "bits BIT(8))",
    "INSERT INTO t VALUES "
    "(1, -9223372036854775808, 18446744073709551615, -1, 2024, 1.1, 1e300, 0.99, "
    "123456789012345678901234567890.0000000001, 'ünï\\ncode\"', 'ab', X'00FF', 'a', "
    "'{\"a\": [1, 2]}', '2024-01-02', '2024-01-02 03:04:05.5', '-838:59:59', b'101'), "
    "(2, 0, 0, 0, NULL, -0.25, NULL, -12.30, 0, '', NULL, X'', 'b', 'null', NULL, NULL, NULL, "
    "NULL), "
    "(3, NULL, NULL, NULL, 1999, NULL, 2.5, NULL, NULL, NULL, 'x', NULL, NULL, NULL, "
    "'1999-12-31', '1999-12-31 23:59:59', '00:00:01', b'0')",
]


@pytest.fixture(scope="module")
def engine() -> Iterator[MySQLEngine]:
    with fresh_mysql_database() as db:
        with db.admin() as admin, admin.cursor() as cursor:
            for statement in SETUP:
                cursor.execute(statement)
        engine = MySQLEngine(db.spec())
        yield engine
        engine.close()


def through_arrow(engine: MySQLEngine, sql: str, row_limit: int) -> tuple[bytes, bool]:
    """The rows and truncation as collected from the engine's Arrow batches."""
    result = collect(engine.stream(sql, None, timeout=10, row_limit=row_limit), 0.0)
    return dumps(json_rows(result.table)), result.truncated


@pytest.mark.parametrize(
    ("sql", "plain"),
    [
        ("SELECT id, i, u, tiny, y, f, d, s, c, b, e, j FROM t ORDER BY id", True),
        ("SELECT price, big FROM t ORDER BY id", True),
        ("SELECT tm FROM t ORDER BY id", True),  # the server's text, as it is
        ("SELECT id, s FROM t WHERE id = 99", True),  # no rows
        ("SELECT i FROM t WHERE i IS NULL", True),  # only NULLs
        ("SELECT CONCAT(s, '!') AS loud, id * 1.5 AS x, COUNT(*) AS n FROM t GROUP BY id, s", True),
        # Arrow changes these (dates and times become Arrow's, bits numbers), so they are
        # answered through Arrow.
        ("SELECT id, day, at FROM t ORDER BY id", False),
        ("SELECT bits FROM t ORDER BY id", False),
    ],
)
def test_the_json_is_the_same_either_way(engine: MySQLEngine, sql: str, plain: bool) -> None:
    result = engine.execute(sql, None, timeout=10, row_limit=100)
    assert (result._rows is not None) is plain
    assert (dumps(result.json_rows()), result.truncated) == through_arrow(engine, sql, 100)
    assert dumps(json_rows(result.table)) == dumps(result.json_rows())
    assert result.row_count == result.table.num_rows


def test_truncation_is_told_the_same(engine: MySQLEngine) -> None:
    sql = "SELECT id, s FROM t ORDER BY id"
    for limit, cut in ((1, True), (2, True), (3, False), (4, False)):
        result = engine.execute(sql, None, timeout=10, row_limit=limit)
        assert result._rows is not None
        assert result.row_count == min(limit, 3) and result.truncated is cut
        assert (dumps(result.json_rows()), result.truncated) == through_arrow(engine, sql, limit)


def test_results_near_the_size_cap_are_measured_through_arrow(engine: MySQLEngine) -> None:
    sql = "SELECT REPEAT('x', 3000) AS wide FROM t"
    engine.max_result_bytes = 20_000
    try:
        fits = engine.execute(sql, None, timeout=10, row_limit=10)
        assert fits._rows is None and fits.row_count == 3
        engine.max_result_bytes = 5_000
        with pytest.raises(ResultTooLarge):
            engine.execute(sql, None, timeout=10, row_limit=10)
        engine.max_result_bytes = 100_000
        assert engine.execute(sql, None, timeout=10, row_limit=10)._rows is not None
    finally:
        engine.max_result_bytes = None


def test_the_size_cap_counts_wide_decimals(engine: MySQLEngine) -> None:
    """Three DECIMAL(40,10) values take 32 bytes each in Arrow: over a cap of 80 bytes,
    whichever way the rows would have been answered."""
    engine.max_result_bytes = 80
    try:
        with pytest.raises(ResultTooLarge):
            engine.execute("SELECT big FROM t", None, timeout=10, row_limit=10)
        engine.max_result_bytes = 10_000
        assert engine.execute("SELECT big FROM t", None, timeout=10, row_limit=10)._rows
    finally:
        engine.max_result_bytes = None


def test_a_large_result_and_an_export_still_stream(engine: MySQLEngine) -> None:
    sql = "SELECT a.id * 10 + b.id AS n FROM t a, t b, t c ORDER BY n"
    result = engine.execute(sql, None, timeout=10, row_limit=5)
    assert result.truncated and result.row_count == 5
    stream = engine.stream(sql, None, timeout=10, row_limit=None)
    assert sum(batch.num_rows for batch in stream) == 27


def test_a_decimal_of_another_scale_goes_through_arrow() -> None:
    schema = pa.schema([pa.field("p", pa.decimal128(10, 2))])
    assert plain_values([(Decimal("1.50"),), (None,)], schema)
    assert not plain_values([(Decimal("1.5"),)], schema)  # Arrow would write 1.50
    assert not plain_values([(Decimal("123456789.00"),)], schema)  # too wide for Arrow
