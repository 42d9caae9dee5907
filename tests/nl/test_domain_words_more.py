"""Words of three more domains the engine was never tuned on: a bank in shortened snake_case
names, a bug tracker in CamelCase with a manager of each user, and a zoo with a link table
(SQLite, draft models only). Each rule answers a question on its rows, and a question it must
still decline.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl.name_words import name_words
from sqlgate.nl.prepare import prepare_embedded, sample_values
from sqlgate.nl.rules import RuleTranslator
from tests.nl.conftest import asked_rows as rows
from tests.nl.conftest import on_every_dialect, sqlite_engine

BANK = """
CREATE TABLE branches (branch_id INTEGER PRIMARY KEY, branch_name TEXT, city TEXT);
CREATE TABLE customers (
    cust_id INTEGER PRIMARY KEY, first_nm TEXT, last_nm TEXT, city TEXT, birth_dt TEXT
);
CREATE TABLE accounts (
    acct_no INTEGER PRIMARY KEY, cust_id INTEGER REFERENCES customers (cust_id),
    branch_id INTEGER REFERENCES branches (branch_id), acct_type TEXT, balance REAL, opened_on TEXT
);
CREATE TABLE txns (
    txn_id INTEGER PRIMARY KEY, acct_no INTEGER REFERENCES accounts (acct_no), amount REAL,
    txn_type TEXT, txn_date TEXT
);
INSERT INTO branches VALUES (1, 'Central', 'Boston'), (2, 'Harbour', 'Salem');
INSERT INTO customers VALUES (1, 'Anna', 'Kim', 'Boston', '1980-04-02'),
    (2, 'Ben', 'Ortiz', 'Salem', '1992-11-20'), (3, 'Cara', 'Nash', 'Boston', '1975-01-15'),
    (4, 'Dev', 'Patel', 'Lynn', '2001-07-30');
INSERT INTO accounts VALUES (100, 1, 1, 'checking', 2500.0, '2015-03-01'),
    (101, 1, 1, 'savings', 12000.0, '2016-06-10'), (102, 2, 2, 'checking', 300.0, '2020-01-05'),
    (103, 3, 1, 'savings', 45000.0, '2010-09-09'), (104, 4, 2, 'checking', 80.0, '2023-02-14');
INSERT INTO txns VALUES (1, 100, 200.0, 'deposit', '2024-01-03'),
    (2, 100, 50.0, 'withdrawal', '2024-01-05'), (3, 102, 1000.0, 'deposit', '2024-02-01'),
    (4, 103, 5000.0, 'withdrawal', '2024-02-11'), (5, 101, 750.0, 'deposit', '2024-03-15'),
    (6, 100, 20.0, 'fee', '2024-03-31');
"""

BUGS = """
CREATE TABLE Users (
    UserId INTEGER PRIMARY KEY, UserName TEXT, Email TEXT,
    ManagerId INTEGER REFERENCES Users (UserId)
);
CREATE TABLE Projects (ProjectId INTEGER PRIMARY KEY, Title TEXT, StartDate TEXT);
CREATE TABLE Issues (
    IssueId INTEGER PRIMARY KEY, ProjectId INTEGER REFERENCES Projects (ProjectId),
    ReporterId INTEGER REFERENCES Users (UserId), AssigneeId INTEGER REFERENCES Users (UserId),
    Summary TEXT, Severity TEXT, Status TEXT, CreatedAt TEXT, HoursSpent REAL
);
CREATE TABLE Labels (LabelId INTEGER PRIMARY KEY, Name TEXT);
CREATE TABLE IssueLabels (
    IssueId INTEGER REFERENCES Issues (IssueId), LabelId INTEGER REFERENCES Labels (LabelId)
);
INSERT INTO Users VALUES (1, 'Maria', 'maria@x.io', NULL), (2, 'Scott', 'scott@x.io', 1),
    (3, 'Priya', 'priya@x.io', 1), (4, 'Tomas', 'tomas@x.io', 2);
INSERT INTO Projects VALUES (1, 'Checkout', '2022-05-01'), (2, 'Search', '2023-01-15');
INSERT INTO Issues VALUES
    (1, 1, 2, 3, 'Crash on pay', 'critical', 'open', '2024-04-01', 5.5),
    (2, 1, 3, 4, 'Slow cart', 'minor', 'closed', '2024-04-03', 2.0),
    (3, 2, 4, 3, 'Typo in results', 'trivial', 'open', '2024-05-10', 0.5),
    (4, 2, 2, 4, 'Index timeout', 'major', 'open', '2024-05-12', 8.0),
    (5, 1, 1, 2, 'Wrong tax', 'major', 'closed', '2024-06-01', 3.0);
