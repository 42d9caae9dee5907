"""A value negated on rows the asked rows have many of, on a workshop schema of our own (members
borrow tools through a bridge table), draft model only.

"Members who do not have a hammer" are the members with no hammer at all, not the members with
some tool that is not a hammer: the second reading answers with confidence and is wrong for
every member who has both.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl.prepare import prepare_embedded
from sqlgate.nl.rules import RuleTranslator
from tests.nl.conftest import sqlite_engine
from tests.nl.test_coverage import answers, declines

SCHEMA = """
CREATE TABLE members (member_id INTEGER PRIMARY KEY, first_name TEXT, age INTEGER, trade TEXT);
CREATE TABLE tools (tool_id INTEGER PRIMARY KEY, tool_type TEXT, weight REAL);
CREATE TABLE member_tools (
    member_id INTEGER REFERENCES members (member_id),
    tool_id INTEGER REFERENCES tools (tool_id)
);
INSERT INTO members VALUES
    (1, 'Ada', 30, 'joiner'), (2, 'Ben', 41, 'mason'), (3, 'Cy', 25, 'joiner'),
    (4, 'Dee', 52, 'smith');
INSERT INTO tools VALUES
    (1, 'hammer', 1.2), (2, 'saw', 0.8), (3, 'hammer', 2.0), (4, 'chisel', 0.3);
-- Ada: hammer and saw; Ben: saw only; Cy: hammer only; Dee: nothing.
INSERT INTO member_tools VALUES (1, 1), (1, 2), (2, 2), (3, 3);
"""

NO_HAMMER = """
SELECT first_name, age FROM members WHERE member_id NOT IN (
    SELECT mt.member_id FROM member_tools mt JOIN tools t ON t.tool_id = mt.tool_id
    WHERE t.tool_type = 'hammer')
"""


@pytest.fixture(scope="module")
def workshop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "workshop", SCHEMA)


@pytest.fixture(scope="module")
def nl(workshop: SQLiteEngine) -> RuleTranslator:
    return prepare_embedded(workshop, "sqlite")


@pytest.mark.parametrize(
    "question",
    [
        "Find the first name and age of members who do not have a hammer tool.",
        "What are the first names and ages of the members who do not have any hammer?",
    ],
)
def test_not_having_a_value_of_related_rows_means_none_of_them(
    nl: RuleTranslator, workshop: SQLiteEngine, question: str
) -> None:
    # Ben and Dee; not Ada, who has a saw besides her hammer
    answer = answers(nl, workshop, question, NO_HAMMER)
    assert "NOT" in (answer.native_sql or "").upper()
    table = workshop.execute(answer.native_sql or "", None, timeout=10, row_limit=10).table
    assert table.column_names == ["first_name", "age"]  # the fields asked, not every column


def test_a_negated_value_beside_other_reads_of_the_same_rows_declines(nl: RuleTranslator) -> None:
    # the tools are listed and negated at once: no one query says both, so no answer
    declines(nl, "List the members and the weight of their tools that are not a hammer")
