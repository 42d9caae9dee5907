"""The question shapes people ask next, on a schema of our own with a draft model only: set
questions, comparisons with an overall figure, groups filtered by an aggregate, "the different
X", and synonyms the draft guesses from names. One case per kind of miss seen on external
benchmarks; every answer is checked by running it, and what the engine cannot read declines.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl.draft import draft_from_schema
from sqlgate.nl.draft_notes import draft_document
from sqlgate.nl.prepare import prepare_embedded
from sqlgate.nl.rules import RuleTranslator
from sqlgate.nl.semantic import parse_semantic_model
from tests.nl.conftest import sqlite_engine
from tests.nl.test_coverage import answers, rows

SCHEMA = """
CREATE TABLE gardeners (
    gardener_id INTEGER PRIMARY KEY, full_name TEXT, town TEXT, level TEXT, age INTEGER
);
CREATE TABLE volunteers (volunteer_id INTEGER PRIMARY KEY, full_name TEXT, town TEXT);
CREATE TABLE plots (
    plot_id INTEGER PRIMARY KEY,
    gardener_id INTEGER REFERENCES gardeners (gardener_id),
    crop TEXT,
    area REAL
);
CREATE TABLE harvest_data (
    harvest_id INTEGER PRIMARY KEY,
    plot_id INTEGER REFERENCES plots (plot_id),
    weight REAL,
    num_of_baskets INTEGER
);
INSERT INTO gardeners VALUES
    (1, 'Ann Oak', 'Ashford', 'expert', 61),
    (2, 'Ben Elm', 'Ashford', 'beginner', 24),
    (3, 'Cy Ash', 'Brook', 'expert', 45),
    (4, 'Di Yew', 'Cove', 'beginner', 33),
    (5, 'Ed Fir', 'Cove', 'beginner', 29);
INSERT INTO volunteers VALUES
    (1, 'Flo Bay', 'Brook'), (2, 'Gus Ivy', 'Dale'), (3, 'Hal Fig', 'Cove');
INSERT INTO plots VALUES
    (1, 1, 'tomatoes', 30), (2, 1, 'beans', 12), (3, 2, 'tomatoes', 8),
    (4, 3, 'beans', 25), (5, 3, 'tomatoes', 40), (6, 4, 'leeks', 10), (7, 1, 'leeks', 5);
INSERT INTO harvest_data VALUES
    (1, 1, 12.5, 3), (2, 2, 4.0, 1), (3, 5, 20.0, 5), (4, 5, 8.0, 2), (5, 6, 3.5, 1);
