"""More question structures of the offline engine, on a small orchard schema of our own with a
draft model only: an order said as a span ("from high to low") by a field named again by its last
word ("the size" after "orchard size"), and the other shapes below. Every answer runs on SQLite and
compares rows (in order, where the question asks for one) with hand-written SQL; the same
questions translate and pass the SQL guard on DuckDB, PostgreSQL and MySQL, and run there with as
many rows.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl.prepare import prepare_embedded, sample_values
from sqlgate.nl.rules import RuleTranslator
from sqlgate.nl.values import ValueIndex
from tests.nl.conftest import ENGINE_DIALECTS, on_every_dialect, same_counts_on, sqlite_engine
from tests.nl.test_coverage import answers, rows

SCHEMA = """
CREATE TABLE growers (
    grower_id INTEGER PRIMARY KEY, grower_name TEXT, orchard_size INTEGER, age INTEGER,
    hives INTEGER
);
INSERT INTO growers VALUES
    (1, 'Ada', 5, 61, 4), (2, 'Bea', 2, 35, 1), (3, 'Cal', 8, 47, 6), (4, 'Dov', 3, 52, 2),
    (5, 'Eli', 1, 29, 3);
CREATE TABLE trees (
    tree_id INTEGER PRIMARY KEY,
    grower INTEGER REFERENCES growers (grower_id),
    variety TEXT,
    height REAL,
    girth REAL,
    weight REAL,
    tag_number TEXT
);
INSERT INTO trees VALUES
    (1, 1, 'Gala', 4.0, 30, 90, '3'), (2, 1, 'Fuji', 6.5, 42, 150, '12'),
    (3, 3, 'Gala', 3.0, 25, 70, '7'), (4, 3, 'Pink', 7.0, 20, 160, 'none'),
    (5, 4, 'Fuji', 5.0, 50, 120, '5'), (6, 2, 'Gala', 2.5, 15, 40, '9');
CREATE TABLE partners (
    grower_id INTEGER REFERENCES growers (grower_id),
    partner_id INTEGER REFERENCES growers (grower_id),
    PRIMARY KEY (grower_id, partner_id)
);
INSERT INTO partners VALUES (1, 2), (1, 3), (2, 1), (3, 4), (4, 5);
CREATE TABLE sales (
    sale_id INTEGER PRIMARY KEY,
    grower INTEGER REFERENCES growers (grower_id),
    sold_on DATE,
    amount REAL
);
INSERT INTO sales VALUES
    (1, 1, '2024-01-05', 10), (2, 2, '2024-01-20', 5), (3, 1, '2024-02-11', 7),
    (4, 3, '2024-04-02', 3), (5, 3, '2024-04-28', 8), (6, 4, '2024-05-15', 2);
CREATE TABLE pickers (
    picker_id INTEGER PRIMARY KEY,
    picker_name TEXT,
    wage REAL,
    mentor_id INTEGER REFERENCES pickers (picker_id)
);
INSERT INTO pickers VALUES
    (1, 'Hal', 20, NULL), (2, 'Ivo', 15, 1), (3, 'Jon', 12, 1), (4, 'Kit', 11, 2);
