"""The guard refuses calls whose result is known from the text to be larger than its cap."""

from __future__ import annotations

import pytest

from sqlgate.sql._sizes import MAX_CONSTANT_BYTES, MAX_DUCKDB_BYTES
from sqlgate.sql.guard import analyze

BOMBS = [
    ("duckdb", "SELECT repeat('x', 2000000000)", "repeat"),
    ("postgres", "SELECT repeat('abcd', 500000)", "repeat"),  # 2 MB from a 4-byte string
    ("postgres", "SELECT repeat('x', 1024 * 1024 * 1024)", "repeat"),
    ("postgres", "SELECT lpad('x', 2e9, 'y')", "lpad"),
    ("mysql", "SELECT rpad(name, CAST(2e9 AS SIGNED)) FROM t", "rpad"),
    ("mysql", "SELECT space((2000 * 1000000))", "space"),
    ("sqlite", "SELECT repeat('x', 1e9)", "repeat"),
    ("duckdb", "SELECT range(3000000000)", "range"),
    ("duckdb", "SELECT x FROM t WHERE x = length(repeat('y', 100000000))", "repeat"),
    ("duckdb", "SELECT repeat('x', '1000000000'::INT)", "repeat"),
    ("duckdb", "SELECT repeat('x', least(n, 2000000000)) FROM t", "repeat"),
    # Built for each of 2,048 rows at a time outside DuckDB's memory limit: 16 MB each is 32 GB.
    (
        "duckdb",
        "SELECT repeat('x', least(n + 16000000, 16000000)) FROM range(100000) AS t(n)",
        "repeat",
    ),
    ("duckdb", "SELECT unnest(range(1, least(n, 100000))) FROM t", "range"),
]

# DuckDB builds one value without checking for an interrupt or its memory limit: the size must
# be one the guard can bound.
UNBOUNDED_IN_DUCKDB = [
    ("SELECT repeat('x', n) FROM t", "repeat"),
    ("SELECT length(repeat('x', abs(-1000000000)))", "repeat"),
    ("SELECT length(repeat('x', (SELECT 1000000000)))", "repeat"),
    ("SELECT rpad(name, n) FROM t", "rpad"),
    ("SELECT len(range(n)) FROM (SELECT 300000000 AS n)", "range"),
    ("SELECT printf('%1000000000d', 1)", "printf"),
    ("SELECT printf('%*d', 5, 1)", "printf"),
    ("SELECT printf(f, 1) FROM t", "printf"),
    ("SELECT format('{:>1000000000}', 'x')", "format"),
    ("SELECT format('{:>{}}', 'x', 9)", "format"),
]


@pytest.mark.parametrize(("dialect", "sql", "name"), BOMBS)
def test_constant_size_bombs_are_refused_naming_the_function_and_the_cap(
    dialect: str, sql: str, name: str
) -> None:
    analysis = analyze(sql, dialect)
    assert not analysis.is_valid
    assert analysis.reason == "resource_limit"
    assert analysis.error is not None
    assert f"Function {name} " in analysis.error
    cap = MAX_DUCKDB_BYTES if dialect == "duckdb" else MAX_CONSTANT_BYTES
    assert f"{cap:,} bytes" in analysis.error
    assert analysis.position == sql.lower().index(name if name != "range" else "range(")


@pytest.mark.parametrize(("sql", "name"), UNBOUNDED_IN_DUCKDB)
def test_duckdb_sizes_must_be_bounded(sql: str, name: str) -> None:
    analysis = analyze(sql, "duckdb")
    assert not analysis.is_valid
    assert analysis.reason == "resource_limit"
    assert analysis.error is not None and f"Function {name} " in analysis.error
    # The servers contain these themselves (interrupts, value-size limits): they run.
    assert analyze(sql, "postgres").is_valid or name in ("range", "printf", "format")


@pytest.mark.parametrize(
    ("dialect", "sql"),
    [
        ("duckdb", "SELECT repeat('-', 80), rpad('a', 10), lpad('7', 3, '0')"),
        ("duckdb", "SELECT repeat('#', least(n, 50)) FROM t"),  # bounded
        ("duckdb", "SELECT unnest(range(1, least(n, 100))) FROM t"),
        ("duckdb", "SELECT printf('%5.2f|%s', x, 'y'), format('{} has {:>5}', 'x', 3) FROM t"),
        ("postgres", "SELECT repeat(name, n) FROM t"),  # the server interrupts and caps it
        ("mysql", "SELECT lpad(name, n, '0') FROM t"),
        ("duckdb", "SELECT * FROM range(3000000000)"),  # rows, streamed under the row limit
        ("postgres", "SELECT * FROM generate_series(1, 10000000000)"),
        ("duckdb", "SELECT range(100)"),
        ("mysql", "SELECT space(16)"),
        ("duckdb", f"SELECT repeat('x', {MAX_DUCKDB_BYTES})"),
        ("postgres", f"SELECT repeat('x', {MAX_CONSTANT_BYTES})"),
    ],
)
def test_small_or_computed_sizes_pass(dialect: str, sql: str) -> None:
    analysis = analyze(sql, dialect)
    assert analysis.is_valid, analysis.error
