"""Words a question writes differently from the schema: other inflections, typing slips, a name
spelled out from its initials, a name several models share, and verbs that only relate things.

A small garage of our own (SQLite, draft model only): each rule is checked on the rows it gives,
and on a question it must still decline.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl.prepare import prepare_embedded
from sqlgate.nl.rules import RuleTranslator
from sqlgate.nl.rules.coverage import measure_coverage
from sqlgate.nl.spelling import acronym, initials, lemma
from sqlgate.nl.text import tokenize
from tests.nl.conftest import asked_rows as rows
from tests.nl.conftest import sqlite_engine

SCHEMA = """
CREATE TABLE workshops (workshop_id INTEGER PRIMARY KEY, name TEXT, city TEXT);
CREATE TABLE mechanics (
    mechanic_id INTEGER PRIMARY KEY, name TEXT, age INTEGER, hourly_rate REAL,
    workshop_id INTEGER REFERENCES workshops (workshop_id), birth_date DATE, hire_date DATE
);
CREATE TABLE vehicles (vehicle_id INTEGER PRIMARY KEY, plate TEXT, mpg REAL, cylinders INTEGER);
CREATE TABLE repairs (
    repair_id INTEGER PRIMARY KEY,
    vehicle_id INTEGER REFERENCES vehicles (vehicle_id),
    mechanic_id INTEGER REFERENCES mechanics (mechanic_id),
    cost REAL, repair_date DATE
);
CREATE TABLE transfers (
    transfer_id INTEGER PRIMARY KEY,
    vehicle_id INTEGER REFERENCES vehicles (vehicle_id),
    from_workshop INTEGER REFERENCES workshops (workshop_id),
    to_workshop INTEGER REFERENCES workshops (workshop_id)
);
CREATE TABLE suppliers (supplier_id INTEGER PRIMARY KEY, company TEXT, city TEXT);
INSERT INTO suppliers VALUES (1, 'Bolt Ltd', 'Leeds'), (2, 'Nut Co', 'York');
CREATE TABLE Carpooler (ID INTEGER PRIMARY KEY, name TEXT, seats INTEGER);
CREATE TABLE Buddy (
    carpooler_id INTEGER REFERENCES Carpooler (ID), buddy_id INTEGER REFERENCES Carpooler (ID)
);
INSERT INTO Carpooler VALUES (1, 'Ann', 3), (2, 'Ben', 4), (3, 'Cy', 2);
INSERT INTO Buddy VALUES (1, 2), (1, 3), (2, 1);
CREATE TABLE policies (policy_id INTEGER PRIMARY KEY, maint_cost REAL, date_renewed DATE);
INSERT INTO policies VALUES (1, 100.0, '2024-05-01'), (2, 250.0, '2024-06-01');
INSERT INTO workshops VALUES (1, 'North Garage', 'Leeds'), (2, 'South Garage', 'Bath');
INSERT INTO mechanics VALUES
    (1, 'Rosa', 32, 40.0, 1, '1992-04-02', '2015-03-01'),
    (2, 'Omar', 45, 55.5, 1, '1979-08-19', '2001-06-15'),
    (3, 'Li', 33, 38.0, 2, '1991-01-30', '2015-09-01'),
    (4, 'Ines', 51, 60.0, 2, '1973-11-11', '1999-02-01');
INSERT INTO vehicles VALUES
    (1, 'AB12', 31.5, 4), (2, 'CD34', 18.0, 8), (3, 'EF56', 27.0, 4), (4, 'GH78', 22.5, 6);
INSERT INTO repairs VALUES
    (1, 1, 1, 120.0, '2024-01-03'), (2, 2, 1, 300.0, '2024-02-11'),
    (3, 2, 3, 80.0, '2024-03-05'), (4, 4, 2, 150.0, '2024-03-20');
