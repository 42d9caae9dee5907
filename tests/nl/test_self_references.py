"""Rows related to rows of their own table, on sailors of our own who each have another sailor as
mentor (``mentor`` points to ``sailors.sailor_id``), with a draft model only. The name in the
question is matched on the row pointed to or on the row that points, never on the rows listed;
the answers run on SQLite and compare rows with hand-written SQL, and translate and pass the SQL
guard on the other dialects."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl.prepare import prepare_embedded, sample_values
from sqlgate.nl.rules import RuleTranslator
from tests.nl.conftest import on_every_dialect, sqlite_engine
from tests.nl.test_coverage import answers

SCHEMA = """
CREATE TABLE sailors (
    sailor_id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT, title TEXT,
    mentor INTEGER REFERENCES sailors (sailor_id)
);
INSERT INTO sailors VALUES
    (1, 'Ida', 'Wren', 'Captain', NULL), (2, 'Olu', 'Marsh', 'Mate', 1),
    (3, 'Pia', 'Stone', 'Mate', 1), (4, 'Rex', 'Vale', 'Deckhand', 2),
    (5, 'Sol', 'Marsh', 'Deckhand', 2), (6, 'Tam', 'Reed', 'Cook', 3);
"""


@pytest.fixture(scope="module")
def crew(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEngine]:
    yield from sqlite_engine(tmp_path_factory, "crew", SCHEMA)


@pytest.fixture(scope="module")
def nl(crew: SQLiteEngine) -> RuleTranslator:
    return prepare_embedded(crew, "sqlite")


CASES = [
    (
        "Which sailors have Olu Marsh as mentor?",
        "SELECT c.first_name, c.last_name FROM sailors c JOIN sailors m ON c.mentor = m.sailor_id "
        "WHERE m.first_name = 'Olu' AND m.last_name = 'Marsh'",
    ),
    (
        "How many sailors have the mentor Ida Wren?",
        "SELECT count(*) FROM sailors c JOIN sailors m ON c.mentor = m.sailor_id "
        "WHERE m.first_name = 'Ida' AND m.last_name = 'Wren'",
    ),
    (
        "Who is Tam Reed's mentor?",
        "SELECT m.first_name, m.last_name FROM sailors c JOIN sailors m ON c.mentor = m.sailor_id "
        "WHERE c.first_name = 'Tam' AND c.last_name = 'Reed'",
    ),
]


@pytest.mark.parametrize(("question", "gold"), CASES)
def test_rows_related_to_rows_of_their_own_table(
    nl: RuleTranslator, crew: SQLiteEngine, question: str, gold: str
) -> None:
    answers(nl, crew, question, gold)
    values = sample_values(crew, nl.model, "sqlite")
    on_every_dialect(nl, question, values)


def test_the_named_row_is_never_the_row_listed(nl: RuleTranslator) -> None:
    """The old confident wrong answer: Olu's own mentor key, for the crew Olu mentors."""
    answer = nl.ask("Which sailors have Olu Marsh as mentor?")
    assert answer.is_sql, answer.explanation
    assert "JOIN sailors AS" in (answer.native_sql or ""), answer.native_sql


def test_a_person_table_is_labelled_by_names_not_job_title(nl: RuleTranslator) -> None:
    model = nl.model.models[0]
    assert [c.lower() for c in model.label_columns] == ["first_name", "last_name"]
