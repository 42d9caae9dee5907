"""A proper noun the data stores under another name or in lower case: "United States" for a
value ``usa``, "France" for ``france``; two columns holding its other names link neither. A value
of several words with a shortened word meets it spelled out, and the other way round ("Repair
Department" for ``Repair Dept.``); a value of one word (a code) does not.

A fleet of our own (SQLite, draft model only).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl.prepare import prepare_embedded
from sqlgate.nl.rules import RuleTranslator
from tests.nl.conftest import asked_rows as rows
from tests.nl.conftest import sqlite_engine

FLEET = """
CREATE TABLE van (van_id INTEGER PRIMARY KEY, plate TEXT, built_in TEXT);
CREATE TABLE depot (depot_id INTEGER PRIMARY KEY, town TEXT, land TEXT, realm TEXT);
CREATE TABLE region (region_id INTEGER PRIMARY KEY, continent TEXT);
CREATE TABLE crew (crew_id INTEGER PRIMARY KEY, full_name TEXT, unit TEXT, code TEXT);
INSERT INTO van VALUES (1, 'AB-1', 'usa'), (2, 'CD-2', 'france'), (3, 'EF-3', 'usa');
INSERT INTO depot VALUES (1, 'Leeds', 'United Kingdom', 'Britain'), (2, 'Lyon', 'France', 'France');
INSERT INTO region VALUES (1, 'America'), (2, 'Europe');
INSERT INTO crew VALUES
    (1, 'Ann Oak', 'Repair Dept.', 'Dept'), (2, 'Bo Pine', 'Sales Department', 'Mgr'),
    (3, 'Cy Fir', 'Repair Dept.', 'Dept');
"""


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "fleet", FLEET)


@pytest.fixture(scope="module")
def nl(fleet: SQLiteEngine) -> RuleTranslator:
    return prepare_embedded(fleet, "sqlite")


def test_another_name_of_a_stored_value_finds_it(nl: RuleTranslator, fleet: SQLiteEngine) -> None:
    assert rows(fleet, "How many vans were built in the United States?", nl) == [(2,)]


def test_a_proper_noun_meets_its_value_stored_in_lower_case(
    nl: RuleTranslator, fleet: SQLiteEngine
) -> None:
    got = rows(fleet, "Which vans have built in France? List their plates.", nl)
    assert [r[0] for r in got] == ["CD-2"]


def test_other_names_held_by_two_columns_link_neither(nl: RuleTranslator) -> None:
    # "Great Britain" is both United Kingdom (land) and Britain (realm): no guess between them
    answer = nl.ask("Which depots are in Great Britain?")
    assert not answer.is_sql
    assert "Great" in answer.explanation


def test_a_value_meets_its_shortened_words_spelled_out(
    nl: RuleTranslator, fleet: SQLiteEngine
) -> None:
    assert rows(fleet, "How many crews are in the Repair Department?", nl) == [(2,)]
    got = rows(fleet, "Who is in the Sales Dept? Give the full name.", nl)
    assert [r[0] for r in got] == ["Bo Pine"]


def test_a_value_of_one_shortened_word_is_not_spelled_out(nl: RuleTranslator) -> None:
    # the code "Dept" is no department: "Department" alone finds no value
    answer = nl.ask("How many crew have the code Department?")
    assert not answer.is_sql
    assert "Department" in answer.explanation


def test_the_initials_of_a_name_are_read_over_another_of_its_names(
    nl: RuleTranslator, fleet: SQLiteEngine
) -> None:
    # "United States" is also "America", a continent here: the column holding its initials
    # (usa) is the one meant
    assert rows(fleet, "How many vans were built in the United States?", nl) == [(2,)]
    answer = nl.ask("How many regions are in America?")
    assert answer.is_sql and "America" in (answer.native_sql or "")