INSERT INTO Labels VALUES (1, 'ui'), (2, 'backend'), (3, 'performance');
INSERT INTO IssueLabels VALUES (1, 2), (2, 3), (2, 1), (3, 1), (4, 2), (4, 3);
"""

ZOO = """
CREATE TABLE species (id INTEGER PRIMARY KEY, common_name TEXT, diet TEXT);
CREATE TABLE enclosure (id INTEGER PRIMARY KEY, name TEXT, area_sqm INTEGER);
CREATE TABLE animal (
    id INTEGER PRIMARY KEY, name TEXT, species_id INTEGER REFERENCES species (id),
    enclosure_id INTEGER REFERENCES enclosure (id), birth_year INTEGER, weight_kg REAL, sex TEXT
);
CREATE TABLE keeper (
    id INTEGER PRIMARY KEY, name TEXT, salary INTEGER, hired_year INTEGER
);
CREATE TABLE feeding (
    animal_id INTEGER REFERENCES animal (id), keeper_id INTEGER REFERENCES keeper (id),
    food TEXT, qty_kg REAL
);
INSERT INTO species VALUES (1, 'Lion', 'carnivore'), (2, 'Zebra', 'herbivore'),
    (3, 'Penguin', 'carnivore');
INSERT INTO enclosure VALUES (1, 'Savannah', 5000), (2, 'Ice House', 800);
INSERT INTO animal VALUES (1, 'Simba', 1, 1, 2015, 190.0, 'M'), (2, 'Nala', 1, 1, 2016, 130.0, 'F'),
    (3, 'Ziggy', 2, 1, 2018, 320.0, 'M'), (4, 'Pingu', 3, 2, 2020, 4.5, 'M'),
    (5, 'Flo', 3, 2, 2021, 3.9, 'F');
INSERT INTO keeper VALUES (1, 'Rosa', 42000, 2010), (2, 'Ivan', 38000, 2019),
    (3, 'Lena', 45000, 2005);
INSERT INTO feeding VALUES (1, 1, 'beef', 7.0), (2, 1, 'beef', 5.0), (3, 2, 'hay', 9.0),
    (4, 3, 'fish', 0.5), (5, 3, 'fish', 0.4);
