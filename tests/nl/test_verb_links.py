"""Verbs no name of the schema is, read through WordNet: "who baked" names the bakers, a verb is
carried by a query reading the noun it derives; a verb reaching two things, or a verb whose
words the query does not read, declines.

A bakery and a fleet of our own (SQLite, draft model only).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl.prepare import prepare_embedded
from sqlgate.nl.rules import RuleTranslator
from sqlgate.nl.rules.verb_links import verb_stems
from tests.nl.conftest import asked_rows as rows
from tests.nl.conftest import sqlite_engine

BAKERY = """
CREATE TABLE baker (
    baker_id INTEGER PRIMARY KEY, full_name TEXT, city TEXT, birth_date DATE, hire_date DATE
);
CREATE TABLE loaf (loaf_id INTEGER PRIMARY KEY, kind TEXT, price REAL);
CREATE TABLE shift (
    shift_id INTEGER PRIMARY KEY, baker_id INTEGER REFERENCES baker (baker_id),
    loaf_id INTEGER REFERENCES loaf (loaf_id), day TEXT
);
INSERT INTO baker VALUES
    (1, 'Ada Flour', 'Leeds', '1990-02-01', '2020-05-01'),
    (2, 'Bo Crust', 'York', '1985-07-01', '2018-01-15'),
    (3, 'Cy Dough', 'Leeds', '1990-09-09', '2021-03-01');
