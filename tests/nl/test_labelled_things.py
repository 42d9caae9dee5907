"""A thing a table holds only by its name ("the dish" for ``dish_name``), and a longer column
named for it read the other way round ("the launch year of the dish" for ``dish_launch_year``);
two tables holding the thing decline.

A kitchen of our own (SQLite, draft model only).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl.prepare import prepare_embedded
from tests.nl.conftest import asked_rows as rows
from tests.nl.conftest import sqlite_engine

KITCHEN = """
CREATE TABLE chef (
    chef_id INTEGER PRIMARY KEY, name TEXT, age INTEGER, dish_name TEXT, dish_launch_year INTEGER
);
INSERT INTO chef VALUES
    (1, 'Ana', 41, 'Stew', 2001), (2, 'Ben', 29, 'Tart', 2015), (3, 'Cleo', 35, 'Soup', 2010);
"""
DINERS = "CREATE TABLE diner (diner_id INTEGER PRIMARY KEY, name TEXT, dish_name TEXT);"


@pytest.fixture(scope="module")
def kitchen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "kitchen", KITCHEN)


def test_a_thing_named_by_its_name_column(kitchen: SQLiteEngine) -> None:
    nl = prepare_embedded(kitchen, "sqlite")
    got = rows(kitchen, "What is the dish of the oldest chef?", nl)
    assert len(got) == 1 and "Stew" in got[0]


def test_a_column_of_the_thing_the_other_way_round(kitchen: SQLiteEngine) -> None:
    nl = prepare_embedded(kitchen, "sqlite")
    question = "Show the name and the launch year of the dish by the youngest chef."
    got = rows(kitchen, question, nl)
    assert len(got) == 1 and {"Ben", 2015} <= set(got[0])


def test_two_tables_holding_the_thing_decline(tmp_path_factory: pytest.TempPathFactory) -> None:
    for engine in sqlite_engine(tmp_path_factory, "kitchen2", KITCHEN + DINERS):
        answer = prepare_embedded(engine, "sqlite").ask("What is the dish of the oldest chef?")
        assert not answer.is_sql and "dish" in answer.explanation