INSERT INTO transfers VALUES (1, 1, 1, 2), (2, 2, 1, 2), (3, 3, 2, 1);
"""


@pytest.fixture(scope="module")
def garage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "garage", SCHEMA)


@pytest.fixture(scope="module")
def nl(garage: SQLiteEngine) -> RuleTranslator:
    return prepare_embedded(garage, "sqlite")  # the draft model, as a new connection gets


def test_dictionary_forms() -> None:
    assert lemma("aged") == "age"
    assert lemma("built") == "build"
    assert lemma("Vehicles") == "vehicle"


def test_a_typing_slip_is_read_as_the_one_word_it_is_close_to(
    nl: RuleTranslator, garage: SQLiteEngine
) -> None:
    assert rows(garage, "How many vehicels are there?", nl) == [(4,)]  # two letters swapped
    assert rows(garage, "How many mechanis are there?", nl) == [(4,)]  # a letter missing
    assert rows(garage, "How many vehilces are there?", nl) == [(4,)]  # in the plural
    assert rows(garage, "How many repiars are there?", nl) == [(4,)]
    assert rows(garage, "What is the avvverage cost of repairs?", nl) == [(162.5,)]  # tripled
    assert rows(garage, "What is the avrage cost of repairs?", nl) == [(162.5,)]


def test_an_english_word_or_a_proper_noun_is_not_a_slip(nl: RuleTranslator) -> None:
    # "bicycles" is a word of its own, one letter from nothing the garage knows: no guess
    assert not nl.ask("How many bicycles are there?").is_sql
    # a capitalised word inside the sentence is a name, not a slip
    answer = nl.ask("How many repairs did Vehicels do?")
    assert not answer.is_sql and "Vehicels" in answer.explanation


def test_another_inflection_of_a_one_word_name(nl: RuleTranslator, garage: SQLiteEngine) -> None:
    got = rows(garage, "Show the names of mechanics aged 45.", nl)
    assert [r for r in got if "Omar" in r] == got and len(got) == 1


def test_initials_of_a_column_name_spelled_out(nl: RuleTranslator, garage: SQLiteEngine) -> None:
    assert rows(garage, "What is the average miles per gallon of the vehicles?", nl) == [(24.75,)]
    got = rows(garage, "What is the average miles per gallon of vehicles with 4 cylinders?", nl)
    assert got == [(29.25,)]


def test_what_reads_as_initials() -> None:
    assert acronym("mpg") and acronym("gdp")
    assert not acronym("age") and not acronym("id") and not acronym("plate")
    assert initials(["miles", "per", "gallon"]) == "mpg"
    assert initials(["of", "the", "garage"]) is None  # starts with a little word
    assert initials(["cost", "of", "the", "repair"]) is None  # two little words inside


def test_a_relation_verb_between_two_joined_models(
    nl: RuleTranslator, garage: SQLiteEngine
) -> None:
    # "run" says only that workshops and mechanics are related: the query's join carries it
    got = rows(garage, "Which workshops run with no mechanics?", nl)
    assert got == []  # both workshops have mechanics
    # a verb that says more than "related" is not accounted for by the join
    answer = nl.ask("Which mechanics abandoned vehicles with 8 cylinders?")
    assert not answer.is_sql and "abandoned" in answer.explanation


def test_the_event_of_a_date_filter_further_on(nl: RuleTranslator, garage: SQLiteEngine) -> None:
    question = "How many repairs were performed with a cost above 100 in 2024?"
    assert rows(garage, question, nl) == [(3,)]
    answer = nl.ask("How many repairs with a cost above 100 were abandoned in 2024?")
    assert not answer.is_sql and "abandoned" in answer.explanation


def test_the_most_recent_picks_a_row(nl: RuleTranslator, garage: SQLiteEngine) -> None:
    # the cost asked comes first, then the date the rows are ranked by
    assert [r[0] for r in rows(garage, "Show the cost of the most recently done repair.", nl)] == [
        150.0
    ]
    assert [r[0] for r in rows(garage, "What is the cost of the most recent repair?", nl)] == [
        150.0
    ]
    # "how much did it cost": the latest repair's cost, never a total beside the latest date
    got = rows(garage, "How much did the most recent repair cost?", nl)
    assert [r[0] for r in got] == [150.0]


def test_a_direction_verb_in_any_inflection_picks_its_side(
    nl: RuleTranslator, garage: SQLiteEngine
) -> None:
    # two ways from transfers to workshops: "landed" is the arriving side, "departed" the other
    assert rows(garage, "How many transfers landed in Bath?", nl) == [(2,)]
    assert rows(garage, "How many transfers departed from Bath?", nl) == [(1,)]


def test_nouns_that_point_back_at_what_the_question_names(
    nl: RuleTranslator, garage: SQLiteEngine
) -> None:
    got = rows(garage, "What are the costs of the repair entries?", nl)
    assert sorted(r[0] for r in got) == [80.0, 120.0, 150.0, 300.0]
    # "entries" of nothing named: nothing to point at
    assert not nl.ask("How many entries are there?").is_sql
    # "workshop members" are people of a workshop, not its rows
    assert not nl.ask("How many workshop members are there?").is_sql


def test_the_number_is_a_count(nl: RuleTranslator, garage: SQLiteEngine) -> None:
    question = "How many repairs does each mechanic have? List the mechanic name and the number."
    got = rows(garage, question, nl)
    assert sorted((r[1], r[2]) for r in got) == [("Li", 1), ("Omar", 1), ("Rosa", 2)]
    question = "Show the names of mechanics who have repairs, and numbers of repairs for each."
    assert sorted((r[1], r[-1]) for r in rows(garage, question, nl)) == [
        ("Li", 1),
        ("Omar", 1),
        ("Rosa", 2),
    ]
    question = "How many times does each mechanic appear in repairs?"
    assert sorted((r[1], r[-1]) for r in rows(garage, question, nl)) == [
        ("Li", 1),
        ("Omar", 1),
        ("Rosa", 2),
    ]
    # "how many times" counts occurrences, not distinct vehicles: no answer rather than that
    answer = nl.ask("How many times did Rosa repair vehicles?")
    assert not answer.is_sql or "DISTINCT" not in (answer.sql or "")
    # numbers that are no count are not understood
    assert not nl.ask("List the vehicle numbers.").is_sql


def test_pairs_of_two_columns(nl: RuleTranslator, garage: SQLiteEngine) -> None:
    got = rows(garage, "List pairs of mechanic name and workshop name.", nl)
    assert sorted((r[0], r[-1]) for r in got) == [
        ("Ines", "South Garage"),
        ("Li", "South Garage"),
        ("Omar", "North Garage"),
        ("Rosa", "North Garage"),
    ]
    assert not nl.ask("List pairs of mechanics.").is_sql  # two mechanics side by side: no


def test_where_of_a_set_question_and_ended_up(nl: RuleTranslator, garage: SQLiteEngine) -> None:
    assert rows(garage, "Find the cities where both workshops and suppliers are.", nl) == [
        ("Leeds",)
    ]
    assert rows(garage, "How many vehicles ended up with 8 cylinders?", nl) == [(1,)]
    assert not nl.ask("How many vehicles ended with 8 cylinders?").is_sql


def test_a_person_named_by_what_they_do(nl: RuleTranslator, garage: SQLiteEngine) -> None:
    # ``Carpooler`` is a person of the car pool: "car pool members", "car pool member"
    assert rows(garage, "How many car pool members are there?", nl) == [(3,)]
    question = "How many buddies does the car pool member Ann have?"
    assert rows(garage, question, nl) == [(2,)]
    assert not nl.ask("How many car pool are there?").is_sql


def test_a_field_of_the_other_role_is_the_paired_rows(
    nl: RuleTranslator, garage: SQLiteEngine
) -> None:
    # a buddy row names two car poolers: "the names of buddies" of Ann is the other one's name
    question = "Return the names of buddies of the car pool member Ann."
    assert sorted(rows(garage, question, nl)) == [("Ben",), ("Cy",)]


def test_later_and_earlier_than(nl: RuleTranslator, garage: SQLiteEngine) -> None:
    assert len(rows(garage, "Show repairs later than 2024-02-11.", nl)) == 2
    assert len(rows(garage, "Show repairs earlier than March 2024.", nl)) == 2
    assert rows(garage, "How many repairs were done later than 2023?", nl) == [(4,)]
    assert len(rows(garage, "Show the vehicles with cylinders later than 4.", nl)) == 2


def test_a_word_a_column_name_shortens(nl: RuleTranslator, garage: SQLiteEngine) -> None:
    # ``maint_cost``: "maint" is no English word, and "maintenance" starts with it
    assert rows(garage, "What is the total maintenance cost of the policies?", nl) == [(350.0,)]


def test_a_participle_in_a_name_asked_as_a_noun(nl: RuleTranslator, garage: SQLiteEngine) -> None:
    # ``date_renewed``: "renewal date", "date of renewal"
    for question in (
        "List the renewal date of the policies.",
        "Show the date of renewal of policies.",
    ):
        answer = nl.ask(question)
        assert answer.is_sql and "date_renewed" in (answer.sql or ""), answer.explanation


def test_an_event_verb_names_the_date_it_is_dated_by(
    nl: RuleTranslator, garage: SQLiteEngine
) -> None:
    assert rows(garage, "How many mechanics were hired in 2015?", nl) == [(2,)]
    # mechanics have two dates: "born" is not carried by a filter on the other one
    answer = nl.ask("How many mechanics were born in 2015?")
    assert not answer.is_sql or "birth_date" in (answer.sql or "")
    # nor by a date of another model
    answer = nl.ask("Which vehicles were born in 2024?")
    assert not answer.is_sql and "born" in answer.explanation


@pytest.fixture(scope="module")
def kennel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuleTranslator]:
    path: Path = tmp_path_factory.mktemp("kennel") / "kennel.sqlite"
    with sqlite3.connect(path) as con:
        con.executescript(
            """
            CREATE TABLE keepers (keeper_id INTEGER PRIMARY KEY, first_name TEXT);
            CREATE TABLE pets (
                pet_id INTEGER PRIMARY KEY,
                keeper_id INTEGER REFERENCES keepers (keeper_id),
                name TEXT
            );
            INSERT INTO keepers VALUES (1, 'Ann'), (2, 'Bo');
            INSERT INTO pets VALUES (1, 1, 'Rex'), (2, 1, 'Tom'), (3, 2, 'Kit');
            """
        )
    engine = SQLiteEngine(path)
    yield prepare_embedded(engine, "sqlite")
    engine.close()


def test_a_field_is_shown_by_its_own_models_column(kennel: RuleTranslator) -> None:
    # "name" is the pets' name: keepers.first_name does not show it
    answer = kennel.ask("What are each keeper's first name and their pets's name?")
    assert not answer.is_sql or "pets.name" in (answer.sql or "")


def test_a_count_of_the_grouped_key_in_its_own_group_is_suspect() -> None:
    sql = "SELECT c.id, COUNT(DISTINCT c.id) AS n FROM c JOIN m ON m.c_id = c.id GROUP BY c.id"
    coverage = measure_coverage(tokenize("How many countries"), [], sql, "sqlite")
    assert any("in groups of one" in d for d in coverage.dropped)
    sql = "SELECT c.id, COUNT(DISTINCT m.id) AS n FROM c JOIN m ON m.c_id = c.id GROUP BY c.id"
    assert measure_coverage(tokenize("How many"), [], sql, "sqlite").complete


def test_where_from_asks_for_the_place_column(nl: RuleTranslator, garage: SQLiteEngine) -> None:
    for question in ("Where is the supplier Bolt Ltd from?", "Where is Bolt Ltd from?"):
        assert [r[-1] for r in rows(garage, question, nl)] == ["Leeds"]
    # mechanics have no column that says where they are from
    assert not nl.ask("Where are the mechanics from?").is_sql


def test_a_shared_name_goes_to_the_model_of_the_field_beside_it(
    nl: RuleTranslator, garage: SQLiteEngine
) -> None:
    # workshops and mechanics both have a name; only mechanics have an hourly rate
    answer = nl.ask("List the name and hourly rate.")
    assert answer.is_sql and "workshops" not in (answer.sql or "")
