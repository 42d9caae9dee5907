"""A proper noun the data stores under another name or in lower case: "United States" for a
value ``usa``, "France" for ``france``; two columns holding its other names link neither.

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
INSERT INTO van VALUES (1, 'AB-1', 'usa'), (2, 'CD-2', 'france'), (3, 'EF-3', 'usa');
INSERT INTO depot VALUES (1, 'Leeds', 'United Kingdom', 'Britain'), (2, 'Lyon', 'France', 'France');
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
