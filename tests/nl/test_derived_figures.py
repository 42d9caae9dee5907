"""Figures derived from another answer (running totals, change from the previous period, shares,
averages of per-group counts) on a bakery of our own with a draft model only. Each answer runs on
SQLite, DuckDB, PostgreSQL and MariaDB, and its figures are checked against the rows inserted,
counted here in Python; shapes a derivation does not fit decline."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl.prepare import prepare_embedded, sample_values
from sqlgate.nl.rules import RuleTranslator
from sqlgate.nl.values import ValueIndex
from tests.mysql_services import fresh_mysql_database
from tests.nl.conftest import TODAY
from tests.services import fresh_pg_database

BAKERS = [(1, "Ada"), (2, "Bo"), (3, "Cy"), (4, "Dee")]  # Dee has baked nothing yet
LOAVES = [
    (1, "2025-01-03", "rye", 1),
    (2, "2025-01-20", "spelt", 1),
    (3, "2025-02-02", "rye", 2),
    (4, "2025-03-14", "wheat", 2),
    (5, "2025-03-15", "rye", 3),
    (6, "2025-03-30", "wheat", 1),
    (7, "2025-05-01", "rye", 1),
    (8, "2025-05-09", "spelt", 3),
]
SCHEMA = [
    "CREATE TABLE bakers (baker_id INTEGER PRIMARY KEY, name VARCHAR(20))",
    "CREATE TABLE loaves (loaf_id INTEGER PRIMARY KEY, baked_on DATE, kind VARCHAR(20), "
    "baker_id INTEGER REFERENCES bakers (baker_id))",
    "INSERT INTO bakers VALUES " + ", ".join(f"({i}, '{n}')" for i, n in BAKERS),
    "INSERT INTO loaves VALUES " + ", ".join(f"({i}, '{d}', '{k}', {b})" for i, d, k, b in LOAVES),
]

Rows = list[tuple[Any, ...]]


@pytest.fixture(scope="module")
def bakery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    path = tmp_path_factory.mktemp("bakery") / "bakery.sqlite"
    with sqlite3.connect(path) as con:
        for statement in SCHEMA:
            con.execute(statement)
    engine = SQLiteEngine(path)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def nl(bakery: SQLiteEngine) -> RuleTranslator:
    return prepare_embedded(bakery, "sqlite")


@pytest.fixture(scope="module")
def values(bakery: SQLiteEngine, nl: RuleTranslator) -> ValueIndex:
    return sample_values(bakery, nl.model, "sqlite")


@pytest.fixture(scope="module")
def runners(bakery: SQLiteEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """dialect -> a function that runs SQL on a database holding the bakery."""

    def sqlite_rows(sql: str) -> Rows:
        table = bakery.execute(sql, None, timeout=10, row_limit=1000).table
        return list(zip(*(c.to_pylist() for c in table.columns), strict=True))

    duck = duckdb.connect(str(Path(tmp_path_factory.mktemp("bakery-duck")) / "b.duckdb"))
    for statement in SCHEMA:
        duck.execute(statement)
    with fresh_pg_database() as url, fresh_mysql_database() as maria:
        pg = psycopg.connect(url, autocommit=True)
        for statement in SCHEMA:
            pg.execute(statement)
        my = maria.admin()
        with my.cursor() as cursor:
            for statement in SCHEMA:
                cursor.execute(statement)

        def mysql_rows(sql: str) -> Rows:
            with my.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall())

        yield {
            "sqlite": sqlite_rows,
            "duckdb": lambda sql: duck.execute(sql).fetchall(),
            "postgres": lambda sql: pg.execute(sql).fetchall(),
            "mysql": mysql_rows,
        }
        pg.close()
        my.close()
    duck.close()


DIALECTS = ("sqlite", "duckdb", "postgres", "mysql")


def _monthly() -> list[int]:
    by_month = Counter(d[:7] for _, d, _, _ in LOAVES)
    return [by_month[m] for m in sorted(by_month)]


def _running(xs: list[int]) -> list[float]:
    out, total = [], 0
    for x in xs:
        total += x
        out.append(float(total))
    return out


def _figures(rows: Rows) -> list[float | None]:
    return [None if r[-1] is None else round(float(r[-1]), 6) for r in rows]


def _ask(
    nl: RuleTranslator, values: ValueIndex, runners: dict[str, Callable[[str], Rows]], q: str
) -> dict[str, Rows]:
    out = {}
    for dialect in DIALECTS:
        answer = RuleTranslator(nl.model, dialect, values).ask(q, today=TODAY)
        assert answer.is_sql, (dialect, answer.explanation)
        out[dialect] = runners[dialect](answer.native_sql or "")
    return out


def test_running_total_by_month(nl: RuleTranslator, values: ValueIndex, runners: dict) -> None:
    expected = _running(_monthly())
    for dialect, rows in _ask(nl, values, runners, "Running total of loaves by month").items():
        assert _figures(rows) == expected, dialect


def test_change_from_the_previous_month(
    nl: RuleTranslator, values: ValueIndex, runners: dict
) -> None:
    counts = _monthly()
    expected = [None] + [float(b - a) for a, b in pairwise(counts)]
    q = "How did the number of loaves change month over month?"
    for dialect, rows in _ask(nl, values, runners, q).items():
        assert _figures(rows) == expected, dialect


def test_share_of_each_group(nl: RuleTranslator, values: ValueIndex, runners: dict) -> None:
    per_kind = Counter(k for _, _, k, _ in LOAVES)
    expected = {k: round(100.0 * n / len(LOAVES), 6) for k, n in per_kind.items()}
    q = "What percentage of loaves are of each kind?"
    for dialect, rows in _ask(nl, values, runners, q).items():
        got = {str(r[0]): round(float(r[-1]), 6) for r in rows}
        assert got == expected, dialect


def test_percentage_of_rows_with_a_value(
    nl: RuleTranslator, values: ValueIndex, runners: dict
) -> None:
    expected = 100.0 * sum(k == "rye" for _, _, k, _ in LOAVES) / len(LOAVES)
    for dialect, rows in _ask(nl, values, runners, "What percentage of loaves are rye?").items():
        assert _figures(rows) == [round(expected, 6)], dialect


def test_average_per_group_counts_the_groups_with_none(
    nl: RuleTranslator, values: ValueIndex, runners: dict
) -> None:
    """Dee has baked nothing: she counts as 0, so the average is 8 / 4, not 8 / 3."""
    expected = len(LOAVES) / len(BAKERS)
    q = "What is the average number of loaves per baker?"
    for dialect, rows in _ask(nl, values, runners, q).items():
        assert _figures(rows) == [round(expected, 6)], dialect


@pytest.mark.parametrize(
    "question",
    [
        "Cumulative number of loaves by kind",  # no order to accumulate in
        "Running total of the top 2 bakers by number of loaves",  # over some rows only
        "Month over month change in the number of loaves by kind",  # two groupings
        "What percentage of loaves?",  # of what
    ],
)
def test_shapes_a_derivation_does_not_fit_decline(nl: RuleTranslator, question: str) -> None:
    answer = nl.ask(question, today=TODAY)
    assert not answer.is_sql, answer.sql


def test_a_column_named_like_the_cue_is_read_as_the_column(tmp_path: Path) -> None:
    path = tmp_path / "funds.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE funds (fund_id INTEGER PRIMARY KEY, name TEXT, share REAL)")
        con.execute("INSERT INTO funds VALUES (1, 'North', 0.25), (2, 'South', 0.75)")
    engine = SQLiteEngine(path)
    try:
        answer = prepare_embedded(engine, "sqlite").ask("What is the share of fund North?")
        assert answer.is_sql, answer.explanation
        assert "OVER" not in (answer.native_sql or "") and "100.0" not in (answer.native_sql or "")
    finally:
        engine.close()


def test_the_answer_says_what_was_derived(nl: RuleTranslator) -> None:
    answer = nl.ask("Running total of loaves by month", today=TODAY)
    assert answer.explanation.startswith("The running total by month of this:")
    assert answer.mappings[0].role == "derivation"


def test_a_field_named_by_a_common_word_groups_after_by(nl: RuleTranslator) -> None:
    """ "kind" is a word that usually carries nothing ("what kind of"); after "by" or "each" in
    a schema with a ``kind`` column it is that column, never silently dropped."""
    for question in ("Number of loaves by kind", "How many loaves of each kind?"):
        answer = nl.ask(question, today=TODAY)
        assert answer.is_sql, answer.explanation
        assert "GROUP BY loaves.kind" in (answer.native_sql or ""), (question, answer.native_sql)


def test_percentage_of_a_figure_with_a_condition(
    chinook_nl: RuleTranslator, chinook_engine: SQLiteEngine
) -> None:
    """ "what percentage of sales came from customers in Brazil": the figure with the condition
    over the figure without it, not a count of rows."""
    gold = (
        "SELECT 100.0 * sum(CASE WHEN c.Country = 'Brazil' THEN l.UnitPrice * l.Quantity END) "
        "/ sum(l.UnitPrice * l.Quantity) FROM InvoiceLine l JOIN Invoice v USING (InvoiceId) "
        "JOIN Customer c USING (CustomerId)"
    )
    answer = chinook_nl.ask("What percentage of sales came from customers in Brazil?")
    assert answer.is_sql, answer.explanation
    assert "COUNT(" not in (answer.native_sql or "").upper(), answer.native_sql
    got = chinook_engine.execute(answer.native_sql or "", None, timeout=10, row_limit=5).table
    want = chinook_engine.execute(gold, None, timeout=10, row_limit=5).table
    assert round(got.column(0)[0].as_py(), 6) == round(want.column(0)[0].as_py(), 6)