"""


def _translator(engine: SQLiteEngine) -> RuleTranslator:
    return prepare_embedded(engine, "sqlite")  # the draft model, as a new connection gets


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "bank", BANK)


@pytest.fixture(scope="module")
def bugs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "bugs", BUGS)


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "zoo", ZOO)


def test_dates_kept_as_text(bank: SQLiteEngine, bugs: SQLiteEngine) -> None:
    nl = _translator(bank)
    got = rows(bank, "Which accounts were opened after 2015?", nl)
    assert sorted(r[0] for r in got) == [101, 102, 104]
    on_every_dialect(
        nl, "Which accounts were opened after 2015?", sample_values(bank, nl.model, "sqlite")
    )
    nl = _translator(bugs)
    assert rows(bugs, "How many issues were created in May 2024?", nl) == [(2,)]
    assert "Checkout" in rows(bugs, "Which project started first?", nl)[0]
    # a text column of words is no date: nothing dates the issues' severity
    assert not nl.ask("Which issues were reported after 2015 by severity date?").is_sql


def test_plural_shortened_names(bank: SQLiteEngine) -> None:
    assert name_words("txns") == ("transactions",)
    assert name_words("qtys") == ("quantities",)
    assert name_words("docs") == ("docs",)  # a word of its own
    nl = _translator(bank)
    assert rows(bank, "What is the largest transaction amount?", nl) == [(5000.0,)]
    got = rows(bank, "How many transactions did each account make?", nl)
    assert sorted((r[0], r[-1]) for r in got) == [(100, 3), (101, 1), (102, 1), (103, 1)]
    assert not nl.ask("What is the largest transfer amount?").is_sql


def test_who_a_manager_is(bugs: SQLiteEngine) -> None:
    nl = _translator(bugs)
    for question in (
        "Who is the manager of Scott?",
        "Who manages Scott?",
        "Who does Scott report to?",
    ):
        assert rows(bugs, question, nl) == [("Maria",)], question
    for question in (
        "Which users report to Maria?",
        "Who works under Maria?",
        "Whom does Maria manage?",
    ):
        assert sorted(rows(bugs, question, nl)) == [("Priya",), ("Scott",)], question
    assert rows(bugs, "How many users report to Maria?", nl) == [(2,)]
    on_every_dialect(nl, "Who manages Scott?", sample_values(bugs, nl.model, "sqlite"))
    # two users named: not read as the manager of both
    assert not nl.ask("Who is the manager of Priya and Scott?").is_sql


def test_reporting_to_without_a_manager_column(zoo: SQLiteEngine) -> None:
    nl = _translator(zoo)
    # keepers have no manager: never the named keeper's own row
    assert not nl.ask("Which keepers report to Rosa?").is_sql
    assert not nl.ask("Which keepers work under Rosa?").is_sql
    assert rows(zoo, "Which keepers were hired before 2015?", nl) != []


def test_a_verb_of_a_date_before_first(bank: SQLiteEngine, zoo: SQLiteEngine) -> None:
    nl = _translator(bank)
    assert "Nash" in rows(bank, "Which customer was born first?", nl)[0]
    assert rows(bank, "Which account was opened first?", nl)[0][0] == 103
    nl = _translator(zoo)
    assert rows(zoo, "Which animal was born first?", nl)[0][1] == "Simba"
    # keepers have a year of hiring only: no birth to rank by
    assert not nl.ask("Which keeper was born first?").is_sql


def test_verbs_of_a_figure_ranked(zoo: SQLiteEngine) -> None:
    nl = _translator(zoo)
    assert rows(zoo, "Which keeper earns the most?", nl)[0][1] == "Lena"
    assert [r[1] for r in rows(zoo, "Which keepers earn more than 40000?", nl)] == [
        "Rosa",
        "Lena",
    ]
    assert rows(zoo, "Which animal weighs the most?", nl)[0][1] == "Ziggy"
    assert rows(zoo, "Which animal weighs the least?", nl)[0][1] == "Flo"
    on_every_dialect(nl, "Which keeper earns the most?", sample_values(zoo, nl.model, "sqlite"))
    # animals earn nothing, enclosures weigh nothing
    assert not nl.ask("Which animal earns the most?").is_sql
    assert not nl.ask("Which enclosure weighs the most?").is_sql


def test_a_group_named_by_its_members(bank: SQLiteEngine, zoo: SQLiteEngine) -> None:
    staff = "CREATE TABLE emp (emp_no INTEGER PRIMARY KEY, emp_nm TEXT, sal REAL);\n"
    staff += "INSERT INTO emp VALUES (1, 'King', 5000), (2, 'Ward', 1250), (3, 'Ford', 3000);"
    for engine in sqlite_engine_once("staff", staff):
        nl = _translator(engine)
        assert rows(engine, "How many staff are there?", nl) == [(3,)]
        assert len(rows(engine, "Which staff earn more than 2000?", nl)) == 2
    # the zoo's keepers are never called employees: no guess
    assert not _translator(zoo).ask("How many staff are there?").is_sql


def test_a_thing_named_by_the_kind_above_it(zoo: SQLiteEngine) -> None:
    fleet = "CREATE TABLE Vessels (VesselId INTEGER PRIMARY KEY, VesselName TEXT, BuiltYear INT);"
    fleet += "INSERT INTO Vessels VALUES (1, 'Ever Bright', 2015), (2, 'Nordic Star', 2008);"
    for engine in sqlite_engine_once("fleet", fleet):
        nl = _translator(engine)
        assert rows(engine, "How many ships are there?", nl) == [(2,)]
        assert rows(engine, "Which ship was built first?", nl)[0][1] == "Nordic Star"
    # vessels of several types: "ships" may be some of them only
    typed = "CREATE TABLE Vessels (VesselId INTEGER PRIMARY KEY, VesselName TEXT, VesselType TEXT);"
    typed += "INSERT INTO Vessels VALUES (1, 'Ever Bright', 'tanker'), (2, 'Nordic', 'ferry');"
    for engine in sqlite_engine_once("typed", typed):
        assert not _translator(engine).ask("How many ships are there?").is_sql


def sqlite_engine_once(name: str, script: str) -> Iterator[SQLiteEngine]:
    """A SQLite engine on a new file in a temporary folder that ``script`` built, closed after."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{name}.sqlite"
        with sqlite3.connect(path) as con:
            con.executescript(script)
        engine = SQLiteEngine(path)
        yield engine
        engine.close()


