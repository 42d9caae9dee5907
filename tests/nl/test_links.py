"""Relationships on a schema of our own with a draft model only: links a schema does not
declare (an integer column named like a table), and two relationships between the same tables
(a ride's start station and end station) settled by the question's words."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl.draft import draft_from_schema
from sqlgate.nl.prepare import prepare_embedded
from sqlgate.nl.rules import RuleTranslator
from tests.nl.conftest import sqlite_engine
from tests.nl.test_coverage import answers

SCHEMA = """
CREATE TABLE riders (rider_id INTEGER PRIMARY KEY, name TEXT, plan TEXT);
CREATE TABLE stations (station_id INTEGER PRIMARY KEY, station_name TEXT, district TEXT);
CREATE TABLE rides (
    ride_id INTEGER PRIMARY KEY,
    rider INTEGER,
    start_station INTEGER REFERENCES stations (station_id),
    end_station INTEGER REFERENCES stations (station_id),
    minutes INTEGER
);
INSERT INTO riders VALUES (1, 'Ann', 'monthly'), (2, 'Bo', 'daily'), (3, 'Cy', 'monthly');
INSERT INTO stations VALUES (1, 'Quay', 'harbour'), (2, 'Mill', 'old town'), (3, 'Gate', 'north');
INSERT INTO rides VALUES
    (1, 1, 1, 2, 12), (2, 1, 2, 3, 7), (3, 2, 1, 3, 20), (4, 3, 3, 1, 15), (5, 1, 1, 1, 3);
"""


@pytest.fixture(scope="module")
def bikes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "bikes", SCHEMA)


@pytest.fixture(scope="module")
def nl(bikes: SQLiteEngine) -> RuleTranslator:
    return prepare_embedded(bikes, "sqlite")


def test_an_integer_column_named_like_a_table_is_a_relationship(bikes: SQLiteEngine) -> None:
    model = draft_from_schema(bikes.schema())
    links = {(tuple(r.from_), tuple(r.to)) for r in model.relationships}
    assert (("rides.rider",), ("riders.rider_id",)) in links
    # declared keys are kept, and nothing more is guessed for the station columns
    assert sum(1 for _, to in links if to == ("stations.station_id",)) == 2
    assert len(links) == 3


def test_the_inferred_relationship_answers(nl: RuleTranslator, bikes: SQLiteEngine) -> None:
    answers(
        nl,
        bikes,
        "How many rides does Ann have?",
        "SELECT COUNT(*) FROM rides WHERE rider = 1",
    )


def test_a_direction_word_chooses_the_relationship(nl: RuleTranslator, bikes: SQLiteEngine):
    answer = answers(
        nl,
        bikes,
        "How many rides start from Quay?",
        "SELECT COUNT(*) FROM rides WHERE start_station = 1",
    )
    assert "start_station" in (answer.native_sql or "")
    answer = answers(
        nl,
        bikes,
        "How many rides end at Gate?",
        "SELECT COUNT(*) FROM rides WHERE end_station = 3",
    )
    assert "end_station" in (answer.native_sql or "")
    answer = answers(
        nl,
        bikes,
        "How many rides arrive at Gate?",
        "SELECT COUNT(*) FROM rides WHERE end_station = 3",
    )
    assert "end_station" in (answer.native_sql or "")
