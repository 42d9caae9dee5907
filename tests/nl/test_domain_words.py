"""Words of domains the engine was never tuned on: a sports league, a staff register in the
old short-named style, a hospital, a film festival and a shipping line (SQLite, draft models
only). Each rule answers a question on its rows, and a question it must still decline.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl.prepare import prepare_embedded, sample_values
from sqlgate.nl.rules import RuleTranslator
from tests.nl.conftest import asked_rows as rows
from tests.nl.conftest import on_every_dialect, sqlite_engine

LEAGUE = """
CREATE TABLE teams (
    team_id INTEGER PRIMARY KEY, team_name TEXT, city TEXT, founded_year INTEGER,
    stadium_capacity INTEGER
);
CREATE TABLE players (
    player_id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT, position TEXT,
    team_id INTEGER REFERENCES teams (team_id), height_cm INTEGER, jersey_no INTEGER
);
CREATE TABLE matches (
    match_id INTEGER PRIMARY KEY, home_team_id INTEGER REFERENCES teams (team_id),
    away_team_id INTEGER REFERENCES teams (team_id), home_score INTEGER, away_score INTEGER
);
INSERT INTO teams VALUES (1, 'Rovers', 'Leeds', 1901, 30000), (2, 'United', 'York', 1888, 25000),
    (3, 'Athletic', 'Hull', 1920, 18000);
INSERT INTO players VALUES (1, 'Tom', 'Hart', 'Forward', 1, 182, 9),
    (2, 'Sam', 'Reed', 'Defender', 1, 190, 4), (3, 'Luis', 'Mora', 'Forward', 2, 175, 10),
    (4, 'Bo', 'Lund', 'Goalkeeper', 3, 195, 1), (5, 'Ola', 'Berg', 'Midfielder', NULL, 178, 7);
CREATE TABLE goals (
    goal_id INTEGER PRIMARY KEY, match_id INTEGER REFERENCES matches (match_id),
    player_id INTEGER REFERENCES players (player_id)
);
INSERT INTO matches VALUES (1, 1, 2, 2, 1), (2, 2, 3, 0, 0);
INSERT INTO goals VALUES (1, 1, 1), (2, 1, 1), (3, 1, 3);
"""

STAFF = """
CREATE TABLE dept (dept_no INTEGER PRIMARY KEY, dept_name TEXT, loc TEXT);
CREATE TABLE emp (
    emp_no INTEGER PRIMARY KEY, emp_name TEXT, job TEXT, sal REAL,
    dept_no INTEGER REFERENCES dept (dept_no)
);
CREATE TABLE proj (proj_id INTEGER PRIMARY KEY, proj_nm TEXT, budget_amt REAL);
CREATE TABLE emp_proj (
    emp_no INTEGER REFERENCES emp (emp_no), proj_id INTEGER REFERENCES proj (proj_id), hrs INTEGER
);
INSERT INTO dept VALUES (10, 'Accounting', 'New York'), (20, 'Research', 'Dallas'),
    (30, 'Sales', 'Chicago');
INSERT INTO emp VALUES (1, 'King', 'President', 5000, 10), (2, 'Blake', 'Manager', 2850, 30),
    (3, 'Scott', 'Analyst', 3000, 20), (4, 'Allen', 'Salesman', 1600, 30),
    (5, 'Ward', 'Salesman', 1250, 30);