INSERT INTO loaf VALUES (1, 'rye', 3.5), (2, 'spelt', 4.0), (3, 'sourdough', 5.0);
INSERT INTO shift VALUES (1, 1, 1, 'Mon'), (2, 1, 2, 'Tue'), (3, 2, 3, 'Wed'), (4, 1, 3, 'Thu');
"""

FLEET = """
CREATE TABLE driver (driver_id INTEGER PRIMARY KEY, full_name TEXT);
CREATE TABLE motor (motor_id INTEGER PRIMARY KEY, plate TEXT);
CREATE TABLE trip (
    trip_id INTEGER PRIMARY KEY, driver_id INTEGER REFERENCES driver (driver_id),
    motor_id INTEGER REFERENCES motor (motor_id), km INTEGER
);
INSERT INTO driver VALUES (1, 'Ann Lane'), (2, 'Ben Road');
INSERT INTO motor VALUES (1, 'AB-1'), (2, 'CD-2');
INSERT INTO trip VALUES (1, 1, 1, 10), (2, 1, 2, 20), (3, 2, 1, 5);
"""


@pytest.fixture(scope="module")
def bakery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "bakery", BAKERY)


@pytest.fixture(scope="module")
def nl(bakery: SQLiteEngine) -> RuleTranslator:
    return prepare_embedded(bakery, "sqlite")


def test_a_verb_stands_for_the_nouns_it_derives() -> None:
    assert {"teach", "teacher"} <= verb_stems("taught")
    assert "baker" in verb_stems("baked")
    assert verb_stems("awards") == frozenset()  # more often a noun: read as one
    assert verb_stems("had") == frozenset()  # a light verb relates nothing of its own


def test_who_and_a_verb_name_the_one_who_does_it(nl: RuleTranslator, bakery: SQLiteEngine) -> None:
    # no "baker" in the question: "who baked" is the bakers, ranked by their loaves
    got = rows(bakery, "Who baked the most loaves?", nl)
    assert len(got) == 1 and "Ada Flour" in got[0] and 3 in got[0]


def test_people_who_do_something_are_the_table_named_for_it(
    nl: RuleTranslator, bakery: SQLiteEngine
) -> None:
    got = rows(bakery, "What are the names of the people who bake rye?", nl)
    assert [r for r in got if "Ada Flour" in r] == got and len(got) == 1
    assert rows(bakery, "How many people bake sourdough?", nl) == [(2,)]


def test_a_verb_is_carried_by_the_table_named_for_it(
    nl: RuleTranslator, bakery: SQLiteEngine
) -> None:
    got = rows(bakery, "Which bakers baked spelt?", nl)
    assert [r for r in got if "Ada Flour" in r] == got and len(got) == 1


def test_a_verb_whose_words_the_query_does_not_read_declines(nl: RuleTranslator) -> None:
    answer = nl.ask("Show the names of bakers who delivered rye.")
    assert not answer.is_sql and "delivered" in answer.explanation


def test_a_verb_reaching_two_tables_declines(tmp_path_factory: pytest.TempPathFactory) -> None:
    # "drove": a driver, or a motor (a synonym of "drive"): no guess
    for engine in sqlite_engine(tmp_path_factory, "fleet", FLEET):
        answer = prepare_embedded(engine, "sqlite").ask("Who drove the most trips?")
        assert not answer.is_sql and "drove" in answer.explanation


def test_verb_links_turn_off_with_the_lexicon(
    nl: RuleTranslator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SQLGATE_NL_WORDNET", "off")
    answer = nl.ask("Who baked the most loaves?")
    assert not answer.is_sql and "baked" in answer.explanation


def test_a_verb_dates_by_a_column_named_with_its_synonym(
    nl: RuleTranslator, bakery: SQLiteEngine
) -> None:
    # "employed": its synonym "hire" names hire_date, the column the year filters
    got = rows(bakery, "Which bakers were employed in 2020?", nl)
    assert [r for r in got if "Ada Flour" in r] == got and len(got) == 1


def test_a_verb_before_a_date_picks_the_date_named_for_it(
    nl: RuleTranslator, bakery: SQLiteEngine
) -> None:
    # dates are read on hire_date by default; "born" names birth_date
    got = rows(bakery, "Which bakers were born in 1990?", nl)
    assert sorted(r for row in got for r in row if r in ("Ada Flour", "Bo Crust", "Cy Dough")) == [
        "Ada Flour",
        "Cy Dough",
    ]


def test_a_verb_naming_no_date_filtered_declines(nl: RuleTranslator) -> None:
    # no date of a wedding: the hire date filtered does not carry "married"
    answer = nl.ask("Which bakers were married in 2020?")
    assert not answer.is_sql and "married" in answer.explanation


PICTURES = """
CREATE TABLE picture (
    picture_id INTEGER PRIMARY KEY, title TEXT, director TEXT, writer TEXT, year INTEGER
);
INSERT INTO picture VALUES
    (1, 'Dawn', 'Ada Lee', 'Bo Ray', 2001), (2, 'Dusk', 'Cy Moe', 'Bo Ray', 2005),
    (3, 'Noon', 'Ada Lee', 'Di Fox', 2010), (4, 'Dust', 'Cy Moe', 'Ada Lee', 2012);
"""


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "pictures", PICTURES)


def _titles(got: list[tuple[object, ...]]) -> set[object]:
    return {v for row in got for v in row if v in ("Dawn", "Dusk", "Noon", "Dust")}


def test_a_verb_picks_the_column_of_a_value_named_for_it(pictures: SQLiteEngine) -> None:
    # 'Ada Lee' directed two pictures and wrote one: the verb says which column
    nl = prepare_embedded(pictures, "sqlite")
    assert _titles(rows(pictures, "Which pictures were written by Ada Lee?", nl)) == {"Dust"}
    assert _titles(rows(pictures, "Which pictures were directed by Ada Lee?", nl)) == {
        "Dawn",
        "Noon",
    }
    assert rows(pictures, "How many pictures did Ada Lee direct?", nl) == [(2,)]


def test_a_verb_not_naming_the_column_filtered_declines(pictures: SQLiteEngine) -> None:
    # Bo Ray only wrote: "directed" is not carried by a filter on the writer
    nl = prepare_embedded(pictures, "sqlite")
    for question in (
        "Which pictures were directed by Bo Ray?",
        "Which pictures were produced by Ada Lee?",
    ):
        answer = nl.ask(question)
        assert not answer.is_sql, (question, answer.native_sql)
