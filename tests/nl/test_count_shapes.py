"""Counts of related rows per row, on a small shipbuilding schema of our own with a draft model
only, whose names share a prefix ("ship_builders", "ship_names", "ships_data") and whose words
name columns as often as tables: "builders" is the ``builder`` column of ``ship_builders``,
"classes" the label of ``class_list`` and the column of ``ship_names`` that points to it. Every
answer runs on SQLite and compares rows with hand-written SQL; the same questions also translate
and pass the SQL guard on the other dialects the engine targets.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl.prepare import prepare_embedded, sample_values
from sqlgate.nl.rules import RuleTranslator
from sqlgate.nl.values import ValueIndex
from tests.nl.conftest import on_every_dialect, sqlite_engine
from tests.nl.test_coverage import answers

SCHEMA = """
CREATE TABLE ship_yards (yard_id INTEGER PRIMARY KEY, yard_name TEXT, num_of_docks INTEGER);
CREATE TABLE ship_builders (
    builder_id INTEGER PRIMARY KEY, builder TEXT, full_name TEXT,
    yard INTEGER REFERENCES ship_yards (yard_id)
);
CREATE TABLE class_list (
    class_id INTEGER PRIMARY KEY, builder INTEGER REFERENCES ship_builders (builder_id),
    class TEXT UNIQUE
);
CREATE TABLE ship_names (
    name_id INTEGER PRIMARY KEY, class TEXT REFERENCES class_list (class), title TEXT
);
CREATE TABLE ships_data (
    id INTEGER PRIMARY KEY REFERENCES ship_names (name_id), tonnage INTEGER, year INTEGER, rig TEXT
);
CREATE TABLE harbours (harbour_id INTEGER PRIMARY KEY, town TEXT);
CREATE TABLE voyages (
    voyage_id INTEGER PRIMARY KEY,
    source_harbour INTEGER REFERENCES harbours (harbour_id),
    dest_harbour INTEGER REFERENCES harbours (harbour_id)
);
INSERT INTO harbours VALUES (1, 'Avon'), (2, 'Brent'), (3, 'Corby');
INSERT INTO voyages VALUES (1, 1, 2), (2, 1, 2), (3, 2, 1), (4, 1, 3), (5, 3, 2);
INSERT INTO ship_yards VALUES (1, 'Northport', 4), (2, 'Southbay', 2);
INSERT INTO ship_builders VALUES
    (1, 'hw', 'Harland Works', 1), (2, 'bv', 'Bay Vessels', 1), (3, 'ks', 'Keel Shipwrights', 2),
    (4, 'om', 'Oar Wrights', 2);
INSERT INTO class_list VALUES
    (1, 1, 'clipper'), (2, 1, 'frigate'), (3, 1, 'sloop'), (4, 2, 'barge'), (5, 2, 'ketch'),
    (6, 3, 'brig'), (7, 4, 'dory');
INSERT INTO ship_names VALUES
    (1, 'clipper', 'Swift'), (2, 'clipper', 'Arrow'), (3, 'frigate', 'Bold'), (4, 'barge', 'Slow'),
    (5, 'barge', 'Steady'), (6, 'barge', 'Calm'), (7, 'ketch', 'Gull'), (8, 'brig', 'Hawk'),
    (9, 'sloop', 'Wren');
INSERT INTO ships_data VALUES
    (1, 300, 2001, 'square'), (2, 280, 2003, 'square'), (3, 900, 2010, 'lateen'),
    (4, 150, 2020, 'fore'), (5, 160, 2021, 'fore'), (6, 170, 2022, 'square'),
    (7, 90, 2030, 'lateen'), (8, 400, 2040, 'fore'), (9, 120, 2050, 'square');
