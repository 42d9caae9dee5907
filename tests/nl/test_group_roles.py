"""Question structures on a small network of people of our own, with a draft model only: the side
of a link a passive verb names ("members who are followed": the ``followed_id`` side, though
"members" names the other side's ``member_id``), counts per value of a number named in the plural
("which levels have at least 2 members"), two kinds of rows asked at once ("the names of the
people and the clubs they joined": one row per related pair), a period of the field named right
before it ("people in clubs founded after 2000"), "a single" after a comparison (one) or a
negation (any), "does" that asks rather than relates ("what level does the person with the latest
joined year have"), a figure of each row's related rows compared ("people with an average length
above 100"), a field ranked by the rows a verb names ("which customer has ordered from the most
clubs"), a negation of a value named with its model ("in club Chess but not in club Rowing"), one
figure of the rows in the groups a count keeps ("the total length of posts in topics with more
than one post"), a negation between a number field and its value ("whose level is not 2"), a
comparison with the row a value names ("a higher level than Ada"). Every answer runs on SQLite and
compares rows with hand-written SQL; the same questions translate and pass the SQL guard on
DuckDB, PostgreSQL and MySQL, and run there with as many rows. Near misses decline.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl.prepare import prepare_embedded, sample_values
from sqlgate.nl.rules import RuleTranslator
from sqlgate.nl.values import ValueIndex
from tests.nl.conftest import ENGINE_DIALECTS, on_every_dialect, same_counts_on, sqlite_engine
from tests.nl.test_coverage import answers, declines, rows
from tests.nl.test_nested_structures import SCHEMA as BAKERY_SCHEMA

SCHEMA = """
CREATE TABLE people (
    person_id INTEGER PRIMARY KEY, name TEXT, level INTEGER, joined_year INTEGER
);
INSERT INTO people VALUES
    (1, 'Ada', 1, 2019), (2, 'Bo', 2, 2020), (3, 'Cal', 2, 2021), (4, 'Dee', 3, 2020),
    (5, 'Eli', 1, 2022), (6, 'Fay', 2, 2022);
CREATE TABLE friends (
    member_id INTEGER REFERENCES people (person_id),
    friend_id INTEGER REFERENCES people (person_id),
    PRIMARY KEY (member_id, friend_id)
);
INSERT INTO friends VALUES (1, 2), (2, 1), (3, 4), (5, 1);
CREATE TABLE follows (
    member_id INTEGER REFERENCES people (person_id),
    followed_id INTEGER REFERENCES people (person_id),
    PRIMARY KEY (member_id, followed_id)
);
INSERT INTO follows VALUES (1, 4), (2, 4), (3, 1), (6, 5);
CREATE TABLE club (club_id INTEGER PRIMARY KEY, club TEXT, founded INTEGER);
INSERT INTO club VALUES (1, 'Chess', 1990), (2, 'Rowing', 2001), (3, 'Choir', 2010);
CREATE TABLE club_roster (
    club_id INTEGER REFERENCES club (club_id),
    person_id INTEGER REFERENCES people (person_id),
    since INTEGER,
    PRIMARY KEY (club_id, person_id)
);
INSERT INTO club_roster VALUES (1, 1, 2020), (2, 1, 2021), (1, 3, 2019), (3, 4, 2022);
CREATE TABLE posts (
    post_id INTEGER PRIMARY KEY,
    person_id INTEGER REFERENCES people (person_id),
    length INTEGER,
    topic TEXT
);
INSERT INTO posts VALUES
    (1, 1, 120, 'art'), (2, 1, 80, 'art'), (3, 2, 300, 'food'), (4, 3, 50, 'art'),
    (5, 3, 70, 'food'), (6, 5, 200, 'news');
CREATE TABLE orders (
    order_id INTEGER PRIMARY KEY, club_id INTEGER REFERENCES club (club_id), customer TEXT
);
INSERT INTO orders VALUES (1, 1, 'Lou'), (2, 1, 'Lou'), (3, 1, 'Kim'), (4, 2, 'Kim'), (5, 3, 'Kim'),
    (6, 2, 'May');