"""


@pytest.fixture(scope="module")
def garden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "garden", SCHEMA)


@pytest.fixture(scope="module")
def nl(garden: SQLiteEngine) -> RuleTranslator:
    return prepare_embedded(garden, "sqlite")  # the draft model, as a new connection gets


def right_or_declined(nl: RuleTranslator, engine: SQLiteEngine, question: str, gold: str) -> None:
    """Never a confident wrong answer: declined, or the gold rows."""
    answer = nl.ask(question)
    if answer.is_sql:
        answers(nl, engine, question, gold)


# --- set questions ------------------------------------------------------------------------------


def test_one_field_of_two_models_both_or_either(nl: RuleTranslator, garden: SQLiteEngine) -> None:
    answer = answers(
        nl,
        garden,
        "Which towns have both gardeners and volunteers?",
        "SELECT town FROM gardeners INTERSECT SELECT town FROM volunteers",
    )
    assert "INTERSECT" in (answer.sql or "")
    assert len(rows(garden, answer.native_sql or "")) == 2  # Brook, Cove: each once
    answer = answers(
        nl,
        garden,
        "Which towns have gardeners or volunteers?",
        "SELECT town FROM gardeners UNION SELECT town FROM volunteers",
    )
    assert "UNION" in (answer.sql or "")


def test_both_values_of_a_related_model_intersect(nl: RuleTranslator, garden: SQLiteEngine):
    answer = answers(
        nl,
        garden,
        "Which gardeners have plots of both tomatoes and beans?",
        "SELECT g.full_name FROM gardeners g JOIN plots p ON p.gardener_id = g.gardener_id "
        "WHERE p.crop = 'tomatoes' INTERSECT SELECT g.full_name FROM gardeners g "
        "JOIN plots p ON p.gardener_id = g.gardener_id WHERE p.crop = 'beans'",
    )
    assert "INTERSECT" in (answer.sql or "")


def test_both_values_of_one_field_in_two_phrases(nl: RuleTranslator, garden: SQLiteEngine):
    answers(
        nl,
        garden,
        "Which towns have both expert gardeners and beginner gardeners?",
        "SELECT town FROM gardeners WHERE level = 'expert' "
        "INTERSECT SELECT town FROM gardeners WHERE level = 'beginner'",
    )


def test_two_comparisons_no_row_meets_at_once_intersect(
    nl: RuleTranslator, garden: SQLiteEngine
) -> None:
    answers(
        nl,
        garden,
        "Show towns where a gardener above age 40 and a gardener below 30 live.",
        "SELECT town FROM gardeners WHERE age > 40 INTERSECT SELECT town FROM gardeners "
        "WHERE age < 30",
    )


def test_a_value_but_not_another_is_except(nl: RuleTranslator, garden: SQLiteEngine) -> None:
    answer = answers(
        nl,
        garden,
        "Which towns have expert gardeners but no beginner gardeners?",
        "SELECT town FROM gardeners WHERE level = 'expert' "
        "EXCEPT SELECT town FROM gardeners WHERE level = 'beginner'",
    )
    assert "EXCEPT" in (answer.sql or "")


def test_values_of_an_attribute_no_row_uses(nl: RuleTranslator, garden: SQLiteEngine) -> None:
    # every crop has a plot without a harvest, and every crop has a harvested plot too
    answer = answers(
        nl,
        garden,
        "Which crops have no harvest?",
        "SELECT crop FROM plots EXCEPT SELECT p.crop FROM plots p JOIN harvest_data h "
        "ON h.plot_id = p.plot_id",
    )
    assert "EXCEPT" in (answer.sql or "")
    assert rows(garden, answer.native_sql or "") == []


# --- overall figures ----------------------------------------------------------------------------


def test_comparison_with_an_overall_average(nl: RuleTranslator, garden: SQLiteEngine) -> None:
    answer = answers(
        nl,
        garden,
        "Which gardeners are older than average?",
        "SELECT full_name FROM gardeners WHERE age > (SELECT AVG(age) FROM gardeners)",
    )
    assert "(SELECT AVG(" in (answer.sql or "").upper()
    answers(
        nl,
        garden,
        "How many plots have an area below the average area?",
        "SELECT COUNT(*) FROM plots WHERE area < (SELECT AVG(area) FROM plots)",
    )
    answers(
        nl,
        garden,
        "List the gardeners with an age above the average",
        "SELECT full_name FROM gardeners WHERE age > (SELECT AVG(age) FROM gardeners)",
    )


# --- groups filtered by an aggregate ------------------------------------------------------------


def test_having_groups_by_the_attribute_asked(nl: RuleTranslator, garden: SQLiteEngine) -> None:
    answers(
        nl,
        garden,
        "Which towns have more than 1 gardener?",
        "SELECT town FROM gardeners GROUP BY town HAVING COUNT(*) > 1",
    )
    answers(
        nl,
        garden,
        "Which crops have an average area above 20?",
        "SELECT crop FROM plots GROUP BY crop HAVING AVG(area) > 20",
    )


def test_n_or_more_counts_what_follows(nl: RuleTranslator, garden: SQLiteEngine) -> None:
    answers(
        nl,
        garden,
        "What are the names of gardeners who have 2 or more plots?",
        "SELECT g.full_name FROM gardeners g JOIN plots p ON p.gardener_id = g.gardener_id "
        "GROUP BY g.gardener_id HAVING COUNT(*) >= 2",
    )


# --- rows with a related row -------------------------------------------------------------------


def test_a_relation_verb_keeps_rows_with_a_related_row(
    nl: RuleTranslator, garden: SQLiteEngine
) -> None:
    answer = answers(
        nl,
        garden,
        "What is the average age of the gardeners who own any plots?",
        "SELECT AVG(age) FROM gardeners WHERE gardener_id IN (SELECT gardener_id FROM plots)",
    )
    assert " IN (SELECT" in (answer.sql or "")
    answers(
        nl,
        garden,
        "What is the minimum age of gardeners who have plots?",
        "SELECT MIN(age) FROM gardeners WHERE gardener_id IN (SELECT gardener_id FROM plots)",
    )
    answers(
        nl,
        garden,
        "How many gardeners own a plot?",
        "SELECT COUNT(DISTINCT gardener_id) FROM plots",
    )
    right_or_declined(
        nl,
        garden,
        "What is the average area of plots with a harvest below the average weight?",
        "SELECT AVG(p.area) FROM plots p WHERE p.plot_id IN (SELECT plot_id FROM harvest_data "
        "WHERE weight < (SELECT AVG(weight) FROM harvest_data))",
    )


# --- the winner in each group --------------------------------------------------------------------


def test_the_winner_in_each_group(nl: RuleTranslator, garden: SQLiteEngine) -> None:
    answer = answers(
        nl,
        garden,
        "What is the largest plot of each crop?",
        "SELECT crop, plot_id FROM plots p WHERE area = "
        "(SELECT MAX(area) FROM plots q WHERE q.crop = p.crop)",
    )
    assert "GROUP BY" not in (answer.sql or "")
    answers(
        nl,
        garden,
        "Which plot has the largest area for each gardener?",
        "SELECT g.full_name, p.plot_id FROM plots p JOIN gardeners g "
        "ON g.gardener_id = p.gardener_id WHERE p.area = "
        "(SELECT MAX(area) FROM plots q WHERE q.gardener_id = p.gardener_id)",
    )


# --- rankings -----------------------------------------------------------------------------------


def test_the_most_common_value_of_a_field(nl: RuleTranslator, garden: SQLiteEngine) -> None:
    answers(
        nl,
        garden,
        "What is the most common crop?",
        "SELECT crop FROM plots GROUP BY crop ORDER BY COUNT(*) DESC LIMIT 1",
    )


def test_a_ranked_row_shows_the_fields_asked(nl: RuleTranslator, garden: SQLiteEngine) -> None:
    answers(
        nl,
        garden,
        "What are the name and town of the gardener with the most plots?",
        "SELECT g.full_name, g.town FROM gardeners g JOIN plots p ON p.gardener_id = "
        "g.gardener_id GROUP BY g.gardener_id ORDER BY COUNT(*) DESC LIMIT 1",
    )


def test_a_count_for_each_field_asked_before_it(nl: RuleTranslator, garden: SQLiteEngine):
    answers(
        nl,
        garden,
        "Show all crops and the number of plots for each.",
        "SELECT crop, COUNT(*) FROM plots GROUP BY crop",
    )
    answers(
        nl,
        garden,
        "What are the names of the gardeners and how many plots does each have?",
        "SELECT g.full_name, COUNT(*) FROM gardeners g JOIN plots p "
        "ON p.gardener_id = g.gardener_id GROUP BY g.gardener_id",
    )


def test_the_row_with_an_extreme_named_by_a_concept(nl: RuleTranslator, garden: SQLiteEngine):
    answers(
        nl,
        garden,
        "What is the town of the youngest gardener?",
        "SELECT town FROM gardeners ORDER BY age LIMIT 1",
    )


# --- listings -----------------------------------------------------------------------------------


def test_the_different_values_of_a_field(nl: RuleTranslator, garden: SQLiteEngine) -> None:
    answer = answers(
        nl,
        garden,
        "What are the different towns of gardeners above age 30?",
        "SELECT DISTINCT town FROM gardeners WHERE age > 30",
    )
    assert len(rows(garden, answer.native_sql or "")) == 3


# --- names the draft model reads ----------------------------------------------------------------


def test_draft_guesses_synonyms_from_names(garden: SQLiteEngine) -> None:
    model = draft_from_schema(garden.schema())
    harvests = next(m for m in model.models if m.name == "harvest_data")
    assert harvests.synonyms == ["harvest"]
    baskets = next(c for c in harvests.columns if c.name == "num_of_baskets")
    assert baskets.synonyms == ["baskets", "number of baskets"]


def test_a_field_of_the_model_named_after_of(nl: RuleTranslator, garden: SQLiteEngine) -> None:
    # volunteers have a full name too: "of the gardeners" says whose
    answers(
        nl,
        garden,
        "What is the full name of the gardeners older than 40?",
        "SELECT full_name FROM gardeners WHERE age > 40",
    )


def test_synonyms_from_names_answer(nl: RuleTranslator, garden: SQLiteEngine) -> None:
    answers(
        nl,
        garden,
        "What is the total weight of all harvests?",
        "SELECT SUM(weight) FROM harvest_data",
    )
    answers(
        nl,
        garden,
        "What is the average number of baskets?",
        "SELECT AVG(num_of_baskets) FROM harvest_data",
    )


def test_a_model_name_used_as_a_modifier_is_not_counted(
    nl: RuleTranslator, garden: SQLiteEngine
) -> None:
    right_or_declined(
        nl, garden, "How many gardener plots are there?", "SELECT COUNT(*) FROM plots"
    )


def test_the_draft_document_says_what_it_guessed(garden: SQLiteEngine) -> None:
    schema = garden.schema()
    text = draft_document(draft_from_schema(schema), schema, "garden")
    assert "gardeners: label full_name (a person's name)" in text
    assert "harvest_data: also called harvest" in text
    assert "num_of_baskets (baskets, number of baskets)" in text
    assert parse_semantic_model(text).models  # the document is a valid model as it is
