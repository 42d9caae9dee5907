"""Schema names that shorten, glue or misspell the question's words: ``dept`` is "department",
``pupilname`` is "pupil name", ``adress`` is "address", ``enrol_yr`` is "enrolment year"; a
name two readings fit stays whole, and a word two names are as close to links nothing.

A school of our own (SQLite, draft model only).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl.name_words import name_words, split_glued
from sqlgate.nl.prepare import prepare_embedded
from sqlgate.nl.rules import RuleTranslator
from tests.nl.conftest import asked_rows as rows
from tests.nl.conftest import sqlite_engine

SCHOOL = """
CREATE TABLE dept (dept_id INTEGER PRIMARY KEY, dept_name TEXT, bldg TEXT);
CREATE TABLE tutor (tutor_id INTEGER PRIMARY KEY, tut_fname TEXT, tut_lname TEXT);
CREATE TABLE pupil (
    pupil_id INTEGER PRIMARY KEY, pupilname TEXT, adress TEXT, enrol_yr INTEGER,
    dept_id INTEGER REFERENCES dept (dept_id)
);
CREATE TABLE kit (
    kit_id INTEGER PRIMARY KEY, kit_desc TEXT, qty INTEGER, unit_prce REAL, rotate_yr INTEGER,
    rot_yr INTEGER, pen_island TEXT
);
CREATE TABLE club (club_id INTEGER PRIMARY KEY, wieght REAL, weigth REAL);
INSERT INTO dept VALUES (1, 'Maths', 'North Hall'), (2, 'Art', 'South Hall');
INSERT INTO tutor VALUES (1, 'Ada', 'Lee'), (2, 'Ben', 'Ng');
INSERT INTO pupil VALUES
    (1, 'Ann Oak', '1 Elm Street', 2019, 1), (2, 'Bo Pine', '2 Ash Road', 2021, 2),
    (3, 'Cy Fir', '3 Yew Lane', 2022, 1);
INSERT INTO kit VALUES
    (1, 'pen', 30, 1.5, 2001, 2002, 'Isle A'), (2, 'ruler', 12, 2.0, 2003, 2004, 'Isle B');
