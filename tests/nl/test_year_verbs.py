"""A verb before a period, read on a number column of years: "pupils *enrolled* after 2020" on
``enrol_yr`` (not on the birth date), "ovens *installed* after 2010" on the one ``year`` column of
the rows joined to them; two such columns, or a period that is no whole years, decline.

A school and a bakery of our own (SQLite, draft model only).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl.prepare import prepare_embedded
from tests.nl.conftest import asked_rows as rows
from tests.nl.conftest import sqlite_engine

SCHOOL = """
CREATE TABLE pupil (
    pupil_id INTEGER PRIMARY KEY, full_name TEXT, birth_date DATE, enrol_yr INTEGER
);
INSERT INTO pupil VALUES
    (1, 'Ann Oak', '2001-02-03', 2019), (2, 'Bo Pine', '2002-04-05', 2021),
    (3, 'Cy Fir', '2003-01-01', 2022);
"""

BAKERY = """
CREATE TABLE oven (oven_id INTEGER PRIMARY KEY, label TEXT);
CREATE TABLE purchase (
    purchase_id INTEGER PRIMARY KEY, oven_id INTEGER REFERENCES oven (oven_id), year INTEGER
);
CREATE TABLE mixer (mixer_id INTEGER PRIMARY KEY, label TEXT);
CREATE TABLE mixer_buy (
    buy_id INTEGER PRIMARY KEY, mixer_id INTEGER REFERENCES mixer (mixer_id), year INTEGER
);
CREATE TABLE mixer_fix (
    fix_id INTEGER PRIMARY KEY, mixer_id INTEGER REFERENCES mixer (mixer_id), year INTEGER
);
INSERT INTO oven VALUES (1, 'Big'), (2, 'Small'), (3, 'Stone');
INSERT INTO purchase VALUES (1, 1, 2005), (2, 2, 2012), (3, 3, 2015);
INSERT INTO mixer VALUES (1, 'Spiral'), (2, 'Planet');
INSERT INTO mixer_buy VALUES (1, 1, 2005), (2, 2, 2012);
INSERT INTO mixer_fix VALUES (1, 1, 2013), (2, 2, 2014);
"""


@pytest.fixture(scope="module")
def school(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "school", SCHOOL)


@pytest.fixture(scope="module")
def bakery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "bakery", BAKERY)


def test_a_verb_names_the_number_column_of_years_named_for_it(school: SQLiteEngine) -> None:
    nl = prepare_embedded(school, "sqlite")
    # the birth date is the pupils' date column; "enrolled" says the enrolment year
    got = rows(school, "How many pupils enrolled after 2020?", nl)
    assert got == [(2,)]


def test_a_period_that_is_no_whole_years_declines_on_a_column_of_years(
    school: SQLiteEngine,
) -> None:
    nl = prepare_embedded(school, "sqlite")
    answer = nl.ask("How many pupils enrolled after March 2021?")
    assert not answer.is_sql
    assert "whole years" in answer.explanation


def test_a_verb_dates_the_rows_by_the_year_column_joined_to_them(bakery: SQLiteEngine) -> None:
    nl = prepare_embedded(bakery, "sqlite")
    got = rows(bakery, "Which ovens were installed after 2010? List their labels.", nl)
    assert sorted(v for r in got for v in r if isinstance(v, str)) == ["Small", "Stone"]


def test_two_year_columns_joined_to_the_rows_link_neither(bakery: SQLiteEngine) -> None:
    nl = prepare_embedded(bakery, "sqlite")
    # a mixer's installations and its repairs both have a year: "installed after 2010" is no guess
    answer = nl.ask("Which mixers were installed after 2010? List their labels.")
    assert not answer.is_sql
    assert "date column" in answer.explanation
