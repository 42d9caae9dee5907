"""Question structures on the small network of people of our own, with a draft model only: the
"by" that names who did it ("posts by people at level 1": the posts of those people, one row per
post, not a count per person); a sort by the count the question asked for, named again ("sorted by
that number": ascending unless a direction follows); "the most people" counted as "the most
members" is, though "people" does not end in "s"; "which level has more than 2 people" counts per
level, as "which levels have" does; one figure of the rows a count of their related
rows keeps ("the average level of people with more than 1 post": one number, not one per person).
On the bakery schema: a count said of the rows named between the groups and the count ("towns
that have bakeries with more than 1 baker": per bakery, not per town; "the average wage of bakers
at bakeries with more than 2 orders": one figure). Every answer runs on
SQLite and compares rows with hand-written SQL; the same questions translate and pass the SQL
guard on DuckDB, PostgreSQL and MySQL, and run there with as many rows. Near misses stay as they
were (a plain "by people" still groups) or decline.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl.prepare import prepare_embedded, sample_values
from sqlgate.nl.rules import RuleTranslator
from sqlgate.nl.values import ValueIndex
from tests.nl.conftest import (
    ENGINE_DIALECTS,
    asked_rows,
    on_every_dialect,
    same_counts_on,
    sqlite_engine,
)
from tests.nl.test_coverage import answers, declines, rows
from tests.nl.test_group_roles import SCHEMA
from tests.nl.test_nested_structures import SCHEMA as BAKERY_SCHEMA


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "doers", SCHEMA)


@pytest.fixture(scope="module")
def nl(network: SQLiteEngine) -> RuleTranslator:
    return prepare_embedded(network, "sqlite")  # the draft model, as a new connection gets


@pytest.fixture(scope="module")
def values(network: SQLiteEngine, nl: RuleTranslator) -> ValueIndex:
    return sample_values(network, nl.model, "sqlite")


#: (question, gold SQL)
CASES = [
    # "by" names the doer when the rows after it are narrowed at once: no groups
    (
        "Show the posts by people at level 1.",
        "SELECT t.post_id FROM posts t JOIN people p ON p.person_id = t.person_id "
        "WHERE p.level = 1",
    ),
    (
        "What is the total length of posts by people at level 1?",
        "SELECT SUM(t.length) FROM posts t JOIN people p ON p.person_id = t.person_id "
        "WHERE p.level = 1",
    ),
    (
        "How many posts by people with level above 1 are there?",
        "SELECT COUNT(*) FROM posts t JOIN people p ON p.person_id = t.person_id WHERE p.level > 1",
    ),
    (
        "What is the total length of posts by people in club Chess?",
        "SELECT SUM(t.length) FROM posts t JOIN club_roster r ON r.person_id = t.person_id "
        "JOIN club c ON c.club_id = r.club_id WHERE c.club = 'Chess'",
    ),
    (
        "What is the average length of posts by people who are in club Chess?",
        "SELECT AVG(t.length) FROM posts t JOIN club_roster r ON r.person_id = t.person_id "
        "JOIN club c ON c.club_id = r.club_id WHERE c.club = 'Chess'",
    ),
    # a plain "by" and "by each" still group
    (
        "Show the number of posts by person.",
        "SELECT p.name, COUNT(*) FROM posts t JOIN people p ON p.person_id = t.person_id "
        "GROUP BY p.person_id",
    ),
    (
        "What is the total length of posts by each person at level 1?",
        "SELECT p.name, SUM(t.length) FROM posts t JOIN people p ON p.person_id = t.person_id "
        "WHERE p.level = 1 GROUP BY p.person_id",
    ),
    # a plural without "s" after "the most" is counted, as "the most members" is
    (
        "Which level has the most people?",
        "SELECT level FROM people GROUP BY level ORDER BY COUNT(*) DESC LIMIT 1",
    ),
    (
        "Which level has the fewest people?",
        "SELECT level FROM people GROUP BY level ORDER BY COUNT(*) LIMIT 1",
    ),
    # a number field asked in the singular with "has" before a count: a count per value
    (
        "Which level has more than 2 people?",
        "SELECT level FROM people GROUP BY level HAVING COUNT(*) > 2",
    ),
    (
        "What joined year has more than 1 member?",
        "SELECT joined_year FROM people GROUP BY joined_year HAVING COUNT(*) > 1",
    ),
    # one figure of the rows' own field over the rows a count of their related rows keeps
    (
        "What is the average level of people who have more than 1 post?",
        "SELECT AVG(level) FROM people WHERE person_id IN "
        "(SELECT person_id FROM posts GROUP BY person_id HAVING COUNT(*) > 1)",
    ),
    (
        "What is the maximum joined year of people with at least 2 posts?",
        "SELECT MAX(joined_year) FROM people WHERE person_id IN "
        "(SELECT person_id FROM posts GROUP BY person_id HAVING COUNT(*) >= 2)",
    ),
    # "sorted by that number": the count asked for
    (
        "For each person, show the name and the number of posts, sorted by that number.",
        "SELECT p.name, COUNT(*) FROM posts t JOIN people p ON p.person_id = t.person_id "
        "GROUP BY p.person_id ORDER BY COUNT(*)",
    ),
    (
        "Show the topic and the number of posts for each topic, sorted by that number.",
        "SELECT topic, COUNT(*) FROM posts GROUP BY topic ORDER BY COUNT(*)",
    ),
]


@pytest.mark.parametrize(("question", "gold"), CASES)
def test_structures(
    nl: RuleTranslator, network: SQLiteEngine, values: ValueIndex, question: str, gold: str
) -> None:
    answers(nl, network, question, gold)
    on_every_dialect(nl, question, values)


@pytest.mark.parametrize(
    ("question", "ascending"),
    [
        ("For each person, show the name and the number of posts, sorted by that number.", True),
        ("Show the topic and the number of posts for each topic, sorted by that number.", True),
        (
            "Show each name and number of posts sorted by that number in descending order.",
            False,
        ),
        ("Show each person's name and number of posts, ordered by that number descending.", False),
    ],
)
def test_that_number_sorts_by_the_count_in_the_direction_asked(
    nl: RuleTranslator, network: SQLiteEngine, question: str, ascending: bool
) -> None:
    got = asked_rows(network, question, nl)
    counts = [r[-1] for r in got]
    assert len(counts) > 2 and len(set(counts)) > 1
    assert counts == sorted(counts, reverse=not ascending)


def test_that_number_of_no_count_declines(nl: RuleTranslator) -> None:
    """A total is no "number": which figure the sort is by is not said."""
    declines(nl, "Show each person's name and the total length of posts sorted by that number.")


@pytest.mark.parametrize(
    "question",
    ["Which people are followed by Ada?", "Which people are followed by someone at level 1?"],
)
def test_the_other_side_of_a_link_of_the_rows_own_model_declines(
    nl: RuleTranslator, question: str
) -> None:
    """Not the followed people named Ada (or at level 1): whom they follow is another question."""
    declines(nl, question, "after 'by'")


@pytest.mark.parametrize("dialect", ENGINE_DIALECTS)
def test_the_translations_run_on_the_other_engines_and_give_as_many_rows(
    nl: RuleTranslator, network: SQLiteEngine, values: ValueIndex, dialect: str
) -> None:
    counts = [(question, len(rows(network, gold))) for question, gold in CASES]
    same_counts_on(dialect, nl, values, SCHEMA, counts)


@pytest.mark.parametrize(
    "question",
    [
        "What is the average level of people in clubs with more than 1 member?",  # through a link
        "What is the average length of posts of people with more than 1 post?",  # whose figure?
        "Show the posts by people in clubs.",  # in which club?
    ],
)
def test_near_misses_decline(nl: RuleTranslator, question: str) -> None:
    declines(nl, question)


# --- on the bakery schema of the nested structures -----------------------------------------------

BAKERY_CASES = [
    # a count said of the rows named between the groups and the count: per bakery, not per town
    (
        "Which towns have bakeries with more than 1 baker?",
        "SELECT DISTINCT town FROM bakeries WHERE bakery_id IN "
        "(SELECT bakery FROM bakers GROUP BY bakery HAVING COUNT(*) > 1)",
    ),
    (
        "Show the towns with bakeries having more than 2 orders.",
        "SELECT DISTINCT town FROM bakeries WHERE bakery_id IN "
        "(SELECT bakery FROM orders GROUP BY bakery HAVING COUNT(*) > 2)",
    ),
    (
        "How many towns have bakeries with more than 1 baker?",
        "SELECT COUNT(DISTINCT town) FROM bakeries WHERE bakery_id IN "
        "(SELECT bakery FROM bakers GROUP BY bakery HAVING COUNT(*) > 1)",
    ),
    # one figure of the rows at the rows a count keeps: the bakeries' orders counted
    (
        "What is the average wage of bakers at bakeries with more than 2 orders?",
        "SELECT AVG(wage) FROM bakers WHERE bakery IN "
        "(SELECT bakery FROM orders GROUP BY bakery HAVING COUNT(*) > 2)",
    ),
    (
        "What is the maximum age of bakers at bakeries with at least 2 orders?",
        "SELECT MAX(age) FROM bakers WHERE bakery IN "
        "(SELECT bakery FROM orders GROUP BY bakery HAVING COUNT(*) >= 2)",
    ),
    # ... while a count said of the towns themselves stays per town
    (
        "Which towns have more than 1 baker?",
        "SELECT b.town FROM bakers k JOIN bakeries b ON k.bakery = b.bakery_id "
        "GROUP BY b.town HAVING COUNT(*) > 1",
    ),
]


@pytest.fixture(scope="module")
def bakery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "nested_counts", BAKERY_SCHEMA)


@pytest.fixture(scope="module")
def bakery_nl(bakery: SQLiteEngine) -> RuleTranslator:
    return prepare_embedded(bakery, "sqlite")


@pytest.mark.parametrize(("question", "gold"), BAKERY_CASES)
def test_structures_on_bakeries(
    bakery_nl: RuleTranslator, bakery: SQLiteEngine, question: str, gold: str
) -> None:
    answers(bakery_nl, bakery, question, gold)
    on_every_dialect(bakery_nl, question, sample_values(bakery, bakery_nl.model, "sqlite"))


def test_a_town_kept_by_one_bakery_only_is_not_kept_by_two(
    bakery_nl: RuleTranslator, bakery: SQLiteEngine
) -> None:
    """York has two bakeries of one baker each: two bakers in all, but no bakery with more
    than 1."""
    got = asked_rows(bakery, "Which towns have bakeries with more than 1 baker?", bakery_nl)
    assert sorted(got) == [("Leeds",)]


@pytest.mark.parametrize("dialect", ENGINE_DIALECTS)
def test_the_bakery_translations_give_as_many_rows_on_the_other_engines(
    bakery_nl: RuleTranslator, bakery: SQLiteEngine, dialect: str
) -> None:
    values = sample_values(bakery, bakery_nl.model, "sqlite")
    counts = [(question, len(rows(bakery, gold))) for question, gold in BAKERY_CASES]
    same_counts_on(dialect, bakery_nl, values, BAKERY_SCHEMA, counts)


def test_a_figure_of_rows_counted_among_themselves_declines(bakery_nl: RuleTranslator) -> None:
    """ "bakers at bakeries with more than 1 baker": the bakers are both measured and counted."""
    declines(bakery_nl, "What is the average wage of bakers at bakeries with more than 1 baker?")