"""


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "network", SCHEMA)


@pytest.fixture(scope="module")
def nl(network: SQLiteEngine) -> RuleTranslator:
    return prepare_embedded(network, "sqlite")  # the draft model, as a new connection gets


@pytest.fixture(scope="module")
def values(network: SQLiteEngine, nl: RuleTranslator) -> ValueIndex:
    return sample_values(network, nl.model, "sqlite")


#: (question, gold SQL)
CASES = [
    # the side of the link a passive verb names, though "members" names the other side's column
    (
        "Show the names of members who are followed.",
        "SELECT name FROM people WHERE person_id IN (SELECT followed_id FROM follows)",
    ),
    (
        "What are the names of members who both have friends and are followed?",
        "SELECT name FROM people WHERE person_id IN (SELECT member_id FROM friends) "
        "AND person_id IN (SELECT followed_id FROM follows)",
    ),
    (
        "Show the names of members who have friends and are also followed by someone else.",
        "SELECT name FROM people WHERE person_id IN (SELECT member_id FROM friends) "
        "AND person_id IN (SELECT followed_id FROM follows)",
    ),
    # a count per value of a number named in the plural
    (
        "Which levels have at least 2 members?",
        "SELECT level FROM people GROUP BY level HAVING COUNT(*) >= 2",
    ),
    (
        "Show me all joined years that have more than 1 member.",
        "SELECT joined_year FROM people GROUP BY joined_year HAVING COUNT(*) > 1",
    ),
    # two kinds of rows asked at once: one row per related pair
    (
        "What are the names of the people and the clubs they joined?",
        "SELECT p.name, c.club FROM people p JOIN club_roster r ON r.person_id = p.person_id "
        "JOIN club c ON c.club_id = r.club_id",
    ),
    (
        "Show the names of people and their clubs sorted by name.",
        "SELECT p.name, c.club FROM people p JOIN club_roster r ON r.person_id = p.person_id "
        "JOIN club c ON c.club_id = r.club_id ORDER BY p.name",
    ),
    # a period of the field named right before it, not a year column of the rows listed
    (
        "Show the names of people in clubs founded after 2000.",
        "SELECT DISTINCT p.name FROM people p JOIN club_roster r ON r.person_id = p.person_id "
        "JOIN club c ON c.club_id = r.club_id WHERE c.founded > 2000",
    ),
    (
        "How many clubs were founded before 2000?",
        "SELECT COUNT(*) FROM club WHERE founded < 2000",
    ),
    # "a single": one after a comparison, "any" after a negation
    (
        "Which clubs have more than a single member?",
        "SELECT club FROM club WHERE club_id IN "
        "(SELECT club_id FROM club_roster GROUP BY club_id HAVING COUNT(*) > 1)",
    ),
    (
        "Show the names of people who are not in a single club.",
        "SELECT name FROM people WHERE person_id NOT IN (SELECT person_id FROM club_roster)",
    ),
    (
        "Show the names of clubs where there is not a single member.",
        "SELECT club FROM club WHERE club_id NOT IN (SELECT club_id FROM club_roster)",
    ),
    # "does" asking, not relating: the ranked row of the rows the scope before it keeps
    (
        "For club Chess, what level does the person with the latest joined year have?",
        "SELECT p.level FROM people p JOIN club_roster r ON r.person_id = p.person_id "
        "JOIN club c ON c.club_id = r.club_id WHERE c.club = 'Chess' "
        "ORDER BY p.joined_year DESC LIMIT 1",
    ),
    # a figure of each row's related rows compared: a group filter
    (
        "Which people have an average length above 100?",
        "SELECT p.name FROM people p JOIN posts t ON t.person_id = p.person_id "
        "GROUP BY p.person_id HAVING AVG(t.length) > 100",
    ),
    (
        "Show the names of people with a total length of more than 150.",
        "SELECT p.name FROM people p JOIN posts t ON t.person_id = p.person_id "
        "GROUP BY p.person_id HAVING SUM(t.length) > 150",
    ),
    (
        "Which people have a maximum length below 100?",
        "SELECT p.name FROM people p JOIN posts t ON t.person_id = p.person_id "
        "GROUP BY p.person_id HAVING MAX(t.length) < 100",
    ),
    # the rows ranked by a figure of their related rows, never each of the related rows
    (
        "Find the person name that has the highest average length of posts.",
        "SELECT p.name FROM people p JOIN posts t ON t.person_id = p.person_id "
        "GROUP BY p.person_id ORDER BY AVG(t.length) DESC LIMIT 1",
    ),
    # a field of the rows a verb names is what is ranked, not each of those rows
    (
        "Which customer has ordered from the most clubs?",
        "SELECT customer FROM orders GROUP BY customer ORDER BY COUNT(DISTINCT club_id) DESC "
        "LIMIT 1",
    ),
    # a negation before a model word that names the value after it: the value's, not "no club"
    (
        "Find the names of people who are in club Chess but not in club Rowing.",
        "SELECT name FROM people WHERE person_id IN (SELECT person_id FROM club_roster "
        "WHERE club_id = 1) AND person_id NOT IN (SELECT person_id FROM club_roster "
        "WHERE club_id = 2)",
    ),
    (
        "Which people are not in club Rowing?",
        "SELECT name FROM people WHERE person_id NOT IN "
        "(SELECT person_id FROM club_roster WHERE club_id = 2)",
    ),
    # one figure of the rows in the groups a count keeps, though the rows are those counted
    (
        "What is the total length of posts in topics with more than one post?",
        "SELECT SUM(length) FROM posts WHERE topic IN "
        "(SELECT topic FROM posts GROUP BY topic HAVING COUNT(*) > 1)",
    ),
    (
        "What is the total length of topics with more than one post?",  # per topic
        "SELECT SUM(length) FROM posts GROUP BY topic HAVING COUNT(*) > 1",
    ),
    # a negation between a number field and its value or comparison
    (
        "What are the names of people whose level is not 2?",
        "SELECT name FROM people WHERE level <> 2",
    ),
    (
        "Which people have a level not equal to 2?",
        "SELECT name FROM people WHERE level <> 2",
    ),
    # a comparison with the row a value names
    (
        "Which people have a higher level than Ada?",
        "SELECT name FROM people WHERE level > (SELECT level FROM people WHERE name = 'Ada')",
    ),
    (
        "Show the names of people with a level greater than Ada's level.",
        "SELECT name FROM people WHERE level > (SELECT level FROM people WHERE name = 'Ada')",
    ),
    (
        "Which people have a lower level than that of Dee?",
        "SELECT name FROM people WHERE level < (SELECT level FROM people WHERE name = 'Dee')",
    ),
    # ... and the number itself compared when it is named in the singular
    (
        "Show the names of members with level at least 2.",
        "SELECT name FROM people WHERE level >= 2",
    ),
]


@pytest.mark.parametrize(("question", "gold"), CASES)
def test_structures(
    nl: RuleTranslator, network: SQLiteEngine, values: ValueIndex, question: str, gold: str
) -> None:
    answers(nl, network, question, gold)
    on_every_dialect(nl, question, values)


def test_a_count_after_a_number_named_once_declines(nl: RuleTranslator) -> None:
    """ "which level is at least 2 members": neither a count per level (no "has") nor levels of
    2 or more ("which level has at least 2 members" counts per level, as the plural does)."""
    declines(nl, "Which level is at least 2 members?", "at least 2 members")


@pytest.mark.parametrize(
    "question",
    [
        "Which clubs have a single member?",  # exactly one, or any?
        "Which clubs have not just a single member?",  # more than one, not none
    ],
)
def test_a_single_neither_counted_nor_denied_declines(nl: RuleTranslator, question: str):
    declines(nl, question, "single")


@pytest.mark.parametrize(
    "question",
    [
        "How many people have an average length above 100?",  # a count of groups
        "Which posts have an average length above 100?",  # of one post? (never of all posts)
    ],
)
def test_a_figure_of_no_related_rows_declines(nl: RuleTranslator, question: str):
    declines(nl, question, "length")


def test_a_period_of_a_row_a_value_names_declines(nl: RuleTranslator):
    """ "joined after Ada" is never the rows of Ada."""
    declines(nl, "Which people joined after Ada?", "after Ada")


@pytest.mark.parametrize(
    "question",
    ["Which people performed in 2020?", "What are the names of people who played in 2021?"],
)
def test_a_verb_before_a_year_of_another_event_declines(nl: RuleTranslator, question: str):
    """ "performed in 2020" is not the year they joined."""
    declines(nl, question, "2020" if "2020" in question else "2021")


def test_a_negated_number_of_no_field_declines(nl: RuleTranslator):
    declines(nl, "How many people are not 2?", "not")


def test_a_period_of_a_year_number_that_is_not_whole_years_declines(nl: RuleTranslator):
    """Never the people's own joined year instead."""
    declines(nl, "Show the names of people in clubs founded after March 2000.", "whole years")


