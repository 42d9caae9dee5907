"""Schema retrieval holds its recall on Spider's 166 schemas merged into one 876-table catalog.

For each of the 1,034 dev questions (the question only, not its database), the 10 retrieved
tables must contain every table its gold SQL reads, for at least 90% of questions
(``bench/nl_retrieval_spider.py`` prints the full figures).
"""

from __future__ import annotations

import os

import pytest
from bench.nl_retrieval_spider import evaluate, load_catalog, load_questions

from sqlgate.nl.retrieval import SchemaIndex
from tests.conftest import SHARED

SPIDER = SHARED / "data" / "spider"
RECALL_FLOOR = 0.90
BUDGET = 4000


def test_recall_at_10_on_the_merged_spider_catalog() -> None:
    if not (SPIDER / "tables.json").is_file() or not (SPIDER / "dev.json").is_file():
        if os.environ.get("SQLGATE_REQUIRE_SERVICES") == "1":
            pytest.fail(f"Spider files missing under {SPIDER}")
        pytest.skip(f"Spider files missing under {SPIDER}")
    catalog = load_catalog(SPIDER / "tables.json")
    questions = load_questions(SPIDER / "dev.json", catalog)
    assert len(catalog.tables) == 876
    assert len(questions) == 1034

    figures = evaluate(SchemaIndex(catalog), questions, max_tables=10, budget=BUDGET)

    assert figures.recall >= RECALL_FLOOR, (
        f"recall@10 {figures.recall:.1%} is under {RECALL_FLOOR:.0%}; first misses: "
        + "; ".join(f"{q.text!r} needs {sorted(q.gold)}" for q, _ in figures.misses[:5])
    )
    assert max(figures.tokens) <= BUDGET
