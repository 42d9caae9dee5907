"""The fields a question names are the fields it is answered with, on a volunteering schema of
our own (volunteers take shifts through a bridge table), draft model only.

"The nickname and age of volunteers who ..." shows those two columns, not every column of the
table, whatever the rows are filtered by: a value, a negated value of related rows, the absence
of related rows. "The ids of ..." shows the key. The key comes along when rows are made
distinct across a join, so that two volunteers of one nickname stay two rows. Every answer runs
on SQLite and is compared with hand-written SQL; the same questions translate and pass the SQL
guard on the other dialects the engine targets.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl.prepare import prepare_embedded, sample_values
from sqlgate.nl.rules import RuleTranslator
from sqlgate.nl.values import ValueIndex
from tests.nl.conftest import on_every_dialect, sqlite_engine
from tests.nl.test_coverage import answers

SCHEMA = """
CREATE TABLE volunteers (
    volunteer_id INTEGER PRIMARY KEY, nickname TEXT, age INTEGER, district TEXT
);
CREATE TABLE shifts (shift_id INTEGER PRIMARY KEY, task TEXT, hours REAL);
CREATE TABLE volunteer_shifts (
    volunteer_id INTEGER REFERENCES volunteers (volunteer_id),
    shift_id INTEGER REFERENCES shifts (shift_id)
);
INSERT INTO volunteers VALUES
    (1, 'Pip', 34, 'east'), (2, 'Quin', 19, 'west'), (3, 'Pip', 61, 'east'),
    (4, 'Rue', 45, 'north');
INSERT INTO shifts VALUES (1, 'kitchen', 3.0), (2, 'garden', 2.0), (3, 'kitchen', 4.5);
-- volunteer 1: both kitchen shifts; 2: the garden; 3 (another Pip): a kitchen shift; 4: none
INSERT INTO volunteer_shifts VALUES (1, 1), (1, 3), (2, 2), (3, 3);
"""

KITCHEN = "SELECT vs.volunteer_id FROM volunteer_shifts vs JOIN shifts s USING (shift_id) "
KITCHEN += "WHERE s.task = 'kitchen'"

CASES = [
    # a negated value of related rows: no join, so no key is needed
    (
        "Find the nickname and age of volunteers who do not have a kitchen shift.",
        ["nickname", "age"],
        f"SELECT nickname, age FROM volunteers WHERE volunteer_id NOT IN ({KITCHEN})",
    ),
    # across the bridge table: distinct volunteers, kept apart by their key (two are 'Pip')
    (
        "Find the nickname and age of volunteers who have a kitchen shift.",
        ["volunteer_id", "nickname", "age"],
        f"SELECT volunteer_id, nickname, age FROM volunteers WHERE volunteer_id IN ({KITCHEN})",
    ),
    # "the ids of": the key, whatever the rows are filtered by
    (
        "What are the ids of the volunteers who have a kitchen shift?",
        ["volunteer_id"],
        f"SELECT volunteer_id FROM volunteers WHERE volunteer_id IN ({KITCHEN})",
    ),
    (
        "What are the ids of volunteers without any shifts?",
        ["volunteer_id"],
        "SELECT volunteer_id FROM volunteers "
        "WHERE volunteer_id NOT IN (SELECT volunteer_id FROM volunteer_shifts)",
    ),
    (
        "What are the ids and nicknames of the volunteers who do not have a garden shift?",
        ["volunteer_id", "nickname"],
        "SELECT volunteer_id, nickname FROM volunteers WHERE volunteer_id NOT IN ("
        "SELECT vs.volunteer_id FROM volunteer_shifts vs JOIN shifts s USING (shift_id) "
        "WHERE s.task = 'garden')",
    ),
    # a compared field is not asked; the field sorted by is shown after the ones asked
    (
        "What are the nicknames of volunteers older than 30?",
        ["nickname"],
        "SELECT nickname FROM volunteers WHERE age > 30",
    ),
    (
        "List the nicknames of volunteers ordered by age.",
        ["nickname", "age"],
        "SELECT nickname, age FROM volunteers ORDER BY age",
    ),
    # a field fixed by a value is how the rows are picked, not what is asked: the whole row
    (
        "Which volunteer has nickname 'Rue'?",
        ["volunteer_id", "nickname", "age", "district"],
        "SELECT * FROM volunteers WHERE nickname = 'Rue'",
    ),
    # "the details": every column
    (
        "Show the details of volunteers older than 30.",
        ["volunteer_id", "nickname", "age", "district"],
        "SELECT * FROM volunteers WHERE age > 30",
    ),
]


@pytest.fixture(scope="module")
def club(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "club", SCHEMA)


@pytest.fixture(scope="module")
def nl(club: SQLiteEngine) -> RuleTranslator:
    return prepare_embedded(club, "sqlite")  # the draft model, as a new connection gets


@pytest.fixture(scope="module")
def values(club: SQLiteEngine, nl: RuleTranslator) -> ValueIndex:
    return sample_values(club, nl.model, "sqlite")


@pytest.mark.parametrize(("question", "columns", "gold"), CASES)
def test_the_fields_asked_are_the_columns_shown(
    nl: RuleTranslator,
    club: SQLiteEngine,
    values: ValueIndex,
    question: str,
    columns: list[str],
    gold: str,
) -> None:
    answer = answers(nl, club, question, gold)
    table = club.execute(answer.native_sql or "", None, timeout=10, row_limit=100).table
    assert table.column_names == columns, answer.native_sql
    on_every_dialect(nl, question, values)