@pytest.mark.parametrize(
    "question",
    [
        "Show the names of people and the clubs they do not belong to.",  # not those
        "Show the names of people and the club.",  # which one?
    ],
)
def test_a_second_kind_of_rows_not_plainly_paired_declines(nl: RuleTranslator, question: str):
    declines(nl, question, "club")


@pytest.mark.parametrize("dialect", ENGINE_DIALECTS)
def test_the_translations_run_on_the_other_engines_and_give_as_many_rows(
    nl: RuleTranslator, network: SQLiteEngine, values: ValueIndex, dialect: str
) -> None:
    counts = [(question, len(rows(network, gold))) for question, gold in CASES]
    same_counts_on(dialect, nl, values, SCHEMA, counts)


# --- on the bakery schema of the nested structures -----------------------------------------------

BAKERY_CASES = [
    # a comparison of the rows counted, though the groups are named first
    (
        "For each town, how many bakers are older than 30?",
        "SELECT b.town, COUNT(*) FROM bakers k JOIN bakeries b ON k.bakery = b.bakery_id "
        "WHERE k.age > 30 GROUP BY b.town",
    ),
    (
        "For each town, what is the average wage of bakers older than 30?",
        "SELECT b.town, AVG(k.wage) FROM bakers k JOIN bakeries b ON k.bakery = b.bakery_id "
        "WHERE k.age > 30 GROUP BY b.town",
    ),
    # "by" after a superlative's rows says what ranks them, it groups nothing
    # a verb of starting dates a year named for another one ("founded" on opened_year)
    (
        "Which bakeries were founded in 2012?",
        "SELECT bakery_name FROM bakeries WHERE opened_year = 2012",
    ),
    (
        "Which is the largest bakery by staff?",
        "SELECT bakery_name FROM bakeries ORDER BY staff DESC LIMIT 1",
    ),
    (
        "Show the 2 largest bakeries by staff.",
        "SELECT bakery_name FROM bakeries ORDER BY staff DESC LIMIT 2",
    ),
]


