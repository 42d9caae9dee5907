"""A short verb ("fly", "own") is carried by a query that reads the table named for it, also
through the nouns WordNet derives from it ("fly" → flying → a ``flight`` table); a query reading
no such table leaves it not understood.

An airfield of our own (SQLite, draft model only).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl.prepare import prepare_embedded
from sqlgate.nl.rules import RuleTranslator
from tests.nl.conftest import asked_rows as rows
from tests.nl.conftest import sqlite_engine

AIRFIELD = """
CREATE TABLE field (field_id INTEGER PRIMARY KEY, town TEXT);
CREATE TABLE flight (
    flight_id INTEGER PRIMARY KEY, field_id INTEGER REFERENCES field (field_id), seats INTEGER
);
CREATE TABLE glider (
    glider_id INTEGER PRIMARY KEY, field_id INTEGER REFERENCES field (field_id), wing REAL
);
INSERT INTO field VALUES (1, 'Leeds'), (2, 'York');
INSERT INTO flight VALUES (1, 1, 10), (2, 1, 12), (3, 2, 8);
INSERT INTO glider VALUES (1, 1, 15.0), (2, 2, 18.0);
"""


@pytest.fixture(scope="module")
def airfield(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "airfield", AIRFIELD)


@pytest.fixture(scope="module")
def nl(airfield: SQLiteEngine) -> RuleTranslator:
    return prepare_embedded(airfield, "sqlite")


def test_a_short_verb_is_carried_by_the_table_named_for_it(
    nl: RuleTranslator, airfield: SQLiteEngine
) -> None:
    assert rows(airfield, "How many flights fly from Leeds?", nl) == [(2,)]


def test_a_short_verb_no_table_read_is_named_for_is_not_understood(nl: RuleTranslator) -> None:
    answer = nl.ask("How many fields fly from Leeds?")
    assert not answer.is_sql
    assert "fly" in answer.explanation
