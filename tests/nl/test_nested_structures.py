"""Question structures with a condition inside another part of the question, on a small bakery
schema of our own with a draft model only: a comparison with a figure of some rows only ("more
staff than the average staff of bakeries in York", "older than every baker at Crumb"), a comparison
said of the related rows named right before it ("the most bakers older than 30", "how many bakeries
have more than 1 baker older than 30"), the row with the most related rows in each group ("for each
town, which bakery has the most bakers"), rows of the related row a count ranks first ("bakers at
the bakery with the most orders"), periods of the related rows ("bakeries with no order in 2021",
"orders in 2021 and also in 2022"), two kinds of related rows ("both bakers and orders", "bakers
but no orders"), the rows named again after "except" ("all bakeries except bakeries having an
order"), sort keys after the first ("by age descending and then by name"), an order by a count of
related rows ("sorted by the number of orders") and a superlative that heads the question ("what is
the highest wage of bakers at each bakery": a figure, not a row). Every answer runs on SQLite and
compares rows with hand-written SQL; the same questions translate and pass the SQL guard on DuckDB,
PostgreSQL and MySQL, and run there with as many rows.
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

SCHEMA = """
CREATE TABLE bakeries (
    bakery_id INTEGER PRIMARY KEY, bakery_name TEXT, town TEXT, opened_year INTEGER,
    staff INTEGER
);
INSERT INTO bakeries VALUES
    (1, 'Crumb', 'Leeds', 2005, 4), (2, 'Rise', 'York', 2012, 9), (3, 'Knead', 'Leeds', 2016, 6),
    (4, 'Proof', 'Bath', 2019, 3), (5, 'Crust', 'York', 2001, 12);
CREATE TABLE bakers (
    baker_id INTEGER PRIMARY KEY,
    baker_name TEXT,
    bakery INTEGER REFERENCES bakeries (bakery_id),
    age INTEGER,
    wage REAL
);
INSERT INTO bakers VALUES
    (1, 'Ann', 1, 30, 11), (2, 'Ben', 1, 45, 14), (3, 'Cy', 2, 22, 9), (4, 'Di', 3, 51, 16),
    (5, 'Ed', 3, 38, 12), (6, 'Flo', 3, 27, 10), (7, 'Gus', 5, 60, 20), (8, 'Abe', 4, 30, 11);
CREATE TABLE orders (
    order_id INTEGER PRIMARY KEY,
    bakery INTEGER REFERENCES bakeries (bakery_id),
    customer TEXT,
    ordered_year INTEGER,
    total REAL
);
INSERT INTO orders VALUES
    (1, 1, 'Kim', 2021, 30), (2, 1, 'Lou', 2022, 12), (3, 2, 'Kim', 2021, 50),
    (4, 3, 'May', 2020, 8), (5, 3, 'Ned', 2021, 15), (6, 3, 'Oz', 2022, 9);
CREATE TABLE deliveries (
    delivery_id INTEGER PRIMARY KEY,
    bakery INTEGER REFERENCES bakeries (bakery_id),
    delivered_on DATE,
    crates INTEGER
);
INSERT INTO deliveries VALUES
    (1, 1, '2023-02-01', 5), (2, 2, '2022-11-20', 3), (3, 4, '2023-06-30', 8),
    (4, 5, '2021-01-15', 2), (5, 1, '2022-05-05', 1);
