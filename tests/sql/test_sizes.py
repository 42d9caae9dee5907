"""The guard refuses calls whose result is known from the text to be larger than its cap."""

from __future__ import annotations

import pytest

from sqlgate.sql._sizes import MAX_CONSTANT_BYTES
from sqlgate.sql.guard import analyze

BOMBS = [
    ("duckdb", "SELECT repeat('x', 2000000000)", "repeat"),
    ("duckdb", "SELECT repeat('abcd', 5000000)", "repeat"),  # 20 MB from a 4-byte string
    ("postgres", "SELECT repeat('x', 1024 * 1024 * 1024)", "repeat"),
    ("postgres", "SELECT lpad('x', 2e9, 'y')", "lpad"),
    ("mysql", "SELECT rpad(name, CAST(2e9 AS SIGNED)) FROM t", "rpad"),
    ("mysql", "SELECT space((2000 * 1000000))", "space"),
    ("sqlite", "SELECT repeat('x', 1e9)", "repeat"),
    ("duckdb", "SELECT range(3000000000)", "range"),
    ("duckdb", "SELECT x FROM t WHERE x = length(repeat('y', 100000000))", "repeat"),
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
    assert f"{MAX_CONSTANT_BYTES:,} bytes" in analysis.error
    assert analysis.position == sql.lower().index(name if name != "range" else "range(")


@pytest.mark.parametrize(
    ("dialect", "sql"),
    [
        ("duckdb", "SELECT repeat('-', 80), rpad('a', 10), lpad('7', 3, '0')"),
        ("duckdb", "SELECT repeat(name, n) FROM t"),  # computed: the engine's limits apply
        ("duckdb", "SELECT * FROM range(3000000000)"),  # rows, streamed under the row limit
        ("postgres", "SELECT * FROM generate_series(1, 10000000000)"),
        ("duckdb", "SELECT range(1000)"),
        ("mysql", "SELECT space(16)"),
        ("duckdb", f"SELECT repeat('x', {MAX_CONSTANT_BYTES})"),
    ],
)
def test_small_or_computed_sizes_pass(dialect: str, sql: str) -> None:
    analysis = analyze(sql, dialect)
    assert analysis.is_valid, analysis.error