INSERT INTO club VALUES (1, 2.5, 3.5), (2, 4.0, 1.0);
"""


@pytest.fixture(scope="module")
def school(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "school", SCHOOL)


@pytest.fixture(scope="module")
def nl(school: SQLiteEngine) -> RuleTranslator:
    return prepare_embedded(school, "sqlite")


def test_a_name_reads_as_the_words_it_shortens_or_glues() -> None:
    assert name_words("dept_name") == ("department", "name")
    assert name_words("pupilname") == ("pupil", "name")
    assert name_words("makeid") == ("make", "id")
    assert name_words("staffno") == ("staff", "number")
    assert name_words("dob") == ("date", "of", "birth")
    assert name_words("dateofbirth") == ("date", "of", "birth")
    assert split_glued("therapist") == ("therapist",)  # an English word stays whole


def test_a_glued_name_two_readings_fit_stays_whole() -> None:
    # "fname": no two English words; "goalscorer" reads as goal scorer and as goals corer
    assert split_glued("fname") == ("fname",)
    assert split_glued("goalscorer") == ("goalscorer",)
    assert split_glued("hiredate") == ("hire", "date")  # not "hired ate": names end in dates


def test_a_shortened_table_name_is_the_word_it_shortens(
    nl: RuleTranslator, school: SQLiteEngine
) -> None:
    assert rows(school, "How many departments are there?", nl) == [(2,)]
    got = rows(school, "How many pupils are in each department?", nl)
    assert sorted(r[-1] for r in got) == [1, 2]


def test_a_shortened_column_name_is_the_words_it_shortens(
    nl: RuleTranslator, school: SQLiteEngine
) -> None:
    # ``tut_lname`` in ``tutor``: its first word shortens the table's name
    got = rows(school, "What is the last name of the tutor whose first name is Ben?", nl)
    assert got and got[0][-1] == "Ng" and len(got) == 1
    assert rows(school, "Which building is the Art department in?", nl)[0][-1] == "South Hall"


def test_a_glued_column_name_is_its_words(nl: RuleTranslator, school: SQLiteEngine) -> None:
    assert sorted(rows(school, "List the names of all pupils.", nl)) == [
        ("Ann Oak",),
        ("Bo Pine",),
        ("Cy Fir",),
    ]


def test_a_misspelled_column_name_meets_the_right_spelling(
    nl: RuleTranslator, school: SQLiteEngine
) -> None:
    assert rows(school, "What is the address of Ann Oak?", nl) == [("1 Elm Street",)]
    assert rows(school, "What is the unit price of the ruler?", nl)[0][-1] == 2.0


def test_a_word_two_misspelled_names_are_as_close_to_links_nothing(nl: RuleTranslator) -> None:
    # ``wieght`` and ``weigth`` are both one slip from "weight": no guess
    answer = nl.ask("What is the weight of each club?")
    assert not answer.is_sql
    assert "weight" in answer.explanation


def test_a_noun_made_from_a_name_word_names_it(nl: RuleTranslator, school: SQLiteEngine) -> None:
    assert rows(school, "What is the enrolment year of Cy Fir?", nl)[0][-1] == 2022


def test_a_noun_made_from_two_name_words_names_neither(nl: RuleTranslator) -> None:
    # "rotation" is made from ``rotate_yr``'s "rotate" and from ``rot_yr``'s "rot"
    answer = nl.ask("What is the rotation year of the pen?")
    assert not answer.is_sql
    assert "rotation" in answer.explanation


def test_a_word_the_question_glues_meets_a_name_of_two_words(
    nl: RuleTranslator, school: SQLiteEngine
) -> None:
    assert rows(school, "What is the pupilid of Bo Pine?", nl)[0][-1] == 2


def test_a_glued_word_of_two_readings_meets_no_name(nl: RuleTranslator) -> None:
    # "penisland" is pen island (a column) or penis land: no guess
    answer = nl.ask("What is the penisland of each kit?")
    assert not answer.is_sql
    assert "penisland" in answer.explanation


def test_a_name_spelled_the_other_english_way_meets_the_question(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    script = """
    CREATE TABLE theatre (
        theatre_id INTEGER PRIMARY KEY, theatre_name TEXT, seat_colour TEXT, colourize_mode TEXT,
        colorise_step TEXT
    );
    INSERT INTO theatre VALUES
        (1, 'Globe', 'red', 'auto', 'one'), (2, 'Rose', 'blue', 'off', 'two');
    """
    for engine in sqlite_engine(tmp_path_factory, "theatre", script):
        nl = prepare_embedded(engine, "sqlite")
        assert rows(engine, "What is the seat color of the Globe?", nl)[0][-1] == "red"
        # "colorize" is colourize (our) and colorise (ise): no guess
        answer = nl.ask("What is the colorize mode of the Rose?")
        assert not answer.is_sql
        assert "colorize" in answer.explanation


def test_a_shortening_in_the_question_is_the_word_it_shortens(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    script = """
    CREATE TABLE department (department_id INTEGER PRIMARY KEY, title TEXT, building TEXT);
    CREATE TABLE sales_department (id INTEGER PRIMARY KEY, title TEXT);
    CREATE TABLE repair_department (id INTEGER PRIMARY KEY, title TEXT);
    INSERT INTO department VALUES (1, 'Maths', 'North Hall'), (2, 'Art', 'South Hall');
    """
    for engine in sqlite_engine(tmp_path_factory, "shortening", script):
        nl = prepare_embedded(engine, "sqlite")
        assert rows(engine, "How many depts are there?", nl) == [(2,)]
        assert rows(engine, "What is the bldg of the Art dept?", nl)[0][-1] == "South Hall"
        # "depts" of sales or of repairs: "departments" alone names only ``department``
        answer = nl.ask("How many sales depts are there?")
        assert answer.is_sql and "sales_department" in (answer.native_sql or "")


def test_a_shortening_in_the_question_two_tables_fit_links_neither(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    script = """
    CREATE TABLE sales_department (id INTEGER PRIMARY KEY, title TEXT);
    CREATE TABLE repair_department (id INTEGER PRIMARY KEY, title TEXT);
    INSERT INTO sales_department VALUES (1, 'North');
    INSERT INTO repair_department VALUES (1, 'South');
    """
    for engine in sqlite_engine(tmp_path_factory, "two_departments", script):
        nl = prepare_embedded(engine, "sqlite")
        answer = nl.ask("How many depts are there?")  # of sales, or of repairs
        assert not answer.is_sql
        assert "depts" in answer.explanation