INSERT INTO proj VALUES (1, 'Apollo', 100000), (2, 'Zephyr', 50000);
INSERT INTO emp_proj VALUES (3, 1, 120), (4, 2, 80), (5, 2, 60);
"""

CLINIC = """
CREATE TABLE Ward (WardID INTEGER PRIMARY KEY, WardName TEXT, Floor INTEGER);
CREATE TABLE Patient (
    PatientID INTEGER PRIMARY KEY, FullName TEXT, Gender TEXT,
    WardID INTEGER REFERENCES Ward (WardID)
);
CREATE TABLE Nurse (NurseID INTEGER PRIMARY KEY, NurseName TEXT, WardID INTEGER);
CREATE TABLE Doctor (
    DoctorID INTEGER PRIMARY KEY, DoctorName TEXT, Specialty TEXT,
    WardID INTEGER REFERENCES Ward (WardID)
);
CREATE TABLE Visit (
    VisitID INTEGER PRIMARY KEY, DoctorID INTEGER REFERENCES Doctor (DoctorID),
    PatientID INTEGER REFERENCES Patient (PatientID)
);
INSERT INTO Ward VALUES (1, 'Cardiology', 2), (2, 'Maternity', 1);
INSERT INTO Patient VALUES (1, 'Frank Moore', 'M', 1), (2, 'Grace Lee', 'F', 2),
    (3, 'Ivy Chan', 'F', 1), (4, 'Jack Ray', 'M', 2), (5, 'Hugo Diaz', 'M', 1);
INSERT INTO Nurse VALUES (1, 'Ada', 1), (2, 'Bea', 2);
INSERT INTO Doctor VALUES (1, 'Alice', 'Maternity', 1), (2, 'Bruno', 'Cardiology', 2);
INSERT INTO Visit VALUES (1, 1, 2), (2, 2, 2), (3, 2, 4);
"""

FESTIVAL = """
CREATE TABLE films (
    film_id INTEGER PRIMARY KEY, title TEXT, runtime_min INTEGER, release_year INTEGER
);
CREATE TABLE screening (
    screening_id INTEGER PRIMARY KEY, film_id INTEGER REFERENCES films (film_id), venue TEXT,
    tickets_sold INTEGER
);
CREATE TABLE Vessels (
    VesselId INTEGER PRIMARY KEY, VesselName TEXT, TonnageGT INTEGER, BuiltYear INTEGER
);
CREATE TABLE Cranes (CraneId INTEGER PRIMARY KEY, BuiltYear INTEGER, RefitYear INTEGER);
CREATE TABLE juror (juror_id INTEGER PRIMARY KEY, juror_name TEXT, age INTEGER);
CREATE TABLE snack (snack_id INTEGER PRIMARY KEY, snack_name TEXT, prep_time_mins INTEGER);
INSERT INTO juror VALUES (1, 'Ines', 61), (2, 'Omar', 45);
CREATE TABLE flats (
    flat_id INTEGER PRIMARY KEY, area_sq_ft INTEGER, monthly_rent_usd REAL, opened DATE
);
INSERT INTO flats VALUES (1, 600, 1200, '2024-01-05'), (2, 900, 1800, '2024-02-05');
INSERT INTO snack VALUES (1, 'Popcorn', 5), (2, 'Nachos', 15);
INSERT INTO films VALUES (1, 'Night Train', 112, 2022), (2, 'Blue Field', 95, 2023),
    (3, 'The Quiet', 130, 2023), (4, 'Open Sea', 88, 2024);
INSERT INTO screening VALUES (1, 1, 'Palace', 300), (2, 1, 'Lumiere', 450), (3, 2, 'Palace', 120);
INSERT INTO Vessels VALUES (1, 'Ever Bright', 200000, 2015), (2, 'Nordic Star', 90000, 2008);
INSERT INTO Cranes VALUES (1, 1990, 2010), (2, 1985, 2015);
"""

SHOP = """
CREATE TABLE prod (
    prod_id INTEGER PRIMARY KEY, prod_name TEXT, unit_prc REAL, stock_qty INTEGER,
    discontinued INTEGER, is_featured INTEGER, isbn TEXT
);
INSERT INTO prod VALUES (1, 'Pixel', 699, 50, 0, 1, '111'), (2, 'Chair', 199, 0, 0, 0, '222'),
    (3, 'Old Phone', 99, 0, 1, 0, '333');
