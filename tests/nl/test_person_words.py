"""Nouns for a person no name of the schema is: a table named with a more specific or more
general noun (WordNet's hierarchy), or the table the foreign keys named for the noun refer to;
and nouns for things, a table named with a more specific noun.
Two tables fitting, or a key referring to its own table (one row among others), decline; and a
count of such people compared with a number is never read as a comparison of another column.

A summer camp of our own (SQLite, draft model only).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl import wordnet
from sqlgate.nl.prepare import prepare_embedded
from sqlgate.nl.rules import RuleTranslator
from tests.nl.conftest import asked_rows as rows
from tests.nl.conftest import sqlite_engine

CAMP = """
CREATE TABLE camper (camper_id INTEGER PRIMARY KEY, name TEXT, age INTEGER);
CREATE TABLE bunk (
    bunk_id INTEGER PRIMARY KEY, student_id INTEGER REFERENCES camper (camper_id), cabin TEXT
);
CREATE TABLE tutor (
    tutor_id INTEGER PRIMARY KEY, name TEXT, mentor_id INTEGER REFERENCES tutor (tutor_id)
);
INSERT INTO camper VALUES (1, 'Ari', 12), (2, 'Bea', 13), (3, 'Cal', 12), (4, 'Dot', 12);
INSERT INTO bunk VALUES (1, 1, 'Oak'), (2, 2, 'Pine');
INSERT INTO tutor VALUES (1, 'Tess', NULL), (2, 'Uma', 1);
"""

TWO_KINDS = """
CREATE TABLE tutor (tutor_id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE coach (coach_id INTEGER PRIMARY KEY, name TEXT);
INSERT INTO tutor VALUES (1, 'Tess'), (2, 'Uma');
INSERT INTO coach VALUES (1, 'Val');
"""


@pytest.fixture(scope="module")
def camp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "camp", CAMP)


@pytest.fixture(scope="module")
def nl(camp: SQLiteEngine) -> RuleTranslator:
    return prepare_embedded(camp, "sqlite")


def test_people_nouns_and_their_kin() -> None:
    assert wordnet.person("students") and wordnet.person("clients")
    assert not wordnet.person("museums")
    assert "tutor" in wordnet.kin("teachers")  # one step below


def test_a_more_specific_person_noun_names_a_table(nl: RuleTranslator, camp: SQLiteEngine) -> None:
    # no "teacher" anywhere: a tutor is a kind of teacher
    assert rows(camp, "How many teachers are there?", nl) == [(2,)]


def test_the_table_keys_named_for_the_noun_refer_to(nl: RuleTranslator, camp: SQLiteEngine) -> None:
    # bunk.student_id refers to camper: the students are the campers
    assert rows(camp, "How many students are there?", nl) == [(4,)]
    got = rows(camp, "Show the names of students who have no bunk.", nl)
    assert sorted(r for row in got for r in row) == ["Cal", "Dot"]


def test_a_key_referring_to_its_own_table_declines(nl: RuleTranslator) -> None:
    # tutor.mentor_id: a mentor is one tutor among others, not every tutor
    answer = nl.ask("How many mentors are there?")
    assert not answer.is_sql and "mentors" in answer.explanation


def test_two_tables_of_the_kind_decline(tmp_path_factory: pytest.TempPathFactory) -> None:
    # a tutor and a coach are both kinds of teacher: no guess
    for engine in sqlite_engine(tmp_path_factory, "kinds", TWO_KINDS):
        answer = prepare_embedded(engine, "sqlite").ask("How many teachers are there?")
        assert not answer.is_sql and "teachers" in answer.explanation


def test_a_number_of_people_is_a_count(nl: RuleTranslator) -> None:
    # not "age >= 2": a count of campers of each age, which this reading does not build
    answer = nl.ask("Show me all ages that have at least 2 students.")
    assert not answer.is_sql or "COUNT" in (answer.native_sql or "").upper()


SHOP = """
CREATE TABLE clerk (clerk_id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT);
CREATE TABLE shop (shop_id INTEGER PRIMARY KEY, title TEXT);
CREATE TABLE rota (
    staff_id INTEGER REFERENCES clerk (clerk_id), shop_id INTEGER REFERENCES shop (shop_id)
);
INSERT INTO clerk VALUES (1, 'Ann', 'Lee'), (2, 'Bob', 'Ray'), (3, 'Cai', 'Oto');
INSERT INTO shop VALUES (1, 'North'), (2, 'South');
INSERT INTO rota VALUES (1, 1), (2, 1), (2, 2);
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "shop", SHOP)


