"""Latency of the embedded NL→SQL engine on a 100-table schema (target: median < 50 ms).

A synthetic DuckDB database of 100 tables (a retail + operations schema: 10 domains of 10
tables, each with keys, foreign keys, dates, numbers and a low-cardinality text column) is
introspected into a draft semantic model, its values are sampled once (like a deployed model),
and then 40 questions are translated 25 times each. Reported: the median and p95 time per
question of ``RuleTranslator.ask`` (words → semantic SQL → native SQL → guard), and, once, the
one-off preparation time (draft + sampling + vocabulary).

    .venv/bin/python bench/nl_embedded_latency.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb

from sqlgate.engines.duckdb import DuckDBEngine
from sqlgate.nl.prepare import prepare_embedded

DOMAINS = ["sales", "store", "staff", "stock", "ship", "pay", "promo", "support", "web", "supplier"]
KINDS = [
    "account",
    "order",
    "item",
    "event",
    "region",
    "product",
    "invoice",
    "visit",
    "ticket",
    "batch",
]
REPEATS = 25


def build(path: Path) -> list[str]:
    con = duckdb.connect(str(path))
    tables = []
    for d in DOMAINS:
        for i, kind in enumerate(KINDS):
            name = f"{d}_{kind}"
            parent = f"{d}_{KINDS[i - 1]}" if i else None
            fk = f", {KINDS[i - 1]}_id INTEGER REFERENCES {parent} (id)" if parent else ""
            con.execute(
                f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, name VARCHAR, status VARCHAR, "
                f"amount DECIMAL(10, 2), quantity INTEGER, created_at TIMESTAMP{fk})"
            )
            extra = ", (r % 50) + 1" if parent else ""
            con.execute(
                f"INSERT INTO {name} SELECT r, '{kind} ' || r, "
                "['open', 'closed', 'pending', 'cancelled'][1 + r % 4], (r * 7 % 1000) / 3.0, "
                f"r % 9, TIMESTAMP '2023-01-01' + INTERVAL (r) HOUR{extra} FROM range(1, 2001) t(r)"
            )
            tables.append(name)
    con.close()
    return tables


QUESTIONS = [
    "How many sales orders are there?",
    "How many sales orders were cancelled?",
    "Total amount of sales invoices by status",
    "Average quantity of stock items per month in 2023",
    "Top 5 store accounts by number of store orders",
    "How many support tickets were opened last month?",
    "What is the highest amount of a pay invoice?",
    "Number of web visits by year",
    "Which promo region has the most promo products?",
    "Show ship batches with an amount over 300",
    "How many staff events are pending?",
    "Sum of supplier invoice amount in 2023 by month",
    "List the 10 largest stock invoices",
    "How many ship orders per ship account?",
    "Average amount of sales items by sales order status",
    "How many closed support tickets this year?",
    "Count web items by status",
    "What is the total quantity of promo items?",
    "Number of pay events per week in March 2023",
    "Which supplier account has the most supplier orders?",
    "How many store visits in Q1 2023?",
    "Minimum amount of staff invoices",
    "Total quantity of ship items by ship region",
    "How many sales events since June 2023?",
    "Sales tickets with quantity at least 5",
    "How many web products are open?",
    "Average amount per stock region",
    "Top 3 pay accounts by total amount of pay orders",
    "Daily count of support visits in the last 7 days",
    "How many promo batches?",
    "What's the weather tomorrow?",
    "Delete all sales orders",
    "How many sales accounts have more than 3 sales orders?",
    "Total amount of store invoices for cancelled store orders",
    "How many supplier items per supplier product?",
    "Largest amount of web tickets",
    "How many staff orders were created in 2023?",
    "Average quantity of ship events by status",
    "Count pay products by pay region",
    "How many stock batches were created last year?",
]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="sqlgate-bench-") as tmp:
        path = Path(tmp) / "wide.duckdb"
        tables = build(path)
        engine = DuckDBEngine(path)
        try:
            started = time.perf_counter()
            nl = prepare_embedded(engine, "duckdb")
            prepare_s = time.perf_counter() - started
            today = date(2023, 12, 15)
            per_question: list[float] = []
            outcomes = {"sql": 0, "non_sql": 0}
            for q in QUESTIONS:
                outcomes[nl.ask(q, today=today).outcome] += 1
                timings = []
                for _ in range(REPEATS):
                    t0 = time.perf_counter()
                    nl.ask(q, today=today)
                    timings.append((time.perf_counter() - t0) * 1000)
                per_question.append(statistics.median(timings))
        finally:
            engine.close()
    ordered = sorted(per_question)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(f"tables: {len(tables)}, models in draft: {len(nl.model.models)}, "
          f"relationships: {len(nl.model.relationships)}")  # fmt: skip
    print(f"prepare (draft + value sampling + vocabulary): {prepare_s:.2f} s")
    print(f"questions: {len(QUESTIONS)} x {REPEATS} runs; answered with SQL: {outcomes['sql']}, "
          f"NON_SQL_QUERY: {outcomes['non_sql']}")  # fmt: skip
    print(f"median per question: {statistics.median(per_question):.2f} ms "
          f"(p95 {p95:.2f} ms, max {ordered[-1]:.2f} ms); target < 50 ms")  # fmt: skip


if __name__ == "__main__":
    main()