WORKSHOPS = """
CREATE TABLE workshops (
    workshop_id INTEGER PRIMARY KEY, title TEXT, venue TEXT, held_on DATE,
    participant_count INTEGER, duration_min INTEGER
);
INSERT INTO workshops VALUES (1, 'Intro to SQL', 'Room A', '2024-03-01', 25, 45),
    (2, 'Data Viz', 'Room B', '2024-04-12', 40, 90),
    (3, 'Statistics', 'Room A', '2024-05-20', 12, 120);
"""


def test_a_length_of_time_said_with_a(zoo: SQLiteEngine) -> None:
    for engine in sqlite_engine_once("workshops", WORKSHOPS):
        nl = _translator(engine)
        got = rows(engine, "Which workshops are shorter than an hour?", nl)
        assert [r[1] for r in got] == ["Intro to SQL"]
        assert rows(engine, "How many workshops are longer than an hour?", nl) == [(2,)]
        got = rows(engine, "Which workshops are shorter than half an hour?", nl)
        assert got == []
        values = sample_values(engine, nl.model, "sqlite")
        on_every_dialect(nl, "Which workshops are shorter than an hour?", values)
    # animals have no length of time
    assert not _translator(zoo).ask("Which animals are shorter than an hour?").is_sql


def test_a_date_named_for_its_verb() -> None:
    for engine in sqlite_engine_once("workshops", WORKSHOPS):
        nl = _translator(engine)
        assert rows(engine, "When was the Data Viz workshop held?", nl) == [("2024-04-12",)]
        assert len(rows(engine, "When were the workshops held?", nl)) == 3
        got = rows(engine, "Which workshops were held in April 2024?", nl)
        assert [r[1] for r in got] == ["Data Viz"]
        # where it was held is its venue, not its date
        assert not nl.ask("Where was the Data Viz workshop held?").is_sql


def test_rows_with_no_manager(bugs: SQLiteEngine) -> None:
    nl = _translator(bugs)
    assert rows(bugs, "Which users have no manager?", nl) == [("Maria",)]
    assert rows(bugs, "How many users have no manager?", nl) == [(1,)]
    on_every_dialect(nl, "Which users have no manager?", sample_values(bugs, nl.model, "sqlite"))
    # issues have no manager of their own
    assert not nl.ask("How many issues have no manager?").is_sql


def test_rows_named_by_a_value_of_their_kind(bank: SQLiteEngine, zoo: SQLiteEngine) -> None:
    nl = _translator(bank)
    assert sorted(r[0] for r in rows(bank, "List all withdrawals.", nl)) == [2, 4]
    assert rows(bank, "What is the total amount of deposits?", nl) == [(1950.0,)]
    # a lion is a species: counting animals or species is not for the rule to pick
    assert not _translator(zoo).ask("How many lions are there?").is_sql
    assert not _translator(zoo).ask("List all carnivores.").is_sql


def test_a_start_date_named_by_its_verb(bugs: SQLiteEngine) -> None:
    nl = _translator(bugs)
    assert rows(bugs, "When did the Search project start?", nl) == [("2023-01-15",)]
    assert not nl.ask("When did the Search project end?").is_sql  # no date of its end


def test_a_measure_named_without_its_unit_of_area(zoo: SQLiteEngine) -> None:
    nl = _translator(zoo)
    assert rows(zoo, "What is the area of the Ice House?", nl) == [(800,)]
    assert rows(zoo, "What is the total area of all enclosures?", nl) == [(5800,)]
    assert not nl.ask("What is the height of the Savannah enclosure?").is_sql


def test_a_participle_picks_the_link_named_for_it(bugs: SQLiteEngine) -> None:
    nl = _translator(bugs)
    assert rows(bugs, "How many issues are assigned to Priya?", nl) == [(2,)]
    got = rows(bugs, "Which issues were reported by Scott?", nl)
    assert sorted(r[0] for r in got) == [1, 4]
    got = rows(bugs, "Which issues were assigned to Tomas?", nl)
    assert sorted(r[0] for r in got) == [2, 4]
    # no column is named for fixing: neither link is guessed
    assert not nl.ask("Which issues were fixed by Tomas?").is_sql