def test_people_are_the_one_table_with_first_and_last_names(shop: SQLiteEngine) -> None:
    nl = prepare_embedded(shop, "sqlite")
    assert rows(shop, "How many people are there?", nl) == [(3,)]


def test_a_body_of_staff_is_the_table_its_keys_refer_to(shop: SQLiteEngine) -> None:
    nl = prepare_embedded(shop, "sqlite")
    assert rows(shop, "How many staff are there?", nl) == [(3,)]


def test_people_with_two_tables_of_names_decline(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    script = (
        SHOP + "CREATE TABLE buyer (buyer_id INTEGER PRIMARY KEY, forename TEXT, surname TEXT);"
    )
    for engine in sqlite_engine(tmp_path_factory, "shop2", script):
        answer = prepare_embedded(engine, "sqlite").ask("How many people are there?")
        assert not answer.is_sql and "people" in answer.explanation


PASTRY = """
CREATE TABLE tart (tart_id INTEGER PRIMARY KEY, filling TEXT);
CREATE TABLE pie (pie_id INTEGER PRIMARY KEY, filling TEXT);
CREATE TABLE loaf (loaf_id INTEGER PRIMARY KEY, grain TEXT);
INSERT INTO tart VALUES (1, 'lemon');
INSERT INTO pie VALUES (1, 'apple'), (2, 'cherry');
INSERT INTO loaf VALUES (1, 'rye'), (2, 'spelt'), (3, 'wheat');
"""


@pytest.fixture(scope="module")
def pastry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "pastry", PASTRY)


def test_a_thing_names_the_one_table_of_a_kind_of_it(pastry: SQLiteEngine) -> None:
    # a loaf is a kind of bread (one step more specific)
    nl = prepare_embedded(pastry, "sqlite")
    assert rows(pastry, "How many breads are there?", nl) == [(3,)]


def test_a_thing_with_two_tables_of_its_kinds_declines(pastry: SQLiteEngine) -> None:
    # a tart and a pie are both pastries: no guess
    answer = prepare_embedded(pastry, "sqlite").ask("How many pastries are there?")
    assert not answer.is_sql and "pastries" in answer.explanation


GALLERY = """
CREATE TABLE painter (painter_id INTEGER PRIMARY KEY, name TEXT, age INTEGER);
CREATE TABLE canvas (
    canvas_id INTEGER PRIMARY KEY, painter_id INTEGER REFERENCES painter, title TEXT
);
INSERT INTO painter VALUES (1, 'Ines', 40), (2, 'Jon', 52);
INSERT INTO canvas VALUES (1, 1, 'Sea'), (2, 1, 'Sky'), (3, 2, 'Hill');
"""


def test_people_are_the_one_table_named_for_people(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # no first and last names: the one table named with a noun for people (a painter)
    for engine in sqlite_engine(tmp_path_factory, "gallery", GALLERY):
        nl = prepare_embedded(engine, "sqlite")
        assert rows(engine, "How many people are there?", nl) == [(2,)]


def test_people_with_two_tables_named_for_people_decline(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    script = GALLERY + "CREATE TABLE buyer (buyer_id INTEGER PRIMARY KEY, name TEXT);"
    for engine in sqlite_engine(tmp_path_factory, "gallery2", script):
        answer = prepare_embedded(engine, "sqlite").ask("How many people are there?")
        assert not answer.is_sql and "people" in answer.explanation