"""

METERS = """
CREATE TABLE acct (acct_no INTEGER PRIMARY KEY, holder_nm TEXT, tariff TEXT, FloorNo INTEGER);
CREATE TABLE mtr (
    mtr_id INTEGER PRIMARY KEY, acct_no INTEGER REFERENCES acct (acct_no), mtr_type TEXT
);
CREATE TABLE rdg (rdg_id INTEGER PRIMARY KEY, mtr_id INTEGER REFERENCES mtr (mtr_id), kwh REAL);
INSERT INTO acct VALUES (1, 'Olga Berg', 'Standard', 1), (2, 'Piet Smit', 'Green', 2);
INSERT INTO mtr VALUES (1, 1, 'Smart'), (2, 2, 'Analog'), (3, 2, 'Smart');
INSERT INTO rdg VALUES (1, 1, 320.5), (2, 1, 300.0), (3, 2, 150.0), (4, 3, 210.0);
"""


def _translator(engine: SQLiteEngine) -> RuleTranslator:
    return prepare_embedded(engine, "sqlite")  # the draft model, as a new connection gets


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "shop", SHOP)


@pytest.fixture(scope="module")
def meters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "meters", METERS)


@pytest.fixture(scope="module")
def league(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "league", LEAGUE)


@pytest.fixture(scope="module")
def staff(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "staff", STAFF)


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "clinic", CLINIC)


@pytest.fixture(scope="module")
def festival(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "festival", FESTIVAL)


def test_a_measure_named_without_its_unit(league: SQLiteEngine) -> None:
    nl = _translator(league)
    assert rows(league, "What is the average height of players?", nl) == [(184.0,)]
    assert rows(league, "What is the average height of forwards?", nl) == [(178.5,)]
    assert "Rovers" in rows(league, "Which team has the largest capacity?", nl)[0]
    values = sample_values(league, nl.model, "sqlite")
    on_every_dialect(nl, "What is the average height of players?", values)
    # no weight column, and "score" is the end of two columns' names: no guess
    assert not nl.ask("What is the average weight of players?").is_sql
    assert not nl.ask("What is the average score?").is_sql


def test_the_tallest(league: SQLiteEngine) -> None:
    nl = _translator(league)
    got = rows(league, "Who is the tallest player?", nl)
    assert len(got) == 1 and "Lund" in got[0]
    assert len(rows(league, "List the players taller than 185.", nl)) == 2
    assert not nl.ask("Which team is the tallest?").is_sql  # teams have no height


def test_in_order_of(league: SQLiteEngine) -> None:
    nl = _translator(league)
    got = rows(league, "List the teams in order of founding year.", nl)
    assert [r[1] for r in got] == ["United", "Rovers", "Athletic"]
    assert not nl.ask("List the teams in order of colour.").is_sql


def test_shortened_names_read_as_words(staff: SQLiteEngine) -> None:
    nl = _translator(staff)
    assert rows(staff, "What is the average salary of employees?", nl) == [(2740.0,)]
    assert rows(staff, "What is the total budget of all projects?", nl) == [(150000.0,)]
    got = rows(staff, "How many employees work on each project?", nl)
    assert sorted((r[1], r[-1]) for r in got) == [("Apollo", 1), ("Zephyr", 2)]
    assert not nl.ask("What is the average bonus of employees?").is_sql


def test_a_value_as_written_over_a_shortened_name(staff: SQLiteEngine) -> None:
    nl = _translator(staff)
    # "Sales" is a department, not the ``sal`` column whose stem it shares
    got = rows(staff, "Which employees work in the Sales department?", nl)
    assert sorted(r[1] for r in got) == ["Allen", "Blake", "Ward"]
    assert rows(staff, "How many employees are in Sales?", nl) == [(3,)]
    assert rows(staff, "What is the total salary?", nl) == [(13700.0,)]
    assert not nl.ask("How many employees are in Marketing?").is_sql


def test_where_something_is(staff: SQLiteEngine, league: SQLiteEngine) -> None:
    nl = _translator(staff)
    assert rows(staff, "Where is the Research department located?", nl) == [("Dallas",)]
    assert len(rows(staff, "Which departments are located in Dallas?", nl)) == 1
    assert not nl.ask("Where is Blake located?").is_sql  # employees have no place column
    teams = _translator(league)
    assert rows(league, "Where is the team United based?", teams) == [("York",)]


def test_words_for_one_letter_sexes(clinic: SQLiteEngine) -> None:
    nl = _translator(clinic)
    assert rows(clinic, "How many female patients are there?", nl) == [(2,)]
    assert rows(clinic, "How many patients are men?", nl) == [(3,)]
    assert not nl.ask("How many male wards are there?").is_sql


def test_durations_in_the_unit_the_column_says(festival: SQLiteEngine) -> None:
    nl = _translator(festival)
    got = rows(festival, "List the films shorter than 100 minutes.", nl)
    assert sorted(r[1] for r in got) == ["Blue Field", "Open Sea"]
    assert [r[1] for r in rows(festival, "List the films longer than 2 hours.", nl)] == [
        "The Quiet"
    ]
    assert rows(festival, "What is the average runtime of films?", nl) == [(106.25,)]
    # tickets sold are no duration
    assert not nl.ask("List the screenings shorter than 100 minutes.").is_sql


def test_the_oldest_by_a_year_column(festival: SQLiteEngine) -> None:
    nl = _translator(festival)
    got = rows(festival, "What is the oldest vessel?", nl)
    assert len(got) == 1 and "Nordic Star" in got[0]
    assert "Open Sea" in rows(festival, "What is the newest film?", nl)[0]
    assert not nl.ask("Which crane is the oldest?").is_sql  # two year columns: which one?


def test_the_names_of_things_a_value_names(league: SQLiteEngine) -> None:
    nl = _translator(league)
    got = rows(league, "What are the names of the goalkeepers?", nl)
    assert len(got) == 1 and {"Bo", "Lund"} <= set(got[0])  # the players', not their team's


def test_shortened_table_names(shop: SQLiteEngine) -> None:
    nl = _translator(shop)
    assert rows(shop, "How many products are there?", nl) == [(3,)]
    assert rows(shop, "What is the average unit price of products?", nl) == [
        (pytest.approx(332.33, abs=0.01),)
    ]
    assert not nl.ask("How many productions are there?").is_sql


def test_digits_stored_as_text_are_shown_not_totalled(shop: SQLiteEngine) -> None:
    nl = _translator(shop)
    assert rows(shop, "What is the isbn of Chair?", nl) == [("222",)]


def test_a_word_of_a_column_listed_among_all_is_not_said(shop: SQLiteEngine) -> None:
    """ "out of stock": listing every product, stock_qty among their columns, answers nothing
    of it; and "the discontinued products" is a state the draft cannot read from a number."""
    nl = _translator(shop)
    assert not nl.ask("Which products are out of stock?").is_sql
    assert not nl.ask("List the discontinued products.").is_sql
    assert len(rows(shop, "List the products with a stock quantity below 10.", nl)) == 2


def test_yes_or_no_flags_held_as_numbers(shop: SQLiteEngine) -> None:
    nl = _translator(shop)
    got = rows(shop, "Which products are featured?", nl)
    assert [r[1] for r in got] == ["Pixel"]
    assert rows(shop, "How many products are not featured?", nl) == [(2,)]
    values = sample_values(shop, nl.model, "sqlite")
    on_every_dialect(nl, "Which products are featured?", values)


def test_names_written_without_their_vowels(meters: SQLiteEngine) -> None:
    nl = _translator(meters)
    assert rows(meters, "How many meters are there?", nl) == [(3,)]
    assert rows(meters, "How many smart meters are there?", nl) == [(2,)]
    assert rows(meters, "How many readings are there?", nl) == [(4,)]
    got = rows(meters, "How many meters does each account have?", nl)
    assert sorted(r[-1] for r in got) == [1, 2]
    # "regarding" keeps more letters than "rdg" leaves out; "motto" is no "mtr"
    assert not nl.ask("How many accounts regarding Green are there?").is_sql
    assert not nl.ask("How many mottos are there?").is_sql


def test_a_name_with_a_shortened_last_word(meters: SQLiteEngine) -> None:
    nl = _translator(meters)
    assert rows(meters, "How many accounts are on floor 2?", nl) == [(1,)]
    assert sorted(rows(meters, "List the account holders.", nl)) == [
        ("Olga Berg",),
        ("Piet Smit",),
    ]


def test_rows_related_by_the_row_that_refers_to_both(clinic: SQLiteEngine) -> None:
    """Patients relate to doctors through their visits before through a shared ward."""
    nl = _translator(clinic)
    got = rows(clinic, "How many patients does each doctor see?", nl)
    assert sorted((r[1], r[-1]) for r in got) == [("Alice", 1), ("Bruno", 2)]
    assert not nl.ask("How many patients does each porter see?").is_sql


def test_a_price_in_a_shortened_name(shop: SQLiteEngine) -> None:
    nl = _translator(shop)
    got = rows(shop, "What is the most expensive product?", nl)
    assert len(got) == 1 and "Pixel" in got[0]
    assert rows(shop, "What is the average price of products?", nl) == [
        (pytest.approx(332.33, abs=0.01),)
    ]
    assert not nl.ask("What is the average size of products?").is_sql


def test_rows_referring_to_nothing_have_nothing_related(league: SQLiteEngine) -> None:
    """ "players with no team": a player whose team is NULL is one (NOT IN alone drops it)."""
    nl = _translator(league)
    assert rows(league, "How many players have no team?", nl) == [(1,)]
    assert rows(league, "How many teams have no players?", nl) == [(0,)]
    values = sample_values(league, nl.model, "sqlite")
    on_every_dialect(nl, "How many players have no team?", values)


def test_verbs_that_relate_rows(league: SQLiteEngine) -> None:
    nl = _translator(league)
    got = rows(league, "Which player scored the most goals?", nl)
    assert len(got) == 1 and "Hart" in got[0]
    got = rows(league, "List the players who never scored a goal.", nl)
    assert sorted(r[2] for r in got) == ["Berg", "Lund", "Reed"]


def test_rows_related_in_two_ways_as_short(league: SQLiteEngine) -> None:
    """Goals reach teams through their scorers or through their matches (and a match has two
    teams): which one is meant is not known."""
    nl = _translator(league)
    assert not nl.ask("How many goals does each team have?").is_sql
    assert not nl.ask("Which team scored the most goals?").is_sql


def test_a_value_of_the_model_named_after_it(clinic: SQLiteEngine) -> None:
    """ "the Cardiology ward" is a ward's name, though a doctor's specialty is so named too."""
    nl = _translator(clinic)
    got = rows(clinic, "List the doctors in the Cardiology ward.", nl)
    assert [r[1] for r in got] == ["Alice"]
    assert [r[1] for r in rows(clinic, "List the Cardiology doctors.", nl)] == ["Bruno"]
    assert not nl.ask("List the doctors in the Cardiology wing.").is_sql


def test_the_oldest_of_a_model_named_after_the_superlative(festival: SQLiteEngine) -> None:
    nl = _translator(festival)
    got = rows(festival, "Who is the oldest juror?", nl)
    assert len(got) == 1 and "Ines" in got[0]
    assert not nl.ask("Who is the oldest snack?").is_sql  # no age, no date, no year


def test_a_shortened_first_word(festival: SQLiteEngine) -> None:
    nl = _translator(festival)
    assert rows(festival, "What is the average preparation time of snacks?", nl) == [(10.0,)]


def test_the_things_listed_and_their_fields(staff: SQLiteEngine) -> None:
    """ "the departments and their locations": which department each location is of."""
    nl = _translator(staff)
    got = rows(staff, "List the departments and their locations.", nl)
    assert sorted(got) == [("Accounting", "New York"), ("Research", "Dallas"), ("Sales", "Chicago")]
    assert not nl.ask("List the departments and their colours.").is_sql


def test_a_measure_named_before_two_words_of_unit(festival: SQLiteEngine) -> None:
    """ "area" for ``area_sq_ft``; "the monthly rent" is a column so named, not rent per
    month; "rent" alone for it too."""
    nl = _translator(festival)
    assert rows(festival, "What is the average area of flats?", nl) == [(750.0,)]
    assert rows(festival, "What is the average monthly rent of flats?", nl) == [(1500.0,)]
    assert rows(festival, "What is the highest rent?", nl) == [(1800.0,)]
    assert len(rows(festival, "How many flats opened per month?", nl)) == 2  # a grain still
