"""Superlatives over the row named right after them, on a small stable schema of our own with a
draft model only: a field of the row with the latest date ("how much does the most recent
visit cost"), the row related to the extreme row ("the rider of the youngest horse"), and the
rows of the group the fewest or most rows have ("the horses of the rarest coat"). Every answer
runs on SQLite and compares rows with hand-written SQL; the same questions translate and pass
the SQL guard on the other dialects, and run on DuckDB, PostgreSQL and MySQL with as many rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl.prepare import prepare_embedded, sample_values
from sqlgate.nl.rules import RuleTranslator
from sqlgate.nl.values import ValueIndex
from tests.mysql_services import fresh_mysql_database
from tests.nl.conftest import sqlite_engine
from tests.nl.test_coverage import answers, declines
from tests.nl.test_structure_shapes import on_every_dialect
from tests.services import fresh_pg_database

SCHEMA = """
CREATE TABLE coats (coat_code VARCHAR(8) PRIMARY KEY, coat_name TEXT);
CREATE TABLE riders (rider_id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT, town TEXT);
CREATE TABLE horses (
    horse_id INTEGER PRIMARY KEY,
    rider_id INTEGER REFERENCES riders (rider_id),
    coat_code VARCHAR(8) REFERENCES coats (coat_code),
    horse_name TEXT,
    age INTEGER,
    weight REAL
);
CREATE TABLE vet_visits (
    visit_id INTEGER PRIMARY KEY,
    horse_id INTEGER REFERENCES horses (horse_id),
    visit_date TIMESTAMP,
    visit_cost REAL,
    cost_of_care REAL
);
CREATE TABLE ponies (
    pony_id INTEGER PRIMARY KEY,
    rider_id INTEGER REFERENCES riders (rider_id),
    pony_name TEXT,
    age VARCHAR(3)
);
INSERT INTO ponies VALUES (1, 1, 'Pip', '10'), (2, 2, 'Taffy', '9'), (3, 3, 'Moss', '12');
INSERT INTO coats VALUES ('BAY', 'Bay'), ('GRY', 'Grey'), ('CHS', 'Chestnut'), ('PNT', 'Pinto');
INSERT INTO riders VALUES
    (1, 'Ann', 'Lee', 'Avon'), (2, 'Bob', 'Ray', 'Brent'), (3, 'Cid', 'Moe', 'Corby');
INSERT INTO horses VALUES
    (1, 1, 'BAY', 'Arrow', 7, 500), (2, 1, 'BAY', 'Blaze', 4, 450), (3, 2, 'GRY', 'Comet', 2, 400),
    (4, 3, 'BAY', 'Dash', 9, 520), (5, 3, 'CHS', 'Ember', 5, 480), (6, 2, 'CHS', 'Flint', 6, 470);
INSERT INTO vet_visits VALUES
    (1, 1, '2024-01-05 10:00:00', 80, 8), (2, 3, '2024-03-09 10:00:00', 120, 12),
    (3, 4, '2023-11-30 10:00:00', 60, 6), (4, 2, '2024-05-20 10:00:00', 95, 9),
    (5, 5, '2024-02-14 10:00:00', 70, 7), (6, 3, '2024-04-01 10:00:00', 50, 5)