"""


@pytest.fixture(scope="module")
def bakery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "bakery", SCHEMA)


@pytest.fixture(scope="module")
def nl(bakery: SQLiteEngine) -> RuleTranslator:
    return prepare_embedded(bakery, "sqlite")  # the draft model, as a new connection gets


@pytest.fixture(scope="module")
def values(bakery: SQLiteEngine, nl: RuleTranslator) -> ValueIndex:
    return sample_values(bakery, nl.model, "sqlite")


#: (question, gold SQL, whether the gold's first column must come in the same order)
CASES = [
    # a comparison with a figure of some rows only: the conditions after the rows are the figure's
    (
        "Find the names of bakeries whose staff is more than the minimum staff of bakeries "
        "opened after 2010.",
        "SELECT bakery_name FROM bakeries "
        "WHERE staff > (SELECT MIN(staff) FROM bakeries WHERE opened_year > 2010)",
        False,
    ),
    (
        "Find the names of bakeries with more staff than the average staff of bakeries in York.",
        "SELECT bakery_name FROM bakeries "
        "WHERE staff > (SELECT AVG(staff) FROM bakeries WHERE town = 'York')",
        False,
    ),
    (
        "How many bakers are older than the average age of bakers at bakeries in Leeds?",
        "SELECT COUNT(*) FROM bakers WHERE age > (SELECT AVG(k.age) FROM bakers k "
        "JOIN bakeries b ON k.bakery = b.bakery_id WHERE b.town = 'Leeds')",
        False,
    ),
    (
        "Find the names of bakers whose wage is below the maximum wage of bakers older than 40.",
        "SELECT baker_name FROM bakers WHERE wage < (SELECT MAX(wage) FROM bakers WHERE age > 40)",
        False,
    ),
    (
        "Find bakeries with more staff than the average staff of all bakeries in York, sorted "
        "by name.",
        "SELECT bakery_name FROM bakeries "
        "WHERE staff > (SELECT AVG(staff) FROM bakeries WHERE town = 'York') ORDER BY bakery_name",
        True,
    ),
    # a comparison with every one of some rows: with their maximum (minimum)
    (
        "Which bakers are older than every baker at Crumb?",
        "SELECT baker_name FROM bakers WHERE age > (SELECT MAX(k.age) FROM bakers k "
        "JOIN bakeries b ON k.bakery = b.bakery_id WHERE b.bakery_name = 'Crumb')",
        False,
    ),
    (
        "Find bakers whose wage is higher than that of every baker at Rise.",
        "SELECT baker_name FROM bakers WHERE wage > (SELECT MAX(k.wage) FROM bakers k "
        "JOIN bakeries b ON k.bakery = b.bakery_id WHERE b.bakery_name = 'Rise')",
        False,
    ),
    (
        "Which bakers are younger than all bakers at Knead?",
        "SELECT baker_name FROM bakers WHERE age < (SELECT MIN(k.age) FROM bakers k "
        "JOIN bakeries b ON k.bakery = b.bakery_id WHERE b.bakery_name = 'Knead')",
        False,
    ),
    (
        "Find the bakeries with more staff than every bakery in Leeds.",
        "SELECT bakery_name FROM bakeries "
        "WHERE staff > (SELECT MAX(staff) FROM bakeries WHERE town = 'Leeds')",
        False,
    ),
    # a comparison said of the related rows named right before it
    (
        "Which bakery has the most bakers older than 30?",
        "SELECT b.bakery_name FROM bakeries b JOIN bakers k ON k.bakery = b.bakery_id "
        "WHERE k.age > 30 GROUP BY b.bakery_id ORDER BY COUNT(*) DESC LIMIT 1",
        False,
    ),
    (
        "List the bakeries with bakers older than 40.",
        "SELECT DISTINCT b.bakery_name FROM bakeries b JOIN bakers k ON k.bakery = b.bakery_id "
        "WHERE k.age > 40",
        False,
    ),
    # a count of related rows with a condition of their own: the rows counted are those
    (
        "How many bakeries have more than 1 baker older than 30?",
        "SELECT COUNT(*) FROM bakeries WHERE bakery_id IN (SELECT bakery FROM bakers "
        "WHERE age > 30 GROUP BY bakery HAVING COUNT(*) > 1)",
        False,
    ),
    (
        "How many bakeries have at least 3 orders after 2020?",
        "SELECT COUNT(*) FROM bakeries WHERE bakery_id IN (SELECT bakery FROM orders "
        "WHERE ordered_year > 2020 GROUP BY bakery HAVING COUNT(*) >= 3)",
        False,
    ),
    (
        "Which bakeries have at least 2 orders after 2020?",
        "SELECT b.bakery_name FROM bakeries b JOIN orders o ON o.bakery = b.bakery_id "
        "WHERE o.ordered_year > 2020 GROUP BY b.bakery_id HAVING COUNT(*) >= 2",
        False,
    ),
    # fewer than n related rows: rows with none are among them
    (
        "Which bakeries have fewer than 2 orders?",
        "SELECT bakery_name FROM bakeries WHERE bakery_id NOT IN "
        "(SELECT bakery FROM orders GROUP BY bakery HAVING COUNT(*) >= 2)",
        False,
    ),
    (
        "How many bakeries have at most 1 baker older than 30?",
        "SELECT COUNT(*) FROM bakeries WHERE bakery_id NOT IN "
        "(SELECT bakery FROM bakers WHERE age > 30 GROUP BY bakery HAVING COUNT(*) > 1)",
        False,
    ),
    # one figure of the rows in the groups a count keeps
    (
        "How many bakers work at bakeries in towns with more than 1 bakery?",
        "SELECT COUNT(*) FROM bakers k JOIN bakeries b ON k.bakery = b.bakery_id WHERE b.town IN "
        "(SELECT town FROM bakeries GROUP BY town HAVING COUNT(*) > 1)",
        False,
    ),
    (
        "What is the average wage of bakers at bakeries in towns with more than 1 bakery?",
        "SELECT AVG(k.wage) FROM bakers k JOIN bakeries b ON k.bakery = b.bakery_id WHERE b.town "
        "IN (SELECT town FROM bakeries GROUP BY town HAVING COUNT(*) > 1)",
        False,
    ),
    (
        "How many bakers are there in each town with more than 1 bakery?",
        "SELECT b.town, COUNT(*) FROM bakers k JOIN bakeries b ON k.bakery = b.bakery_id "
        "GROUP BY b.town HAVING COUNT(DISTINCT b.bakery_id) > 1",
        False,
    ),
    (
        "How many towns have more than 1 bakery?",
        "SELECT COUNT(*) FROM (SELECT town FROM bakeries GROUP BY town HAVING COUNT(*) > 1)",
        False,
    ),
    # two counts of related rows joined by "or"
    (
        "Which bakeries have more than 1 baker or more than 2 orders?",
        "SELECT bakery_name FROM bakeries WHERE bakery_id IN (SELECT bakery FROM bakers "
        "GROUP BY bakery HAVING COUNT(*) > 1) OR bakery_id IN (SELECT bakery FROM orders "
        "GROUP BY bakery HAVING COUNT(*) > 2)",
        False,
    ),
    (
        "Which bakeries have fewer than 2 bakers or more than 1 order?",
        "SELECT bakery_name FROM bakeries WHERE bakery_id NOT IN (SELECT bakery FROM bakers "
        "GROUP BY bakery HAVING COUNT(*) >= 2) OR bakery_id IN (SELECT bakery FROM orders "
        "GROUP BY bakery HAVING COUNT(*) > 1)",
        False,
    ),
    # a period of the related rows, read inside the subquery that finds them
    (
        "Show the names of bakeries that have no order in 2021.",
        "SELECT bakery_name FROM bakeries "
        "WHERE bakery_id NOT IN (SELECT bakery FROM orders WHERE ordered_year = 2021)",
        False,
    ),
    (
        "How many bakeries had no order in 2022?",
        "SELECT COUNT(*) FROM bakeries "
        "WHERE bakery_id NOT IN (SELECT bakery FROM orders WHERE ordered_year = 2022)",
        False,
    ),
    (
        "Show the names of bakeries that have an order in 2020.",
        "SELECT bakery_name FROM bakeries "
        "WHERE bakery_id IN (SELECT bakery FROM orders WHERE ordered_year = 2020)",
        False,
    ),
    (
        "Which bakeries have no deliveries in 2023?",
        "SELECT bakery_name FROM bakeries WHERE bakery_id NOT IN (SELECT bakery FROM deliveries "
        "WHERE delivered_on >= '2023-01-01' AND delivered_on < '2024-01-01')",
        False,
    ),
    # sort keys after the first, each with its own direction
    (
        "List the bakers sorted by age descending and then by name.",
        "SELECT baker_name FROM bakers ORDER BY age DESC, baker_name",
        True,
    ),
    (
        "Sort the bakers by age in descending order and by name in ascending order.",
        "SELECT baker_name FROM bakers ORDER BY age DESC, baker_name",
        True,
    ),
    (
        "List the bakery names and towns ordered by town and name.",
        "SELECT bakery_name, town FROM bakeries ORDER BY town, bakery_name",
        True,
    ),
    (
        "List the names of bakers ordered by age and then by wage descending.",
        "SELECT baker_name FROM bakers ORDER BY age, wage DESC",
        True,
    ),
    # ordered by a count of related rows: ascending unless a direction is said
    (
        "Sort the bakeries by the number of orders.",
        "SELECT b.bakery_name FROM bakeries b JOIN orders o ON o.bakery = b.bakery_id "
        "GROUP BY b.bakery_id ORDER BY COUNT(*)",
        True,
    ),
    (
        "List the bakery names ordered by the number of orders in descending order.",
        "SELECT b.bakery_name FROM bakeries b JOIN orders o ON o.bakery = b.bakery_id "
        "GROUP BY b.bakery_id ORDER BY COUNT(*) DESC",
        True,
    ),
    # several periods of the related rows: rows with both (INTERSECT), or with either
    (
        "Which bakeries have orders in 2021 and also in 2022?",
        "SELECT bakery_name FROM bakeries WHERE bakery_id IN "
        "(SELECT bakery FROM orders WHERE ordered_year = 2021) AND bakery_id IN "
        "(SELECT bakery FROM orders WHERE ordered_year = 2022)",
        False,
    ),
    (
        "Which bakeries have an order in 2021 and an order in 2022?",
        "SELECT bakery_name FROM bakeries WHERE bakery_id IN "
        "(SELECT bakery FROM orders WHERE ordered_year = 2021) AND bakery_id IN "
        "(SELECT bakery FROM orders WHERE ordered_year = 2022)",
        False,
    ),
    (
        "Which bakeries have orders in 2020 or 2022?",
        "SELECT bakery_name FROM bakeries WHERE bakery_id IN "
        "(SELECT bakery FROM orders WHERE ordered_year IN (2020, 2022))",
        False,
    ),
    (
        "Which bakeries have deliveries in both 2022 and 2023?",
        "SELECT bakery_name FROM bakeries WHERE bakery_id IN (SELECT bakery FROM deliveries "
        "WHERE delivered_on LIKE '2022%') AND bakery_id IN (SELECT bakery FROM deliveries "
        "WHERE delivered_on LIKE '2023%')",
        False,
    ),
    # two kinds of related rows: both, either, or one but not the other
    (
        "Which bakeries have both bakers and orders?",
        "SELECT bakery_name FROM bakeries WHERE bakery_id IN (SELECT bakery FROM bakers) "
        "AND bakery_id IN (SELECT bakery FROM orders)",
        False,
    ),
    (
        "How many bakeries have both bakers and orders?",
        "SELECT COUNT(*) FROM bakeries WHERE bakery_id IN (SELECT bakery FROM bakers) "
        "AND bakery_id IN (SELECT bakery FROM orders)",
        False,
    ),
    (
        "Which bakeries have bakers or orders?",
        "SELECT bakery_name FROM bakeries WHERE bakery_id IN (SELECT bakery FROM bakers) "
        "OR bakery_id IN (SELECT bakery FROM orders)",
        False,
    ),
    (
        "Which bakeries have bakers but do not have orders?",
        "SELECT bakery_name FROM bakeries WHERE bakery_id IN (SELECT bakery FROM bakers) "
        "AND bakery_id NOT IN (SELECT bakery FROM orders)",
        False,
    ),
    (
        "Which bakeries have both a baker older than 50 and an order in 2021?",
        "SELECT bakery_name FROM bakeries WHERE bakery_id IN (SELECT bakery FROM bakers "
        "WHERE age > 50) AND bakery_id IN (SELECT bakery FROM orders WHERE ordered_year = 2021)",
        False,
    ),
    (
        "Which bakeries have a baker older than 50 or an order in 2022?",
        "SELECT bakery_name FROM bakeries WHERE bakery_id IN (SELECT bakery FROM bakers "
        "WHERE age > 50) OR bakery_id IN (SELECT bakery FROM orders WHERE ordered_year = 2022)",
        False,
    ),
    (
        "Which bakeries have a baker older than 50 but no order in 2021?",
        "SELECT bakery_name FROM bakeries WHERE bakery_id IN (SELECT bakery FROM bakers "
        "WHERE age > 50) AND bakery_id NOT IN (SELECT bakery FROM orders "
        "WHERE ordered_year = 2021)",
        False,
    ),
    # a superlative heading the question names a figure, per group or over all rows
    (
        "What is the highest wage of bakers at each bakery?",
        "SELECT b.bakery_name, MAX(k.wage) FROM bakers k JOIN bakeries b "
        "ON k.bakery = b.bakery_id GROUP BY b.bakery_id",
        False,
    ),
    (
        "What is the highest and lowest wage of bakers at each bakery?",
        "SELECT b.bakery_name, MAX(k.wage), MIN(k.wage) FROM bakers k JOIN bakeries b "
        "ON k.bakery = b.bakery_id GROUP BY b.bakery_id",
        False,
    ),
    (
        "What are the highest and lowest wages of bakers?",
        "SELECT MAX(wage), MIN(wage) FROM bakers",
        False,
    ),
    (
        "Show the highest and lowest staff of bakeries in each town.",
        "SELECT town, MAX(staff), MIN(staff) FROM bakeries GROUP BY town",
        False,
    ),
    (
        "Which baker has the highest wage in each bakery?",
        "SELECT k.baker_name FROM bakers k WHERE k.wage = "
        "(SELECT MAX(w.wage) FROM bakers w WHERE w.bakery = k.bakery)",
        False,
    ),
    # the row with the most (fewest) related rows in each group; ties keep every winner
    (
        "For each town, which bakery has the most bakers?",
        "SELECT b.bakery_name, b.town FROM bakeries b JOIN bakers k ON k.bakery = b.bakery_id "
        "GROUP BY b.bakery_id HAVING COUNT(*) = (SELECT MAX(n) FROM (SELECT COUNT(*) AS n, "
        "b2.town AS t FROM bakeries b2 JOIN bakers k2 ON k2.bakery = b2.bakery_id "
        "GROUP BY b2.bakery_id) WHERE t = b.town)",
        False,
    ),
    (
        "In each town, what is the name of the bakery with the fewest orders?",
        "SELECT b.bakery_name, b.town FROM bakeries b JOIN orders o ON o.bakery = b.bakery_id "
        "GROUP BY b.bakery_id HAVING COUNT(*) = (SELECT MIN(n) FROM (SELECT COUNT(*) AS n, "
        "b2.town AS t FROM bakeries b2 JOIN orders o2 ON o2.bakery = b2.bakery_id "
        "GROUP BY b2.bakery_id) WHERE t = b.town)",
        False,
    ),
    # the winners' own fields asked, shown with them
    (
        "Show the name and age of the oldest baker at each bakery.",
        "SELECT k.baker_name, k.age FROM bakers k WHERE k.age = "
        "(SELECT MAX(w.age) FROM bakers w WHERE w.bakery = k.bakery)",
        False,
    ),
    # grouped rows sorted by the field they sum: by the sum
    (
        "What is the total of orders for each bakery, sorted by the total?",
        "SELECT b.bakery_name, SUM(o.total) FROM orders o JOIN bakeries b "
        "ON o.bakery = b.bakery_id GROUP BY b.bakery_id ORDER BY SUM(o.total)",
        True,
    ),
    # rows of the one related row a count ranks first
    (
        "What is the average wage of bakers at the bakery with the most orders?",
        "SELECT AVG(wage) FROM bakers WHERE bakery = (SELECT bakery FROM orders "
        "GROUP BY bakery ORDER BY COUNT(*) DESC LIMIT 1)",
        False,
    ),
    (
        "What are the names of bakers at the bakery with the most orders?",
        "SELECT baker_name FROM bakers WHERE bakery = (SELECT bakery FROM orders "
        "GROUP BY bakery ORDER BY COUNT(*) DESC LIMIT 1)",
        False,
    ),
    (
        "How many bakers work at the bakery with the fewest orders?",
        "SELECT COUNT(*) FROM bakers WHERE bakery = (SELECT bakery FROM orders "
        "GROUP BY bakery ORDER BY COUNT(*) LIMIT 1)",
        False,
    ),
    (
        "Which bakeries have a baker older than 50 or a baker younger than 25?",
        "SELECT bakery_name FROM bakeries WHERE bakery_id IN (SELECT bakery FROM bakers "
        "WHERE age > 50 OR age < 25)",
        False,
    ),
    # the rows named again after "except"
    (
        "Show the names of all bakeries except bakeries having an order in 2021.",
        "SELECT bakery_name FROM bakeries "
        "WHERE bakery_id NOT IN (SELECT bakery FROM orders WHERE ordered_year = 2021)",
        False,
    ),
    (
        "Show names for all bakeries except for bakeries having an order in year 2022.",
        "SELECT bakery_name FROM bakeries "
        "WHERE bakery_id NOT IN (SELECT bakery FROM orders WHERE ordered_year = 2022)",
        False,
    ),
    (
        "List all bakeries except bakeries with an order.",
        "SELECT bakery_name FROM bakeries WHERE bakery_id NOT IN (SELECT bakery FROM orders)",
        False,
    ),
]


@pytest.mark.parametrize(("question", "gold", "ordered"), CASES)
def test_structures(
    nl: RuleTranslator,
    bakery: SQLiteEngine,
    values: ValueIndex,
    question: str,
    gold: str,
    ordered: bool,
) -> None:
    answer = answers(nl, bakery, question, gold)
    if ordered:
        first = [r[0] for r in rows(bakery, gold)]
        got = rows(bakery, answer.native_sql or "")
        assert any([r[k] for r in got] == first for k in range(len(got[0]))), answer.native_sql
    on_every_dialect(nl, question, values)


def test_a_figure_of_some_rows_says_which_rows(nl: RuleTranslator) -> None:
    answer = nl.ask(
        "Find the names of bakeries with more staff than the average staff of bakeries in York."
    )
    assert answer.is_sql, answer.explanation
    assert "over the rows where bakeries.town = 'York'" in answer.explanation


def test_a_figure_whose_rows_are_not_understood_declines(nl: RuleTranslator) -> None:
    """Never the average of every bakery, nor the outer rows filtered instead: declined."""
    declines(
        nl,
        "Find the bakeries with more staff than the average staff of bakeries run by grumpy "
        "owners.",
        "grumpy",
    )


def test_a_figure_per_group_is_not_one_figure(nl: RuleTranslator) -> None:
    declines(
        nl,
        "Find the bakeries with more staff than the average staff of bakeries for each town.",
        "not one aggregate",
    )


def test_a_figure_of_another_field_declines(nl: RuleTranslator) -> None:
    declines(nl, "Find the names of bakers whose wage is above the average age of bakers in Leeds.")


def test_a_second_kind_of_rows_asked_for_is_not_a_condition(nl: RuleTranslator) -> None:
    """ "and what are their orders" asks for the orders: never bakeries that have orders."""
    declines(nl, "Which bakeries have bakers and what are their orders?")


def test_winners_in_groups_say_so(nl: RuleTranslator) -> None:
    answer = nl.ask("For each town, which bakery has the most bakers?")
    assert answer.is_sql, answer.explanation
    assert "the bakeries with the most bakers in each town" in answer.explanation


def test_a_bare_comparison_beside_another_number_declines(nl: RuleTranslator) -> None:
    """ "a total of orders above 40" may be each order's total or their sum; never a number of
    the bakeries (their opening year) compared with 40."""
    declines(nl, "Which bakeries have a total of orders above 40?", "above 40")


def test_the_same_rows_with_and_without_a_condition_decline(nl: RuleTranslator) -> None:
    """ "bakers older than 40 but no bakers younger than 30": one subquery per kind of rows
    cannot say it; declined rather than a set of the two readings."""
    declines(nl, "Which bakeries have bakers older than 40 but no bakers younger than 30?", "but")


def test_the_keys_after_the_first_say_their_order(nl: RuleTranslator) -> None:
    answer = nl.ask("List the bakers sorted by age descending and then by name.")
    assert answer.is_sql, answer.explanation
    assert "then by bakers.baker_name, lowest first" in answer.explanation


def test_a_later_key_the_rows_are_not_grouped_by_declines(nl: RuleTranslator) -> None:
    """Counted per bakery, the bakers' names are no key to order the groups by."""
    declines(
        nl, "Show the bakery names sorted by number of bakers from most to least, then by name."
    )