@pytest.fixture(scope="module")
def bakery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "bakery", BAKERY_SCHEMA)


@pytest.fixture(scope="module")
def bakery_nl(bakery: SQLiteEngine) -> RuleTranslator:
    return prepare_embedded(bakery, "sqlite")


@pytest.mark.parametrize(("question", "gold"), BAKERY_CASES)
def test_structures_on_bakeries(
    bakery_nl: RuleTranslator, bakery: SQLiteEngine, question: str, gold: str
) -> None:
    answers(bakery_nl, bakery, question, gold)
    on_every_dialect(bakery_nl, question, sample_values(bakery, bakery_nl.model, "sqlite"))


@pytest.mark.parametrize(
    "question",
    [
        "What is the name of the highest paid baker at each bakery?",  # never the oldest
        "What is the largest bakery?",  # no size, amount or price: never its opening year
        "What is the name of the highest baker?",  # one baker: no count of bakers
        "Which is the largest bakery by town?",  # the largest in each town, or by what?
    ],
)
def test_a_superlative_of_nothing_named_declines(bakery_nl: RuleTranslator, question: str):
    """No number is guessed for a superlative that names none."""
    declines(bakery_nl, question)


@pytest.mark.parametrize("dialect", ENGINE_DIALECTS)
def test_the_bakery_translations_give_as_many_rows_on_the_other_engines(
    bakery_nl: RuleTranslator, bakery: SQLiteEngine, dialect: str
) -> None:
    counts = [(question, len(rows(bakery, gold))) for question, gold in BAKERY_CASES]
    values = sample_values(bakery, bakery_nl.model, "sqlite")
    same_counts_on(dialect, bakery_nl, values, BAKERY_SCHEMA, counts)


# --- two kinds of rows through a link a verb names ------------------------------------------------

STORE_SCHEMA = """
CREATE TABLE stores (store_id INTEGER PRIMARY KEY, name TEXT, town TEXT);
INSERT INTO stores VALUES (1, 'North', 'Leeds'), (2, 'South', 'York'), (3, 'East', 'Bath');
CREATE TABLE workers (worker_id INTEGER PRIMARY KEY, name TEXT, age INTEGER);
INSERT INTO workers VALUES (1, 'Ann', 30), (2, 'Ben', 41), (3, 'Cy', 25);
CREATE TABLE hiring (
    store_id INTEGER REFERENCES stores (store_id),
    worker_id INTEGER REFERENCES workers (worker_id),
    hired_year INTEGER,
    PRIMARY KEY (store_id, worker_id)
);
INSERT INTO hiring VALUES (1, 1, 2020), (1, 2, 2021), (2, 2, 2019), (3, 3, 2022);
"""


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "stores", STORE_SCHEMA)


def test_two_kinds_of_rows_through_the_link_a_verb_names(stores: SQLiteEngine) -> None:
    nl = prepare_embedded(stores, "sqlite")
    question = "List the names of stores and the workers they hired."
    gold = (
        "SELECT s.name, w.name FROM stores s JOIN hiring h ON h.store_id = s.store_id "
        "JOIN workers w ON w.worker_id = h.worker_id"
    )
    answers(nl, stores, question, gold)
    on_every_dialect(nl, question, sample_values(stores, nl.model, "sqlite"))
    declines(nl, "List the names of stores and the workers they never hired.")