CREATE TABLE watering (
    watering_id INTEGER PRIMARY KEY,
    grower INTEGER REFERENCES growers (grower_id),
    tree INTEGER REFERENCES trees (tree_id)
);
INSERT INTO watering VALUES (1, 1, 2), (2, 1, 2), (3, 1, 4), (4, 2, 4), (5, 2, 4), (6, 3, 1);
"""


@pytest.fixture(scope="module")
def orchard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "orchard", SCHEMA)


@pytest.fixture(scope="module")
def nl(orchard: SQLiteEngine) -> RuleTranslator:
    return prepare_embedded(orchard, "sqlite")  # the draft model, as a new connection gets


@pytest.fixture(scope="module")
def values(orchard: SQLiteEngine, nl: RuleTranslator) -> ValueIndex:
    return sample_values(orchard, nl.model, "sqlite")


#: (question, gold SQL, whether the gold's first column must come in the same order)
CASES = [
    # an order said as a span, by a field named again by its last word
    (
        "Find the names of growers whose orchard size is more than 2, and order the results by "
        "the size from high to low.",
        "SELECT grower_name FROM growers WHERE orchard_size > 2 ORDER BY orchard_size DESC",
        True,
    ),
    (
        "List the names of growers whose orchard size is above 1, sorted by the size from "
        "lowest to highest.",
        "SELECT grower_name FROM growers WHERE orchard_size > 1 ORDER BY orchard_size",
        True,
    ),
    (
        "Find the name and orchard size of the growers whose orchard size is at least 2, and "
        "sort by their age from old to young.",
        "SELECT grower_name, orchard_size FROM growers WHERE orchard_size >= 2 ORDER BY age DESC",
        True,
    ),
    (
        "List the grower names sorted by age from youngest to oldest.",
        "SELECT grower_name FROM growers ORDER BY age",
        True,
    ),
    # how many times something was done: the rows of the model the verb names
    (
        "What are the names of the growers who watered some trees more than once?",
        "SELECT g.grower_name FROM growers g JOIN watering i ON i.grower = g.grower_id "
        "GROUP BY g.grower_id HAVING COUNT(*) > 1",
        False,
    ),
    (
        "Which growers watered at least 3 times? List their names.",
        "SELECT g.grower_name FROM growers g JOIN watering i ON i.grower = g.grower_id "
        "GROUP BY g.grower_id HAVING COUNT(*) >= 3",
        False,
    ),
    (
        "What are the id and variety of the tree watered the most times?",
        "SELECT t.tree_id, t.variety FROM trees t JOIN watering i ON i.tree = t.tree_id "
        "GROUP BY t.tree_id ORDER BY COUNT(*) DESC LIMIT 1",
        False,
    ),
    # a verb of a concept right before a comparison says what is compared
    (
        "What are the different varieties of trees weighing more than 100?",
        "SELECT DISTINCT variety FROM trees WHERE weight > 100",
        False,
    ),
    (
        "How many trees of Ada weigh less than 100?",
        "SELECT COUNT(*) FROM trees t JOIN growers g ON t.grower = g.grower_id "
        "WHERE t.weight < 100 AND g.grower_name = 'Ada'",
        False,
    ),
    (
        "List the heights of the trees that weigh at least 120.",
        "SELECT height FROM trees WHERE weight >= 120",
        False,
    ),
    # "how many <number field> does the <row> with the <superlative> have": that row's figure
    (
        "How many hives does the grower with the largest orchard size have?",
        "SELECT hives FROM growers ORDER BY orchard_size DESC LIMIT 1",
        False,
    ),
    (
        "How many hives did the grower with the lowest age have?",
        "SELECT hives FROM growers ORDER BY age LIMIT 1",
        False,
    ),
    # a comparative split around the field it compares
    (
        "List the varieties of trees with a greater height than 5.",
        "SELECT variety FROM trees WHERE height > 5",
        False,
    ),
    (
        "Which trees have more girth than the average? List their ids.",
        "SELECT tree_id FROM trees WHERE girth > (SELECT AVG(girth) FROM trees)",
        False,
    ),
    (
        "How many trees have a smaller height than the maximum height of all trees?",
        "SELECT COUNT(*) FROM trees WHERE height < (SELECT MAX(height) FROM trees)",
        False,
    ),
    # a comparison with the row another field ranks first
    (
        "How many trees have a greater height than the tree with the largest girth?",
        "SELECT COUNT(*) FROM trees WHERE height > "
        "(SELECT height FROM trees ORDER BY girth DESC LIMIT 1)",
        False,
    ),
    (
        "List the varieties of trees with a larger girth than the one with the lowest height.",
        "SELECT variety FROM trees WHERE girth > (SELECT girth FROM trees ORDER BY height LIMIT 1)",
        False,
    ),
    # rows related through a column that points back to their own model ("mentor_id")
    (
        "What is the name of Ivo's mentor?",
        "SELECT m.picker_name FROM pickers p JOIN pickers m ON p.mentor_id = m.picker_id "
        "WHERE p.picker_name = 'Ivo'",
        False,
    ),
    (
        "What is the picker name of the mentor of Kit?",
        "SELECT m.picker_name FROM pickers p JOIN pickers m ON p.mentor_id = m.picker_id "
        "WHERE p.picker_name = 'Kit'",
        False,
    ),
    (
        "List the names of the pickers whose mentor is Hal.",
        "SELECT p.picker_name FROM pickers p JOIN pickers m ON p.mentor_id = m.picker_id "
        "WHERE m.picker_name = 'Hal'",
        False,
    ),
    (
        "What are the names and wages of pickers whose mentor is Ivo?",
        "SELECT p.picker_name, p.wage FROM pickers p JOIN pickers m ON p.mentor_id = m.picker_id "
        "WHERE m.picker_name = 'Ivo'",
        False,
    ),
    (
        "How many pickers have mentor Hal?",
        "SELECT COUNT(*) FROM pickers p JOIN pickers m ON p.mentor_id = m.picker_id "
        "WHERE m.picker_name = 'Hal'",
        False,
    ),
    # a running total: each period's figure and the sum of the figures up to it
    (
        "What is the running total of the sale amount by month?",
        "SELECT SUM(amount), SUM(SUM(amount)) OVER (ORDER BY strftime('%Y-%m', sold_on)) "
        "FROM sales GROUP BY strftime('%Y-%m', sold_on)",
        False,
    ),
    (
        "Show the cumulative number of sales per month.",
        "SELECT COUNT(*), SUM(COUNT(*)) OVER (ORDER BY strftime('%Y-%m', sold_on)) "
        "FROM sales GROUP BY strftime('%Y-%m', sold_on)",
        False,
    ),
    # a change from the previous period (with rows: April follows February here)
    (
        "What is the month over month change in the sale amount?",
        "SELECT SUM(amount), SUM(amount) - LAG(SUM(amount)) OVER "
        "(ORDER BY strftime('%Y-%m', sold_on)) FROM sales GROUP BY strftime('%Y-%m', sold_on)",
        False,
    ),
    (
        "Show the change in the number of sales by month.",
        "SELECT COUNT(*), COUNT(*) - LAG(COUNT(*)) OVER (ORDER BY strftime('%Y-%m', sold_on)) "
        "FROM sales GROUP BY strftime('%Y-%m', sold_on)",
        False,
    ),
    # rows paired with rows of their own model through a link with two relationships to it
    (
        "Show the names of Ada's partners.",
        "SELECT g.grower_name FROM partners p JOIN growers g ON p.partner_id = g.grower_id "
        "WHERE p.grower_id = 1",
        False,
    ),
    (
        "Return the names of the partners of the grower Cal.",
        "SELECT g.grower_name FROM partners p JOIN growers g ON p.partner_id = g.grower_id "
        "WHERE p.grower_id = 3",
        False,
    ),
    (
        "What are the names and ages of partners of Dov?",
        "SELECT g.grower_name, g.age FROM partners p JOIN growers g ON p.partner_id = g.grower_id "
        "WHERE p.grower_id = 4",
        False,
    ),
]


@pytest.mark.parametrize(("question", "gold", "ordered"), CASES)
def test_structures(
    nl: RuleTranslator,
    orchard: SQLiteEngine,
    values: ValueIndex,
    question: str,
    gold: str,
    ordered: bool,
) -> None:
    answer = answers(nl, orchard, question, gold)
    if ordered:
        first = [r[0] for r in rows(orchard, gold)]
        got = rows(orchard, answer.native_sql or "")
        assert any([r[k] for r in got] == first for k in range(len(got[0]))), answer.native_sql
    on_every_dialect(nl, question, values)


def test_a_word_named_again_must_name_one_field(nl: RuleTranslator) -> None:
    """ "sorted by the size" where no field named before ends in "size": never another order
    (the first field asked, say), declined."""
    answer = nl.ask("List the names of growers whose age is above 30, sorted by the size.")
    assert not answer.is_sql, answer.sql


def test_paired_rows_say_the_link_they_follow(nl: RuleTranslator) -> None:
    answer = nl.ask("Show the names of Ada's partners.")
    assert answer.is_sql, answer.explanation
    assert "partners.partner_id" in answer.explanation
    assert "grower_name = 'Ada'" in answer.explanation


def test_how_many_of_each_row_is_not_one_row(nl: RuleTranslator) -> None:
    """Without a superlative, "how many hives does each grower have" is never one row."""
    answer = nl.ask("How many hives does each grower have?")
    assert "LIMIT" not in (answer.sql or "")


def test_a_figure_of_filtered_rows_is_of_those_rows(
    nl: RuleTranslator, orchard: SQLiteEngine
) -> None:
    """ "than the average girth of all trees of Ada": the average of Ada's trees (36), never of
    every tree (a filter on the outer rows would list Ada's trees above the overall average)."""
    question = (
        "List the varieties of trees with more girth than the average girth of all trees of Ada."
    )
    gold = (
        "SELECT variety FROM trees WHERE girth > (SELECT AVG(t.girth) FROM trees t "
        "JOIN growers g ON t.grower = g.grower_id WHERE g.grower_name = 'Ada')"
    )
    answer = answers(nl, orchard, question, gold)
    assert "Ada" in answer.explanation


def test_a_row_ranked_by_text_is_not_picked(nl: RuleTranslator) -> None:
    """A number stored as text may hold words ('none'): the one row it ranks first is not a
    reliable row to compare with; declined, saying why."""
    answer = nl.ask(
        "How many trees have a greater height than the tree with the largest tag number?"
    )
    assert not answer.is_sql, answer.sql
    assert "stored as text" in answer.explanation
    # "than one": still the number one when no row follows
    answer = nl.ask("How many trees have a height greater than one?")
    assert answer.is_sql and "> 1" in (answer.sql or ""), answer.explanation


def test_a_role_beside_values_not_read_declines(nl: RuleTranslator) -> None:
    """Without the role, "the mentors of Hal and Ivo" would list Hal's and Ivo's own rows; the
    question is declined instead, naming the role."""
    answer = nl.ask("List the wages of the mentor of Hal or Ivo.")
    assert not answer.is_sql, answer.sql
    assert "mentor" in answer.explanation


def test_a_running_total_needs_periods(nl: RuleTranslator) -> None:
    """ "the running total of amount per grower": no time order to add up in; declined, saying
    what a running total needs."""
    answer = nl.ask("What is the running total of the amount of sales per grower?")
    assert not answer.is_sql, answer.sql
    assert "time period" in answer.explanation


def test_times_need_a_verb_that_names_rows(nl: RuleTranslator) -> None:
    """ "more than once" with no verb naming a model before it: not a count of anything."""
    answer = nl.ask("Find the names of growers older than 40 more than once.")
    assert not answer.is_sql, answer.sql


@pytest.mark.parametrize("dialect", ENGINE_DIALECTS)
def test_the_translations_run_on_the_other_engines_and_give_as_many_rows(
    nl: RuleTranslator, orchard: SQLiteEngine, values: ValueIndex, dialect: str
) -> None:
    counts = [(question, len(rows(orchard, gold))) for question, gold, _ in CASES]
    same_counts_on(dialect, nl, values, SCHEMA, counts)