"""

OTHER_DIALECTS = ("duckdb", "postgres", "mysql")


@pytest.fixture(scope="module")
def stable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "stable", SCHEMA)


@pytest.fixture(scope="module")
def nl(stable: SQLiteEngine) -> RuleTranslator:
    return prepare_embedded(stable, "sqlite")  # the draft model, as a new connection gets


@pytest.fixture(scope="module")
def values(stable: SQLiteEngine, nl: RuleTranslator) -> ValueIndex:
    return sample_values(stable, nl.model, "sqlite")


RAREST = "(SELECT coat_code FROM horses GROUP BY coat_code ORDER BY COUNT(*) {} LIMIT 1)"

CASES = [
    # a field of the row with the latest (earliest) date: that row's value, not a total
    (
        "How much does the most recent vet visit cost?",
        "SELECT visit_cost FROM vet_visits ORDER BY visit_date DESC LIMIT 1",
    ),
    (
        "How much did the earliest vet visit cost?",
        "SELECT visit_cost FROM vet_visits ORDER BY visit_date ASC LIMIT 1",
    ),
    (
        "What is the visit cost of the latest vet visit?",
        "SELECT visit_cost FROM vet_visits ORDER BY visit_date DESC LIMIT 1",
    ),
    # "the care cost" names a field: the figure asked of the latest row, not what is ranked
    (
        "How much does the most recent care cost?",
        "SELECT cost_of_care FROM vet_visits ORDER BY visit_date DESC LIMIT 1",
    ),
    # the row the extreme row points to, shown by the fields asked of it
    (
        "What is the first name of the rider of the youngest horse?",
        "SELECT r.first_name FROM riders r JOIN horses h ON h.rider_id = r.rider_id "
        "ORDER BY h.age ASC LIMIT 1",
    ),
    (
        "Who is the rider of the youngest horse?",
        "SELECT r.rider_id, r.first_name, r.last_name FROM riders r "
        "JOIN horses h ON h.rider_id = r.rider_id ORDER BY h.age ASC LIMIT 1",
    ),
    (
        "What is the name of the horse with the most recent vet visit?",
        "SELECT h.horse_name FROM horses h JOIN vet_visits v ON v.horse_id = h.horse_id "
        "ORDER BY v.visit_date DESC LIMIT 1",
    ),
    # the rows of the group the fewest (most) rows have; a group with no rows is no group
    (
        "What are the names of the horses of the rarest coat?",
        f"SELECT horse_name FROM horses WHERE coat_code = {RAREST.format('ASC')}",
    ),
    (
        "Which horses have the least common coat?",
        f"SELECT horse_id, horse_name FROM horses WHERE coat_code = {RAREST.format('ASC')}",
    ),
    (
        "List the names of horses of the most common coat.",
        f"SELECT horse_name FROM horses WHERE coat_code = {RAREST.format('DESC')}",
    ),
    # fields of the rows' related rows, listed beside them
    (
        "List the names of the horses of the rarest coat and the visit dates of them.",
        "SELECT h.horse_name, v.visit_date FROM horses h JOIN vet_visits v "
        f"ON v.horse_id = h.horse_id WHERE h.coat_code = {RAREST.format('ASC')}",
    ),
    (
        "How many horses are of the rarest coat?",
        f"SELECT COUNT(*) FROM horses WHERE coat_code = {RAREST.format('ASC')}",
    ),
]


@pytest.mark.parametrize(("question", "gold"), CASES)
def test_superlative_over_the_row_named_after_it(
    nl: RuleTranslator, stable: SQLiteEngine, values: ValueIndex, question: str, gold: str
) -> None:
    answers(nl, stable, question, gold)
    on_every_dialect(nl, question, values)


def test_many_rows_per_ranked_row_are_not_guessed(nl: RuleTranslator) -> None:
    """ "the horses of the oldest rider": a rider has many horses, and nothing here ranks
    riders; declined rather than one horse or all of them."""
    declines(nl, "What are the names of the horses of the oldest rider?")


@pytest.mark.parametrize(
    "question",
    [
        "What are the visit dates of the vet visits of the youngest horse?",
        "What is the visit date of the vet visit of the youngest horse?",
    ],
)
def test_rows_of_the_extreme_row_they_belong_to_are_all_of_its_rows(
    nl: RuleTranslator, stable: SQLiteEngine, values: ValueIndex, question: str
) -> None:
    """The youngest horse (Comet) has two visits: both, not one of them (ordered and cut) nor
    every horse's visits (ordered only)."""
    gold = (
        "SELECT v.visit_date FROM vet_visits v JOIN horses h ON h.horse_id = v.horse_id "
        "WHERE h.age = (SELECT MIN(age) FROM horses)"
    )
    answer = answers(nl, stable, question, gold)
    assert "LIMIT" not in (answer.native_sql or "").upper()
    on_every_dialect(nl, question, values)


def test_a_concept_word_no_column_shows_is_not_dropped(nl: RuleTranslator) -> None:
    """ "the cost of the most recent vet visit": two columns could be the cost, and neither is
    chosen; declined, never the latest visit date read as the answer."""
    declines(nl, "What is the cost of the most recent vet visit?", "cost")


def test_a_number_stored_as_text_is_not_ranked_as_text(
    nl: RuleTranslator, stable: SQLiteEngine
) -> None:
    """ "the youngest pony" with ages stored as text: '10' sorts before '9'; the right rider,
    or declined, never the rider of the text-first age."""
    question = "What is the first name of the rider of the youngest pony?"
    if nl.ask(question).is_sql:
        answers(
            nl,
            stable,
            question,
            "SELECT r.first_name FROM riders r JOIN ponies p ON p.rider_id = r.rider_id "
            "ORDER BY CAST(p.age AS REAL) LIMIT 1",
        )


def _statements() -> list[str]:
    return [re.sub(r"REFERENCES \w+ \(\w+\)", "", s) for s in SCHEMA.split(";") if s.strip()]


def _want(stable: SQLiteEngine, gold: str) -> int:
    return stable.execute(gold, None, timeout=10, row_limit=100).table.num_rows


def test_the_duckdb_translations_run_and_give_as_many_rows(
    nl: RuleTranslator, stable: SQLiteEngine, values: ValueIndex
) -> None:
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    for statement in _statements():
        con.execute(statement)
    translator = RuleTranslator(nl.model, "duckdb", values)
    for question, gold in CASES:
        answer = translator.ask(question)
        assert answer.is_sql, (question, answer.explanation)
        got = con.execute(answer.native_sql or "").fetchall()
        assert len(got) == _want(stable, gold), (question, answer.native_sql)


@pytest.mark.postgres
def test_the_postgres_translations_run_and_give_as_many_rows(
    nl: RuleTranslator, stable: SQLiteEngine, values: ValueIndex
) -> None:
    psycopg = pytest.importorskip("psycopg")
    translator = RuleTranslator(nl.model, "postgres", values)
    with fresh_pg_database() as url, psycopg.connect(url, autocommit=True) as con:
        for statement in _statements():
            con.execute(statement)
        for question, gold in CASES:
            answer = translator.ask(question)
            assert answer.is_sql, (question, answer.explanation)
            got = con.execute(answer.native_sql or "").fetchall()
            assert len(got) == _want(stable, gold), (question, answer.native_sql)


def test_the_mysql_translations_run_and_give_as_many_rows(
    nl: RuleTranslator, stable: SQLiteEngine, values: ValueIndex
) -> None:
    translator = RuleTranslator(nl.model, "mysql", values)
    with fresh_mysql_database() as db, db.admin() as con, con.cursor() as cursor:
        for statement in _statements():
            cursor.execute(statement)
        for question, gold in CASES:
            answer = translator.ask(question)
            assert answer.is_sql, (question, answer.explanation)
            cursor.execute(answer.native_sql or "")
            assert len(cursor.fetchall()) == _want(stable, gold), (question, answer.native_sql)
