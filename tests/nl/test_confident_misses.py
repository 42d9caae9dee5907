"""Classes of confidently wrong answers, on a small schema of our own with a draft model only.

Each test is one general rule about English questions and schemas: a word that names a model and
another model's foreign key to it, a field of one model shown by a same-named column of another,
a plural subject with a singular verb, a count of what each group already is, numbers of a
range read as a limit, a label grouped without its key, the fields of a related model listed
from its parent. The answer is the right rows, or an honest ``NON_SQL_QUERY``; the SQL the engine
writes is valid on every dialect it targets.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import sqlglot

from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl.prepare import prepare_embedded
from sqlgate.nl.rules import RuleTranslator
from sqlgate.nl.rules.coverage import measure_coverage
from sqlgate.nl.rules.words import find_items, settle
from sqlgate.nl.text import tokenize
from sqlgate.sql.guard import analyze
from tests.nl.conftest import sqlite_engine
from tests.nl.test_coverage import answers, rows

SCHEMA = """
CREATE TABLE regions (
    region_id INTEGER PRIMARY KEY, name TEXT, code TEXT, description TEXT, notes TEXT
);
CREATE TABLE owners (
    owner_id INTEGER PRIMARY KEY, title TEXT, town TEXT, joined DATE, birth_date DATE
);
CREATE TABLE depots (
    depot_id INTEGER PRIMARY KEY,
    depot_name TEXT,
    region INTEGER REFERENCES regions (region_id),
    opened INTEGER,
    notes TEXT,
    owner_id INTEGER REFERENCES owners (owner_id)
);
CREATE TABLE staff (staff_id INTEGER PRIMARY KEY, name TEXT, age INTEGER, town TEXT);
CREATE TABLE vans (
    van_id INTEGER PRIMARY KEY,
    depot_id INTEGER REFERENCES depots (depot_id),
    driver_id INTEGER REFERENCES staff (staff_id),
    plate TEXT,
    payload INTEGER,
    description TEXT,
    kind TEXT DEFAULT 'box'
);
CREATE TABLE trips (
    trip_id INTEGER PRIMARY KEY,
    van_id INTEGER REFERENCES vans (van_id),
    distance INTEGER,
    trip_year INTEGER
);
CREATE TABLE transfers (transfer_id INTEGER PRIMARY KEY, source_code TEXT, dest_code TEXT);
INSERT INTO transfers VALUES (1, 'HB', 'ML'), (2, 'HB', 'AP'), (3, 'ML', 'HB'), (4, 'AP', 'ML'),
    (5, 'AP', 'ML');
INSERT INTO regions VALUES
    (1, 'North', 'N', 'cold', 'a'), (2, 'South', 'S', 'warm', 'b'), (3, 'East', 'E', 'dry', 'c');
INSERT INTO depots VALUES
    (1, 'Harbour', 1, 1990, 'x', 1), (2, 'Airport', 1, 2001, 'y', 1), (3, 'Mill', 2, 2010, 'x', 2),
    (4, 'Quay', 3, 2015, 'z', 2);
INSERT INTO owners VALUES
    (1, 'Port Trust', 'Hull', '2001-01-01', '1970-05-01'),
    (2, 'City Council', 'North', '2010-01-01', '1950-05-01'),
    (3, 'Rail Co', 'Leeds', '2005-01-01', '1990-05-01');
CREATE TABLE services (
    service_id INTEGER PRIMARY KEY,
    van_id INTEGER REFERENCES vans (van_id),
    service_date DATE
);
INSERT INTO services VALUES
    (1, 1, '2022-03-01'), (2, 1, '2023-05-02'), (3, 2, '2022-07-09'), (4, 4, '2023-01-20');
CREATE TABLE trusts (
    staff_id INTEGER REFERENCES staff (staff_id),
    trusted_id INTEGER REFERENCES staff (staff_id),
    PRIMARY KEY (staff_id, trusted_id)
);
INSERT INTO trusts VALUES (1, 3), (2, 3), (3, 1);
INSERT INTO staff VALUES (1, 'Sam', 30, 'Hull'), (2, 'Sam', 41, 'Leeds'), (3, 'Kim', 25, 'Hull');
INSERT INTO vans (van_id, depot_id, driver_id, plate, payload, description) VALUES
    (1, 1, 1, 'AB-1', 900, 'red'), (2, 1, 2, 'AB-2', 1200, 'red'), (3, 2, 2, 'CD-3', 800, 'blue'),
    (4, 3, 3, 'EF-4', 1500, 'red'), (5, 3, 1, 'EF-5', 700, 'white'),
    (6, 3, 3, 'EF-6', 1100, 'red'), (7, 3, 3, 'EF-7', 1000, 'blue');