#: Rows related through a link table: members and clubs.
CLUB_SCHEMA = """
CREATE TABLE clubs (club_id INTEGER PRIMARY KEY, club_name TEXT, region TEXT, founded INTEGER);
INSERT INTO clubs VALUES
    (1, 'Hawks', 'East', 1990), (2, 'Owls', 'East', 2005), (3, 'Bears', 'West', 1980),
    (4, 'Lynx', 'West', 2015);
CREATE TABLE members (member_id INTEGER PRIMARY KEY, member_name TEXT, age INTEGER);
INSERT INTO members VALUES
    (1, 'Ivy', 21), (2, 'Jay', 34), (3, 'Kai', 19), (4, 'Lea', 45), (5, 'Moe', 28);
CREATE TABLE memberships (
    member_id INTEGER REFERENCES members (member_id),
    club_id INTEGER REFERENCES clubs (club_id),
    joined_year INTEGER,
    PRIMARY KEY (member_id, club_id)
);
INSERT INTO memberships VALUES
    (1, 1, 2019), (2, 1, 2020), (3, 2, 2021), (4, 3, 2018), (5, 3, 2022), (1, 3, 2020);
"""

CLUB_CASES = [
    (
        "For each region, which club has the most members?",
        "SELECT club_name FROM clubs WHERE club_id IN (1, 3)",  # East: Hawks 2, West: Bears 3
    ),
    (
        "What is the average age of members of the club with the most members?",
        "SELECT AVG(m.age) FROM members m JOIN memberships s ON s.member_id = m.member_id "
        "WHERE s.club_id = 3",
    ),
    (
        "How many clubs have fewer than 2 members?",
        "SELECT COUNT(*) FROM clubs WHERE club_id IN (2, 4)",
    ),
]


@pytest.fixture(scope="module")
def club(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "club", CLUB_SCHEMA)


@pytest.mark.parametrize(("question", "gold"), CLUB_CASES)
def test_structures_through_a_link_table(club: SQLiteEngine, question: str, gold: str) -> None:
    nl = prepare_embedded(club, "sqlite")
    answers(nl, club, question, gold)
    on_every_dialect(nl, question, sample_values(club, nl.model, "sqlite"))


@pytest.mark.parametrize("dialect", ENGINE_DIALECTS)
def test_the_translations_run_on_the_other_engines_and_give_as_many_rows(
    nl: RuleTranslator, bakery: SQLiteEngine, values: ValueIndex, dialect: str
) -> None:
    counts = [(question, len(rows(bakery, gold))) for question, gold, _ in CASES]
    same_counts_on(dialect, nl, values, SCHEMA, counts)
