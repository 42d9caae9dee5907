"""What a deployed semantic model buys: the same Chinook questions on the draft model a fresh
connection gets, and on the worked model ``src/sqlgate/nl/eval/chinook_model.yaml``.

Every question of the evaluation set (``src/sqlgate/nl/eval/questions.yaml``) written for the
``chinook`` dataset (the worked model) is asked again of the ``chinook_draft`` engine (the same
database with only the draft derived from its schema). Scored by execution like
``python -m sqlgate.nl.evaluate``: right, wrong (answered, other rows or an error) and declined
(``NON_SQL_QUERY`` where an answer was expected), for the questions with gold SQL; the
questions whose right answer is ``NON_SQL_QUERY`` are counted apart.

    .venv/bin/python bench/nl_model_buys.py
"""

from __future__ import annotations

import sys
from dataclasses import replace

from sqlgate.engines.base import Engine
from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl.evaluate import build_engines, evaluate, find_chinook, load_questions


def main() -> int:
    datasets, questions = load_questions()
    chinook = find_chinook()
    if chinook is None:
        raise SystemExit("Chinook not found: set SQLGATE_CHINOOK to Chinook_Sqlite.sqlite")
    asked = [q for q in questions if q.dataset == "chinook" and q.gold]
    wanted = {name: spec for name, spec in datasets.items() if spec.source == "chinook"}
    engines: dict[str, Engine] = {"chinook": SQLiteEngine(chinook)}
    try:
        embedded = build_engines(wanted, engines)
        rows = []
        for dataset in ("chinook_draft", "chinook"):
            outcomes = evaluate(
                [replace(q, dataset=dataset) for q in asked], wanted, engines, embedded
            )
            right = sum(o.correct for o in outcomes)
            declined = sum(1 for o in outcomes if o.answered == "non_sql")
            wrong = len(outcomes) - right - declined
            rows.append((dataset, len(outcomes), right, wrong, declined))
    finally:
        for engine in engines.values():
            engine.close()
    print(f"Chinook questions with gold SQL: {len(asked)}")
    print("| model | right | wrong | declined |")
    print("|---|---|---|---|")
    for dataset, n, right, wrong, declined in rows:
        label = "draft (fresh connection)" if dataset == "chinook_draft" else "worked model"
        print(
            f"| {label} | {right} ({right / n:.0%}) | {wrong} ({wrong / n:.0%}) "
            f"| {declined} ({declined / n:.0%}) |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