INSERT INTO trips VALUES
    (8, 1, 10, 2022), (1, 1, 10, 2023), (2, 1, 20, 2023), (3, 2, 5, 2022), (4, 4, 50, 2022),
    (5, 4, 40, 2022), (6, 5, 10, 2023), (7, 6, 30, 2023);
"""

DIALECTS = ("sqlite", "duckdb", "postgres", "mysql")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "fleet", SCHEMA)


@pytest.fixture(scope="module")
def nl(fleet: SQLiteEngine) -> RuleTranslator:
    return prepare_embedded(fleet, "sqlite")  # the draft model, as a new connection gets


def valid_everywhere(nl: RuleTranslator, question: str, engine: SQLiteEngine | None = None):
    """The question gets SQL the guard accepts on every dialect the engine targets (with the
    engine's sampled values when it names one)."""
    for dialect in DIALECTS:
        translator = (
            prepare_embedded(engine, dialect) if engine else RuleTranslator(nl.model, dialect)
        )
        answer = translator.ask(question)
        assert answer.is_sql, (dialect, answer.explanation)
        for sql in (answer.sql, answer.native_sql):
            assert analyze(sql or "", dialect).is_valid, (dialect, sql)


def declines(nl: RuleTranslator, question: str) -> None:
    answer = nl.ask(question)
    assert not answer.is_sql, answer.native_sql
    assert answer.reason in ("unclear", "unsupported")


# --- a word naming a model and a foreign key to it -----------------------------------------------


def test_a_group_named_like_a_model_is_that_models_rows(nl: RuleTranslator, fleet: SQLiteEngine):
    # "region" names the regions model and depots.region, a key to it: per region, by its name
    answer = answers(
        nl,
        fleet,
        "How many depots are there in each region? List the region name and the count.",
        "SELECT r.name, COUNT(*) FROM depots d JOIN regions r "
        "ON d.region = r.region_id GROUP BY r.region_id",
    )
    assert "regions" in (answer.sql or "")
    valid_everywhere(nl, "How many depots are there in each region?")


# --- a field shown only by a column of the same name in another model ---------------------------


def test_a_field_must_show_as_its_own_models_column(nl: RuleTranslator) -> None:
    # staff.name is not shown by regions.name: a column of the same name in another model
    question = "List the names of staff"
    tokens = tokenize(question)
    items = find_items(nl.lexicon, tokens, date(2024, 1, 1))
    settle(nl.facts, items, tokens)
    wrong = "SELECT regions.name FROM staff, regions"
    assert not measure_coverage(tokens, items, wrong, "sqlite", nl.lexicon).complete
    right = "SELECT staff.name FROM staff"
    assert measure_coverage(tokens, items, right, "sqlite", nl.lexicon).complete
    # nor by a column of another model whose name contains it (depots.depot_name)
    question = "List the name of staff"
    tokens = tokenize(question)
    items = find_items(nl.lexicon, tokens, date(2024, 1, 1))
    settle(nl.facts, items, tokens)
    assert [i.chosen.part for i in items if i.chosen and i.text == "name"] == ["staff.name"]
    wrong = "SELECT depots.depot_name FROM staff, depots"
    assert not measure_coverage(tokens, items, wrong, "sqlite", nl.lexicon).complete


# --- how many rows a ranking keeps ---------------------------------------------------------------


def test_a_plural_subject_with_a_singular_verb_is_one_winner(
    nl: RuleTranslator, fleet: SQLiteEngine
) -> None:
    answer = answers(
        nl,
        fleet,
        "Which of the depots has the most vans? List the depot name.",
        "SELECT d.depot_name FROM depots d JOIN vans v ON v.depot_id = d.depot_id "
        "GROUP BY d.depot_id ORDER BY COUNT(*) DESC LIMIT 1",
    )
    assert len(rows(fleet, answer.native_sql or "")) == 1


def test_how_many_rows_have_more_than_n_related_rows(
    nl: RuleTranslator, fleet: SQLiteEngine
) -> None:
    # a count per depot of the depots themselves is 1 everywhere, never "how many depots":
    # the depots that have more than 1 van, counted (Harbour and Mill)
    answer = answers(
        nl,
        fleet,
        "How many depots has more than 1 vans?",
        "SELECT COUNT(*) FROM (SELECT depot_id FROM vans GROUP BY depot_id HAVING COUNT(*) > 1)",
    )
    assert rows(fleet, answer.native_sql or "") == [(2,)]
    valid_everywhere(nl, "How many depots have more than 1 van?")


def test_a_distinct_count_of_the_grouped_column_declines() -> None:
    from sqlgate.nl.rules.coverage import _counts_of_own_key

    sql = "SELECT a.id, COUNT(DISTINCT a.id) FROM a JOIN b ON a.id = b.a_id GROUP BY a.id"
    select = sqlglot.parse_one(sql)
    assert _counts_of_own_key(select, select.args["group"])


def test_the_bounds_of_a_range_are_not_a_limit(nl: RuleTranslator, fleet: SQLiteEngine) -> None:
    answer = answers(
        nl,
        fleet,
        "Give the ids of depots that have between one and two vans.",
        "SELECT depot_id FROM vans GROUP BY depot_id HAVING COUNT(*) BETWEEN 1 AND 2",
    )
    assert "LIMIT" not in (answer.sql or "")
    assert "between 1 and 2" in answer.explanation


def test_a_label_is_grouped_with_its_key(nl: RuleTranslator, fleet: SQLiteEngine) -> None:
    # two drivers are called Sam: grouped by name they would win together ("driver" names no
    # model here, only the vans' driver_id column)
    answer = answers(
        nl,
        fleet,
        "Give the name of the driver with the most vans.",
        "SELECT d.name FROM staff d JOIN vans v ON v.driver_id = d.staff_id "
        "GROUP BY d.staff_id ORDER BY COUNT(*) DESC LIMIT 1",
    )
    assert rows(fleet, answer.native_sql or "")[0][:2] == (3, "Kim")
    valid_everywhere(nl, "Give the name of the driver with the most vans.")


def test_the_explanation_says_or_where_the_query_does(
    nl: RuleTranslator, fleet: SQLiteEngine
) -> None:
    answer = answers(
        nl,
        fleet,
        "How many vans have a payload above 1400 or below 750?",
        "SELECT COUNT(*) FROM vans WHERE payload > 1400 OR payload < 750",
    )
    assert " or " in answer.explanation and " and " not in answer.explanation


# --- which model a field word is of --------------------------------------------------------------


def test_a_field_is_of_the_model_its_sibling_fields_are_of(
    nl: RuleTranslator, fleet: SQLiteEngine
) -> None:
    # depots and regions both have notes: the ones listed with the region codes
    answer = answers(
        nl, fleet, "Show all region codes and notes.", "SELECT code, notes FROM regions"
    )
    assert "depots" not in (answer.sql or "")


def test_a_field_for_a_model_may_be_of_what_it_belongs_to(nl: RuleTranslator) -> None:
    # depots have no description; a depot has one region (with one), and many vans (each with
    # their own): "the descriptions for depots" are never the vans', even when vans are named
    answer = nl.ask("Return the different descriptions for depots that have vans.")
    mapped = {m.words: m.target for m in answer.mappings}
    assert mapped.get("descriptions") == "regions.description"


def test_the_name_of_a_model_is_its_label(nl: RuleTranslator, fleet: SQLiteEngine) -> None:
    # owners' label is title: "the name of the owners" is never regions.name or staff.name
    answers(
        nl,
        fleet,
        "What is the name of the different owners?",
        "SELECT DISTINCT title FROM owners",
    )


def test_the_word_after_which_says_how_many_rows(nl: RuleTranslator, fleet: SQLiteEngine) -> None:
    # "the red vans" is plural, but "which plate has" asks for one
    answer = answers(
        nl,
        fleet,
        "For the red vans, which plate has the largest payload?",
        "SELECT plate FROM vans WHERE description = 'red' ORDER BY payload DESC LIMIT 1",
    )
    assert len(rows(fleet, answer.native_sql or "")) == 1


def test_fields_of_a_child_are_listed_once_per_child_row(
    nl: RuleTranslator, fleet: SQLiteEngine
) -> None:
    # van AB-1 made two trips of 10 and one of 20: three rows, not the van's row made distinct
    answer = answers(
        nl,
        fleet,
        "Show all trip distances for the van with plate 'AB-1'.",
        "SELECT t.distance FROM trips t JOIN vans v ON t.van_id = v.van_id WHERE v.plate = 'AB-1'",
    )
    assert "DISTINCT" not in (answer.sql or "")


def test_a_value_of_two_role_columns_takes_the_direction_asked(
    nl: RuleTranslator, fleet: SQLiteEngine
) -> None:
    answers(
        nl,
        fleet,
        "Count the number of transfers into ML.",
        "SELECT COUNT(*) FROM transfers WHERE dest_code = 'ML'",
    )
    answers(
        nl,
        fleet,
        "How many transfers depart from ML?",
        "SELECT COUNT(*) FROM transfers WHERE source_code = 'ML'",
    )


def test_an_aggregate_for_different_values_is_one_per_value(
    nl: RuleTranslator, fleet: SQLiteEngine
) -> None:
    # "for different descriptions": per description, not how many descriptions there are
    answers(
        nl,
        fleet,
        "What is the maximum payload for different descriptions?",
        "SELECT description, MAX(payload) FROM vans GROUP BY description",
    )


# --- set questions -------------------------------------------------------------------------------


def test_where_both_of_two_models_is_an_intersect(nl: RuleTranslator, fleet: SQLiteEngine) -> None:
    answer = answers(
        nl,
        fleet,
        "Find the towns where both owners and staff live.",
        "SELECT town FROM owners INTERSECT SELECT town FROM staff",
    )
    assert "INTERSECT" in (answer.sql or "")
    valid_everywhere(nl, "Find the towns where both owners and staff live.")


def test_both_of_two_years_of_related_rows_is_an_intersect(
    nl: RuleTranslator, fleet: SQLiteEngine
) -> None:
    # van AB-1 made trips in 2022 and in 2023; no other van did
    question = "What are the plates of the vans that made trips in both 2022 and 2023?"
    answer = answers(
        nl,
        fleet,
        question,
        "SELECT v.plate FROM vans v JOIN trips t ON t.van_id = v.van_id WHERE t.trip_year = 2022 "
        "INTERSECT SELECT v.plate FROM vans v JOIN trips t ON t.van_id = v.van_id "
        "WHERE t.trip_year = 2023",
    )
    assert rows(fleet, answer.native_sql or "") == [("AB-1",)]
    valid_everywhere(nl, question)


def test_rows_of_two_years_are_never_an_intersect(nl: RuleTranslator, fleet: SQLiteEngine):
    # no trip is of both years: "the trips in 2022 and 2023" are the trips of either
    answer = nl.ask("List the trips in 2022 and 2023.")
    assert "INTERSECT" not in (answer.sql or "")
    if answer.is_sql:
        assert len(rows(fleet, answer.native_sql or "")) == 8
    # counted, the two years are never required of one row at once
    answer = nl.ask("How many trips in 2022 and 2023?")
    if answer.is_sql:
        assert rows(fleet, answer.native_sql or "") == [(8,)]


def test_the_fields_of_a_list_are_of_the_model_after_of(
    nl: RuleTranslator, fleet: SQLiteEngine
) -> None:
    # "id" and "names" are both of the regions (region_id, name), not depots.depot_id/_name
    answer = answers(
        nl,
        fleet,
        "What are the id and names of the regions with more than 1 depot?",
        "SELECT r.region_id, r.name FROM regions r JOIN depots d ON d.region = r.region_id "
        "GROUP BY r.region_id HAVING COUNT(*) > 1",
    )
    mapped = {m.words: m.target for m in answer.mappings}
    assert mapped["id"] == "regions.region_id" and mapped["names"] == "regions.name"


def test_a_passive_verb_takes_the_other_side_of_a_relation(
    nl: RuleTranslator, fleet: SQLiteEngine
) -> None:
    # staff 1 and 2 trust staff 3, who trusts staff 1: trusted are 1 and 3, trusting 1, 2, 3
    answer = answers(
        nl,
        fleet,
        "What are the names of staff who are trusted?",
        "SELECT name FROM staff WHERE staff_id IN (SELECT trusted_id FROM trusts)",
    )
    assert len(rows(fleet, answer.native_sql or "")) == 2


def test_both_of_two_relations_is_two_related_rows(nl: RuleTranslator, fleet: SQLiteEngine):
    # drivers of a van who are also trusted: staff 1 (vans 1, 5) and 3 (vans 4, 6, 7)
    answers(
        nl,
        fleet,
        "What are the names of staff who both have vans and are trusted?",
        "SELECT name FROM staff WHERE staff_id IN (SELECT driver_id FROM vans) "
        "AND staff_id IN (SELECT trusted_id FROM trusts)",
    )


def test_but_not_of_one_row_is_and_not(nl: RuleTranslator, fleet: SQLiteEngine) -> None:
    answers(
        nl,
        fleet,
        "Which staff live in Hull but are not named Kim?",
        "SELECT name FROM staff WHERE town = 'Hull' AND name <> 'Kim'",
    )
    # across a join, "but no" is a set difference: the depots with red vans except those
    # with blue ones, never the red vans that are not blue
    answer = answers(
        nl,
        fleet,
        "Which depots have red vans but no blue vans?",
        "SELECT d.depot_name FROM depots d JOIN vans v ON v.depot_id = d.depot_id "
        "WHERE v.description = 'red' EXCEPT SELECT d.depot_name FROM depots d "
        "JOIN vans v ON v.depot_id = d.depot_id WHERE v.description = 'blue'",
    )
    assert "EXCEPT" in (answer.sql or "")


def test_either_of_two_numbers_of_a_field(nl: RuleTranslator, fleet: SQLiteEngine) -> None:
    answers(
        nl,
        fleet,
        "Show the name of staff whose age is either 30 or 41.",
        "SELECT name FROM staff WHERE age = 30 OR age = 41",
    )
    answers(
        nl,
        fleet,
        "How many vans have payload either 900 or 1200?",
        "SELECT COUNT(*) FROM vans WHERE payload IN (900, 1200)",
    )


def test_a_common_word_used_as_a_noun_names_its_field(
    nl: RuleTranslator, fleet: SQLiteEngine
) -> None:
    # "kind" is a word questions use in passing; "the kind of" is the vans' kind column
    answer = answers(
        nl,
        fleet,
        "What is the kind of the van with plate 'AB-1'?",
        "SELECT kind FROM vans WHERE plate = 'AB-1'",
    )
    assert ("kind", "vans.kind") in {(m.words, m.target) for m in answer.mappings}
    answer = answers(
        nl,
        fleet,
        "What is the largest payload of the red vans and what kind is it?",
        "SELECT kind FROM vans WHERE description = 'red' ORDER BY payload DESC LIMIT 1",
    )
    assert ("kind", "vans.kind") in {(m.words, m.target) for m in answer.mappings}


def test_a_or_b_but_not_c_is_a_union_except(nl: RuleTranslator, fleet: SQLiteEngine) -> None:
    # towns of owners (Hull, North, Leeds) or staff (Hull, Leeds), but not a region's name
    # (North): Hull and Leeds
    question = "Which towns are used for owners or staff but are not used as region names?"
    answer = answers(
        nl,
        fleet,
        question,
        "SELECT town FROM owners UNION SELECT town FROM staff EXCEPT SELECT name FROM regions",
    )
    assert "UNION" in (answer.sql or "") and "EXCEPT" in (answer.sql or "")
    assert "except regions.name" in answer.explanation
    assert sorted(rows(fleet, answer.native_sql or "")) == [("Hull",), ("Leeds",)]
    valid_everywhere(nl, question)


def test_or_before_related_rows_is_never_and(nl: RuleTranslator, fleet: SQLiteEngine) -> None:
    # owner 3 lives in Leeds and has no depot; owners 1 and 2 have depots: all three
    answer = answers(
        nl,
        fleet,
        "Which owners live in Leeds or have depots?",
        "SELECT title FROM owners WHERE town = 'Leeds' "
        "OR owner_id IN (SELECT owner_id FROM depots)",
    )
    assert len(rows(fleet, answer.native_sql or "")) == 3


def test_a_value_or_a_count_of_related_rows(nl: RuleTranslator, fleet: SQLiteEngine) -> None:
    # a HAVING cannot say "or": Airport (notes 'y') and Mill (4 vans)
    question = "Which depots have notes 'y' or have more than 2 vans?"
    answer = answers(
        nl,
        fleet,
        question,
        "SELECT depot_name FROM depots WHERE notes = 'y' OR depot_id IN "
        "(SELECT depot_id FROM vans GROUP BY depot_id HAVING COUNT(*) > 2)",
    )
    assert "the number of vans > 2" in answer.explanation
    valid_everywhere(nl, question, fleet)


def test_a_date_of_related_rows_is_theirs(nl: RuleTranslator, fleet: SQLiteEngine) -> None:
    # vans have no date: "in 2023" is the services' date, and "both" years intersect
    answer = answers(
        nl,
        fleet,
        "Which vans have services in both 2022 and 2023?",
        "SELECT van_id FROM vans WHERE van_id IN (SELECT van_id FROM services "
        "WHERE service_date LIKE '2022%') AND van_id IN (SELECT van_id FROM services "
        "WHERE service_date LIKE '2023%')",
    )
    assert rows(fleet, answer.native_sql or "") == [(1,)]
    # the vans with services in 2022 and 2023 are never read as services in both at once
    answer = nl.ask("How many vans have services in 2022 and 2023?")
    if answer.is_sql:
        assert rows(fleet, answer.native_sql or "") != [(0,)]
    # counted, the services of either year
    answers(
        nl,
        fleet,
        "How many services were made in 2022 and 2023?",
        "SELECT COUNT(*) FROM services",
    )


def test_a_field_of_one_model_but_not_of_another_is_except(
    nl: RuleTranslator, fleet: SQLiteEngine
) -> None:
    # towns of owners (Hull, North, Leeds) except towns of staff (Hull, Leeds)
    answer = answers(
        nl,
        fleet,
        "Which towns have owners but no staff?",
        "SELECT town FROM owners EXCEPT SELECT town FROM staff",
    )
    assert rows(fleet, answer.native_sql or "") == [("North",)]


def test_two_comparisons_of_one_count(nl: RuleTranslator, fleet: SQLiteEngine) -> None:
    # "more than 1 and fewer than 4 vans": both bounds are of the count of vans (Harbour, 2)
    answer = answers(
        nl,
        fleet,
        "Which depots have more than 1 and fewer than 4 vans?",
        "SELECT d.depot_name FROM depots d JOIN vans v ON v.depot_id = d.depot_id "
        "GROUP BY d.depot_id HAVING COUNT(*) > 1 AND COUNT(*) < 4",
    )
    assert "opened" not in (answer.sql or "")


def test_a_comparison_before_and_is_not_a_count_of_what_follows(demo_engine: Any) -> None:
    # "priced above 500 and products ...": a price, never "more than 500 products"
    nl = prepare_embedded(demo_engine, "duckdb")
    answer = nl.ask("Which categories have products priced above 500 and products priced below 10?")
    assert "HAVING" not in (answer.sql or "")


def test_the_oldest_of_people_with_a_birth_date(nl: RuleTranslator, fleet: SQLiteEngine) -> None:
    # owners have a join date and a birth date: the oldest was born first (City Council), it
    # did not join first (Port Trust); "who" asks for the owner, not a date
    answer = answers(
        nl,
        fleet,
        "Who is the oldest owner?",
        "SELECT title FROM owners ORDER BY birth_date LIMIT 1",
    )
    assert len(rows(fleet, answer.native_sql or "")) == 1
    answers(
        nl,
        fleet,
        "What is the name of the youngest owner?",
        "SELECT title FROM owners ORDER BY birth_date DESC LIMIT 1",
    )


def test_a_year_is_of_the_rows_asked_before_a_date_they_point_to(
    nl: RuleTranslator, fleet: SQLiteEngine
) -> None:
    # trips have a year column; the owners of their vans' depots have a join date
    answer = answers(
        nl, fleet, "How many trips in 2022?", "SELECT COUNT(*) FROM trips WHERE trip_year = 2022"
    )
    assert "joined" not in (answer.sql or "")


def test_what_is_the_extreme_row_is_the_row_not_the_figure(
    nl: RuleTranslator, fleet: SQLiteEngine
) -> None:
    """ "what is the heaviest van" asks for a van, as "which van is the heaviest" does; "what is
    the highest payload" asks for the figure."""
    answers(
        nl,
        fleet,
        "What is the van with the largest payload?",
        "SELECT van_id, plate FROM vans ORDER BY payload DESC LIMIT 1",
    )
    answers(
        nl,
        fleet,
        "What is the van having the smallest payload?",
        "SELECT van_id, plate FROM vans ORDER BY payload LIMIT 1",
    )
    answer = nl.ask("What is the highest payload?")
    assert answer.is_sql, answer.explanation
    assert "MAX(" in (answer.native_sql or "").upper(), answer.native_sql
