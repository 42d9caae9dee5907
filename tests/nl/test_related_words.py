"""Words no name of the schema reaches, read through WordNet: a synonym names a table, a
nationality adjective a sampled value; several candidates, a figure named by a derived word, or
the lexicon turned off decline instead.

A small cobblers' guild of our own (SQLite, draft model only).
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

SCHEMA = """
CREATE TABLE cobblers (
    cobbler_id INTEGER PRIMARY KEY, name TEXT, country TEXT, state TEXT,
    pairs_mended INTEGER, wages INTEGER
);
INSERT INTO cobblers VALUES
    (1, 'Ada', 'Italy', 'Lazio', 40, 12),
    (2, 'Bo', 'Italy', 'Umbria', 25, 14),
    (3, 'Cid', 'Norway', 'Viken', 31, 13);
"""


@pytest.fixture(scope="module")
def guild(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "guild", SCHEMA)


@pytest.fixture(scope="module")
def nl(guild: SQLiteEngine) -> RuleTranslator:
    return prepare_embedded(guild, "sqlite")


def test_the_data_files_are_installed() -> None:
    # a core dependency: without it every test below would only see declines
    assert wordnet.available()
    assert wordnet.base_forms("ladies", "n") == ("lady",)
    assert ("music", "pertainym") in wordnet.related("musical")
    assert ("cobbler", "synonym") in wordnet.related("shoemakers")


def test_a_synonym_names_a_table(nl: RuleTranslator, guild: SQLiteEngine) -> None:
    assert rows(guild, "How many shoemakers are there?", nl) == [(3,)]


def test_a_nationality_names_a_sampled_country(nl: RuleTranslator, guild: SQLiteEngine) -> None:
    assert rows(guild, "How many Italian cobblers are there?", nl) == [(2,)]
    got = rows(guild, "Show the names of Norwegian cobblers.", nl)
    assert [r for r in got if "Cid" in r] == got and len(got) == 1


def test_a_word_related_to_two_columns_declines(nl: RuleTranslator) -> None:
    # "nation" is a synonym of both "country" and "state": no guess
    answer = nl.ask("Show the name and nation of every cobbler.")
    assert not answer.is_sql and "nation" in answer.explanation


def test_a_figure_is_not_named_by_a_related_word(nl: RuleTranslator) -> None:
    # ``wages`` (a synonym of "salary") are per hour; a "salary" may be a year's pay
    answer = nl.ask("What is the total salary of all cobblers?")
    assert not answer.is_sql and "salary" in answer.explanation


def test_the_lexicon_can_be_turned_off(nl: RuleTranslator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SQLGATE_NL_WORDNET", "off")
    answer = nl.ask("How many shoemakers are there?")
    assert not answer.is_sql and "shoemakers" in answer.explanation


PORTS = """
CREATE TABLE regions (region_id INTEGER PRIMARY KEY, region TEXT);
CREATE TABLE ports (
    port_id INTEGER PRIMARY KEY, name TEXT, region_id INTEGER REFERENCES regions (region_id)
);
INSERT INTO regions VALUES (1, 'asia'), (2, 'africa');
INSERT INTO ports VALUES (1, 'Harbour One', 1), (2, 'Harbour Two', 1), (3, 'Harbour Three', 2);
"""


@pytest.fixture(scope="module")
def harbours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "harbours", PORTS)


def test_a_place_adjective_reaches_a_value_stored_in_lower_case(harbours: SQLiteEngine) -> None:
    # 'asia' is stored in lower case and no other word names regions: "Asian" still finds it
    nl = prepare_embedded(harbours, "sqlite")
    assert rows(harbours, "How many Asian ports are there?", nl) == [(2,)]
