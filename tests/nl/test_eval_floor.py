"""The evaluation set holds its floor: the embedded engine must keep at least 85% execution
accuracy in every category (the table in docs/nl.md comes from the same run)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal

import pytest

from sqlgate.nl.evaluate import load_questions, run, same_results
from tests.conftest import CHINOOK_SQLITE

FLOOR = 0.85
#: Categories of question shapes added later (sets, overall figures, HAVING on aggregates,
#: absence, the row with the extreme value; then rows of their own table, running totals,
#: change from the previous period, shares, averages per group): written before the engine
#: read them.
NEW_FLOOR = 0.70
NEW_CATEGORIES = {
    *("set_ops", "overall", "having", "absence", "argmax"),
    *("self_join", "running_total", "period_change", "share", "per_group_average"),
}


def test_the_set_is_big_enough_and_well_formed() -> None:
    datasets, questions = load_questions()
    sql_questions = [q for q in questions if q.gold]
    assert len(sql_questions) >= 80
    assert sum(1 for q in questions if q.gold is None) >= 10
    assert len({q.id for q in questions}) == len(questions)
    assert {q.dataset for q in questions} <= set(datasets)


def test_embedded_engine_accuracy_floor() -> None:
    outcomes = run(chinook=CHINOOK_SQLITE)
    _, questions = load_questions()
    assert len(outcomes) == len(questions)
    by_category: dict[str, list[bool]] = defaultdict(list)
    for o in outcomes:
        by_category[o.category].append(o.correct)
    failures = [f"{o.id}: {o.question} -> {o.detail}" for o in outcomes if not o.correct]
    for category, results in by_category.items():
        accuracy = sum(results) / len(results)
        floor = NEW_FLOOR if category in NEW_CATEGORIES else FLOOR
        assert accuracy >= floor, (category, accuracy, failures)
    assert sum(o.correct for o in outcomes) / len(outcomes) >= FLOOR


@pytest.mark.parametrize(
    ("gold", "got", "ok"),
    [
        ([(1, "a")], [("a", 1)], True),  # column order
        ([(1,)], [(7, 1.0, "x")], True),  # extra columns, int vs float
        ([(Decimal("2.50"),)], [(2.5000000001,)], True),
        ([(date(2024, 3, 1), 5)], [("2024-03-01 00:00:00", 5)], True),
        ([("2024-03", 5)], [(datetime(2024, 3, 1), 5)], True),
        ([("2023", 1)], [(2023, 1)], True),
        ([(1, "a"), (2, "b")], [(2, "a"), (1, "b")], False),  # columns match, rows do not
        ([(1,)], [(1,), (1,)], False),
        ([(1,)], [(2,)], False),
        ([], [], True),
    ],
)
def test_result_comparison(
    gold: list[tuple[object, ...]], got: list[tuple[object, ...]], ok: bool
) -> None:
    assert same_results(gold, got)[0] is ok