"""


@pytest.fixture(scope="module")
def yards(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "yards", SCHEMA)


@pytest.fixture(scope="module")
def nl(yards: SQLiteEngine) -> RuleTranslator:
    return prepare_embedded(yards, "sqlite")  # the draft model, as a new connection gets


@pytest.fixture(scope="module")
def values(yards: SQLiteEngine, nl: RuleTranslator) -> ValueIndex:
    return sample_values(yards, nl.model, "sqlite")


CASES = [
    # "more than 2 classes": "classes" the label of class_list, each one a row of it; "builders"
    # the column ship_builders is named after, standing for its rows
    (
        "Which builders have more than 2 classes?",
        "SELECT b.builder FROM ship_builders b JOIN class_list c ON c.builder = b.builder_id "
        "GROUP BY b.builder_id HAVING COUNT(*) > 2",
    ),
    (
        "What are the names and ids of all builders with more than 1 classes?",
        "SELECT b.full_name, b.builder_id FROM ship_builders b "
        "JOIN class_list c ON c.builder = b.builder_id GROUP BY b.builder_id HAVING COUNT(*) > 1",
    ),
    # "each builder": each row of ship_builders, shown with the id and full name asked
    (
        "What is the number of classes made by each builder and what is the id and full name "
        "of each builder?",
        "SELECT COUNT(*), b.full_name, b.builder_id FROM class_list c "
        "JOIN ship_builders b ON c.builder = b.builder_id GROUP BY b.builder_id",
    ),
    # the grouping named twice ("each yard ... of each yard") is one; "its id and name" are
    # the grouped model's key and label
    (
        "How many ship names does each yard have, and what is the id and name of each yard?",
        "SELECT COUNT(*), y.yard_id, y.yard_name FROM ship_names n "
        "JOIN class_list c ON n.class = c.class JOIN ship_builders b ON c.builder = b.builder_id "
        "JOIN ship_yards y ON b.yard = y.yard_id GROUP BY y.yard_id",
    ),
    (
        "What is the number of ship classes made by each builder and what is the id and full "
        "name of each builder?",
        "SELECT COUNT(*), b.builder_id, b.full_name FROM class_list c "
        "JOIN ship_builders b ON c.builder = b.builder_id GROUP BY b.builder_id",
    ),
    # "list the count and ...": the count asked already, not a count of what follows
    (
        "How many classes are made by each builder? Only list the count and the builder full name.",
        "SELECT COUNT(*), b.full_name FROM class_list c "
        "JOIN ship_builders b ON c.builder = b.builder_id GROUP BY b.builder_id",
    ),
    # "ship classes": "ship" begins several models' names and names none alone; "how many
    # classes" counts the rows of class_list, not the ship names that refer to them
    ("How many ship classes are there?", "SELECT COUNT(*) FROM class_list"),
    (
        "How many ship classes are built in Northport?",
        "SELECT COUNT(*) FROM class_list c JOIN ship_builders b ON c.builder = b.builder_id "
        "JOIN ship_yards y ON b.yard = y.yard_id WHERE y.yard_name = 'Northport'",
    ),
    # "the count of the ship classes" is "how many ship classes": the rows of class_list
    ("What is the count of the ship classes?", "SELECT COUNT(*) FROM class_list"),
    ("How many ships are there?", "SELECT COUNT(*) FROM ships_data"),
    # "the builder with ...": one row of ship_builders, not its builder column
    (
        "How many ship classes were made by the builder with full name Harland Works?",
        "SELECT COUNT(*) FROM class_list c JOIN ship_builders b ON c.builder = b.builder_id "
        "WHERE b.full_name = 'Harland Works'",
    ),
    # "docks number": the end of the name of num_of_docks, not a count of yards
    (
        "What is the docks number of the yard named Northport?",
        "SELECT num_of_docks FROM ship_yards WHERE yard_name = 'Northport'",
    ),
    (
        "What are the yard id and docks number of the yard named Southbay?",
        "SELECT yard_id, num_of_docks FROM ship_yards WHERE yard_name = 'Southbay'",
    ),
    # "what is the tonnage and rig": the rows' fields, not a total of the number asked
    (
        "What is the tonnage and rig of the ships with tonnage above 200?",
        "SELECT tonnage, rig FROM ships_data WHERE tonnage > 200",
    ),
    # "in 2021 or after": one period open on one side, not an alternative
    (
        "How many ships are from year 2021 or after?",
        "SELECT COUNT(*) FROM ships_data WHERE year >= 2021",
    ),
    (
        "Show the tonnage of ships of year 2021 or earlier.",
        "SELECT tonnage FROM ships_data WHERE year <= 2021",
    ),
    # a field named before each value of a role join ("from town 'Avon'"): read on its alias
    (
        "How many voyages depart from town 'Avon' and arrive in town 'Brent'?",
        "SELECT COUNT(*) FROM voyages WHERE source_harbour = 1 AND dest_harbour = 2",
    ),
    # a count "or" a value of other related rows: each alternative its own IN subquery
    (
        "Which ship yards have more than 1 ship builders or make the class 'dory'?",
        "SELECT yard_name FROM ship_yards WHERE yard_id IN (SELECT yard FROM ship_builders "
        "GROUP BY yard HAVING COUNT(*) > 1) OR yard_id IN (SELECT b.yard FROM class_list c "
        "JOIN ship_builders b ON c.builder = b.builder_id WHERE c.class = 'dory')",
    ),
    # two counts of different related models: each counted apart, so neither multiplies the
    # other (hw has 3 classes and 4 ship names: a joined COUNT(*) would see 4 and 4)
    (
        "What are the ids and builders of all ship builders that make at least 2 classes and "
        "more than 2 ship names?",
        "SELECT builder_id, builder FROM ship_builders WHERE builder_id IN "
        "(SELECT builder FROM class_list GROUP BY builder HAVING COUNT(*) >= 2) "
        "AND builder_id IN (SELECT c.builder FROM ship_names n JOIN class_list c "
        "ON n.class = c.class GROUP BY c.builder HAVING COUNT(*) > 2)",
    ),
    (
        "Which ship builders make at least 3 classes and at least 4 ship names?",
        "SELECT full_name FROM ship_builders WHERE builder_id IN "
        "(SELECT builder FROM class_list GROUP BY builder HAVING COUNT(*) >= 3) "
        "AND builder_id IN (SELECT c.builder FROM ship_names n JOIN class_list c "
        "ON n.class = c.class GROUP BY c.builder HAVING COUNT(*) >= 4)",
    ),
]


@pytest.mark.parametrize(("question", "gold"), CASES)
def test_counts_of_related_rows(
    nl: RuleTranslator, yards: SQLiteEngine, values: ValueIndex, question: str, gold: str
) -> None:
    answers(nl, yards, question, gold)
    on_every_dialect(nl, question, values)


def test_a_field_that_is_not_a_label_is_not_counted_as_rows(nl: RuleTranslator) -> None:
    """ "more than 200 tonnage": a number column is compared, never counted as rows."""
    answer = nl.ask("Which ships have more than 200 tonnage?")
    assert answer.is_sql, answer.explanation
    assert "COUNT" not in (answer.sql or "").upper()


def test_a_count_or_a_value_of_the_same_rows_is_never_joined(nl: RuleTranslator) -> None:
    """ "more than 2 classes or the class 'brig'": one builder per matching class row would
    repeat builders; declined rather than joined."""
    question = (
        "What are the full names of the ship builders which have more than 2 classes or make "
        "the class 'brig'?"
    )
    answer = nl.ask(question)
    assert not answer.is_sql or "JOIN" not in (answer.sql or "").split("WHERE")[0], answer.sql
