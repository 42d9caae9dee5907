"""Schema retrieval on a large catalog: Spider's 166 schemas merged into one of 876 tables.

Every table is renamed ``<db_id>__<table>`` (so the names stay distinct) and keeps its columns,
types, primary key and foreign keys. For each of the 1,034 dev questions, retrieval sees only the
question (not its ``db_id``) and returns at most ``--max-tables`` tables and a rendered schema text
within ``--budget`` estimated tokens. A question counts as recalled when the retrieved tables
contain every table of its gold SQL (parsed with sqlglot, dialect sqlite, mapped to the prefixed
names) and the schema text still shows them within the budget. Prints recall, the schema text's
size in estimated tokens (mean/median/p95) and the median latency per question; ``--misses N``
lists the first N questions that were not recalled.

    .venv/bin/python bench/nl_retrieval_spider.py [--max-tables 10] [--budget 4000] [--misses 0]

The Spider files are looked up in $SQLGATE_SHARED/data/spider, else in a ``shared/`` folder
beside an ancestor of this checkout, else in /work/shared/data/spider.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import sqlglot
from sqlglot import exp

from sqlgate.nl.retrieval import SchemaIndex
from sqlgate.vocabulary.schema import DatabaseSchema, ForeignKey, SchemaColumn, SchemaTable

SEPARATOR = "__"


def find_spider() -> Path:
    """The folder holding Spider's ``tables.json`` and ``dev.json`` (see the module docstring)."""
    override = os.environ.get("SQLGATE_SHARED")
    if override:
        return Path(override) / "data" / "spider"
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "data" / "spider"
        if (candidate / "tables.json").is_file():
            return candidate
    return Path("/work/shared/data/spider")


def load_catalog(tables_json: Path) -> DatabaseSchema:
    """All Spider schemas as one catalog; table names prefixed with their ``db_id``."""
    tables: list[SchemaTable] = []
    for db in json.loads(tables_json.read_text()):
        db_id = db["db_id"]
        names = db["table_names_original"]
        columns: dict[int, list[SchemaColumn]] = defaultdict(list)
        column_of: dict[int, tuple[int, str]] = {}
        for index, ((table_index, name), type_) in enumerate(
            zip(db["column_names_original"], db["column_types"], strict=True)
        ):
            if table_index < 0:
                continue  # the "*" pseudo-column
            columns[table_index].append(SchemaColumn(name=name, type=type_, nullable=True))
            column_of[index] = (table_index, name)
        primary: dict[int, list[str]] = defaultdict(list)
        for key in db["primary_keys"]:
            for index in key if isinstance(key, list) else [key]:
                table_index, name = column_of[index]
                primary[table_index].append(name)
        links: dict[tuple[int, int], list[tuple[str, str]]] = defaultdict(list)
        for source, target in db["foreign_keys"]:
            (source_table, source_column) = column_of[source]
            (target_table, target_column) = column_of[target]
            links[source_table, target_table].append((source_column, target_column))
        for table_index, name in enumerate(names):
            foreign_keys = tuple(
                ForeignKey(
                    columns=tuple(s for s, _ in pairs),
                    references_schema=None,
                    references_table=f"{db_id}{SEPARATOR}{names[target]}",
                    references_columns=tuple(t for _, t in pairs),
                )
                for (source, target), pairs in links.items()
                if source == table_index
            )
            tables.append(
                SchemaTable(
                    schema=None,
                    name=f"{db_id}{SEPARATOR}{name}",
                    kind="table",
                    columns=tuple(columns[table_index]),
                    primary_key=tuple(primary[table_index]),
                    foreign_keys=foreign_keys,
                )
            )
    return DatabaseSchema(tables=tuple(tables))


@dataclass(frozen=True)
class Question:
    db_id: str
    text: str
    sql: str
    gold: frozenset[str]  # prefixed table names


def gold_tables(sql: str, db_id: str, known: dict[str, str]) -> frozenset[str]:
    """The catalog names of the tables ``sql`` reads (CTE names left out)."""
    tree = sqlglot.parse_one(sql, read="sqlite")
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    found = set()
    for table in tree.find_all(exp.Table):
        name = table.name.lower()
        if name and name not in ctes:
            found.add(known[f"{db_id}{SEPARATOR}{name}".lower()])
    return frozenset(found)


def load_questions(dev_json: Path, catalog: DatabaseSchema) -> list[Question]:
    known = {t.name.lower(): t.name for t in catalog.tables}
    return [
        Question(q["db_id"], q["question"], q["query"], gold_tables(q["query"], q["db_id"], known))
        for q in json.loads(dev_json.read_text())
    ]


@dataclass
class Figures:
    questions: int
    recalled: int
    tokens: list[int]
    latencies_ms: list[float]
    misses: list[tuple[Question, list[str]]]

    @property
    def recall(self) -> float:
        return self.recalled / self.questions


def evaluate(
    index: SchemaIndex, questions: list[Question], *, max_tables: int, budget: int
) -> Figures:
    figures = Figures(len(questions), 0, [], [], [])
    for question in questions:
        started = time.perf_counter()
        result = index.retrieve(question.text, max_tables=max_tables, token_budget=budget)
        figures.latencies_ms.append((time.perf_counter() - started) * 1000)
        figures.tokens.append(result.tokens)
        # A table counts only if its text made it into the budget.
        names = [n for n in result.names if n not in result.omitted]
        if question.gold <= set(names):
            figures.recalled += 1
        else:
            figures.misses.append((question, names))
    return figures


def percentile(values: list[float] | list[int], fraction: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-tables", type=int, default=10)
    parser.add_argument("--budget", type=int, default=4000, help="token budget of the schema text")
    parser.add_argument("--misses", type=int, default=0, help="list this many missed questions")
    args = parser.parse_args()

    spider = find_spider()
    catalog = load_catalog(spider / "tables.json")
    questions = load_questions(spider / "dev.json", catalog)
    started = time.perf_counter()
    index = SchemaIndex(catalog)
    build_ms = (time.perf_counter() - started) * 1000
    figures = evaluate(index, questions, max_tables=args.max_tables, budget=args.budget)

    print(
        f"catalog: {len(catalog.tables)} tables; {len(questions)} questions; "
        f"index built in {build_ms:.0f} ms"
    )
    print()
    print("| measure | value |")
    print("|---|---|")
    print(
        f"| recall@{args.max_tables} (every gold table retrieved) | "
        f"{figures.recall:.1%} ({figures.recalled}/{figures.questions}) |"
    )
    print(
        f"| schema text, mean tokens (budget {args.budget}) | "
        f"{statistics.mean(figures.tokens):.0f} |"
    )
    print(f"| schema text, median tokens | {statistics.median(figures.tokens):.0f} |")
    print(f"| schema text, p95 tokens | {percentile(figures.tokens, 0.95):.0f} |")
    print(f"| latency per question, median | {statistics.median(figures.latencies_ms):.2f} ms |")
    print(f"| latency per question, p95 | {percentile(figures.latencies_ms, 0.95):.2f} ms |")
    for question, names in figures.misses[: args.misses]:
        print()
        print(f"- {question.text}  [{question.db_id}]")
        print(f"  gold: {sorted(question.gold)}")
        print(f"  got:  {names}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
