"""Execution accuracy of the embedded (offline) engine on Spider, with draft models and no LLM.

It measures the same path as ``POST /v1/queries`` on a connection with no deployed model and no
LLM configured: :func:`sqlgate.nl.prepare.prepare_embedded` builds the draft semantic model from
the engine's schema and samples its values (what ``SemanticModels.embedded_for`` does for such a
connection), :meth:`RuleTranslator.ask` translates the question (what ``EmbeddedTranslator``
calls for a question without a thread), and the native SQL runs through ``SQLiteEngine.execute``,
the engine's read-only path (the same guard and authorizer as any query). Only the HTTP layer and
the store are left out, so thousands of questions take seconds.

For each of the 19 Spider dev databases in ``db/`` (see ``db/SOURCES.md``) and each dev question
whose gold SQL returns rows, the outcome is

* **right**: the generated SQL ran and its rows equal the gold rows as multisets, after picking
  for every gold column a distinct generated column (extra columns and column order are
  tolerated; floats are compared to 6 significant digits);
* **declined**: the engine answered ``NON_SQL_QUERY``;
* **wrong**: anything else (other rows, or SQL that failed to run).

Results are reported for the development databases (the only ones to look at while working on
the engine) and for the holdout (scored once, at the end) separately, overall and by Spider
hardness (computed from the gold SQL's parse in ``dev.json`` with the rules of Spider's
``evaluation.py``).

    .venv/bin/python bench/nl_spider.py [--split dev|holdout|all] [--db NAME]
        [--misses N] [--show wrong|declined|right] [--json FILE]

The Spider files are looked up as in ``bench/nl_retrieval_spider.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.errors import SqlgateError
from sqlgate.nl.prepare import prepare_embedded

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nl_retrieval_spider import find_spider

DEVELOPMENT = (
    "battle_death",
    "car_1",
    "concert_singer",
    "course_teach",
    "cre_Doc_Template_Mgt",
    "dog_kennels",
    "employee_hire_evaluation",
    "flight_2",
    "museum_visit",
    "network_1",
)
HARDNESS = ("easy", "medium", "hard", "extra")
ROW_LIMIT = 100_000
TIMEOUT = 30.0


# --- Spider's hardness (evaluation.py: count_component1/2, count_others) -----------------------

_LIKE = 9  # WHERE_OPS.index("like")


def _nested(sql: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for cond in sql["from"]["conds"][::2] + sql["where"][::2] + sql["having"][::2]:
        out += [v for v in (cond[3], cond[4]) if isinstance(v, dict)]
    out += [sql[k] for k in ("intersect", "except", "union") if sql[k] is not None]
    return out


def _aggs(units: list[Any]) -> int:
    return sum(1 for u in units if u[0] != 0)


def _component1(sql: dict[str, Any]) -> int:
    count = sum(1 for k in ("where", "groupBy", "orderBy") if sql[k])
    count += sql["limit"] is not None
    count += max(len(sql["from"]["table_units"]) - 1, 0)
    joiners = sql["from"]["conds"][1::2] + sql["where"][1::2] + sql["having"][1::2]
    count += sum(1 for t in joiners if t == "or")
    conds = sql["from"]["conds"][::2] + sql["where"][::2] + sql["having"][::2]
    return count + sum(1 for c in conds if c[1] == _LIKE)


def _others(sql: dict[str, Any]) -> int:
    aggs = _aggs(sql["select"][1]) + _aggs(sql["where"][::2]) + _aggs(sql["groupBy"])
    if sql["orderBy"]:
        units = sql["orderBy"][1]
        aggs += _aggs([u[1] for u in units if u[1]] + [u[2] for u in units if u[2]])
    aggs += _aggs(sql["having"])
    return sum(
        (aggs > 1, len(sql["select"][1]) > 1, len(sql["where"]) > 1, len(sql["groupBy"]) > 1)
    )


def hardness(sql: dict[str, Any]) -> str:
    c1, c2, others = _component1(sql), len(_nested(sql)), _others(sql)
    if c1 <= 1 and others == 0 and c2 == 0:
        return "easy"
    if (others <= 2 and c1 <= 1 and c2 == 0) or (c1 <= 2 and others < 2 and c2 == 0):
        return "medium"
    if (
        (others > 2 and c1 <= 2 and c2 == 0)
        or (2 < c1 <= 3 and others <= 2 and c2 == 0)
        or (c1 <= 1 and others == 0 and c2 <= 1)
    ):
        return "hard"
    return "extra"


# --- comparing results ------------------------------------------------------------------------


def _norm(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        number = float(value)
        if math.isnan(number):
            return "nan"
        return float(f"{number:.6g}")
    if isinstance(value, bytes):
        return value.hex()
    return value


def same_rows(gold: list[tuple[Any, ...]], got: list[tuple[Any, ...]]) -> bool:
    """Equal as multisets of rows, once each gold column is matched to a distinct column of
    ``got`` (extra columns and column order tolerated)."""
    if len(gold) != len(got):
        return False
    if not gold:
        return True
    width, have = len(gold[0]), len(got[0])
    if have < width:
        return False
    gold_n = [tuple(_norm(v) for v in row) for row in gold]
    got_n = [tuple(_norm(v) for v in row) for row in got]
    gold_cols = [Counter(map(repr, col)) for col in zip(*gold_n, strict=True)]
    got_cols = [Counter(map(repr, col)) for col in zip(*got_n, strict=True)]
    candidates = [[k for k in range(have) if got_cols[k] == g] for g in gold_cols]
    target = Counter(map(repr, gold_n))

    def search(j: int, chosen: list[int]) -> bool:
        if j == width:
            return Counter(repr(tuple(r[k] for k in chosen)) for r in got_n) == target
        return any(search(j + 1, [*chosen, k]) for k in candidates[j] if k not in chosen)

    return search(0, [])


# --- running ----------------------------------------------------------------------------------


def _rows(engine: SQLiteEngine, sql: str) -> list[tuple[Any, ...]]:
    result = engine.execute(sql, None, timeout=TIMEOUT, row_limit=ROW_LIMIT)
    columns = [c.to_pylist() for c in result.table.columns]
    return list(zip(*columns, strict=True)) if columns else []


def score_database(folder: Path, db_id: str, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    engine = SQLiteEngine(folder / f"{db_id}.sqlite")
    try:
        nl = prepare_embedded(engine, "sqlite")
        out = []
        for case in cases:
            gold = _rows(engine, case["query"])
            if not gold:
                continue  # empty gold (db/SOURCES.md): nothing to compare with
            started = time.perf_counter()
            answer = nl.ask(case["question"])
            ms = (time.perf_counter() - started) * 1000
            record = {
                "db_id": db_id,
                "question": case["question"],
                "gold": case["query"],
                "hardness": hardness(case["sql"]),
                "ms": ms,
                "sql": answer.native_sql,
                "explanation": answer.explanation,
            }
            if not answer.is_sql:
                record["outcome"] = "declined"
            else:
                try:
                    got = _rows(engine, answer.native_sql or "")
                    record["outcome"] = "right" if same_rows(gold, got) else "wrong"
                except SqlgateError as exc:
                    record["outcome"], record["error"] = "wrong", exc.message
            out.append(record)
        return out
    finally:
        engine.close()


def table(records: list[dict[str, Any]], title: str) -> str:
    lines = [
        f"**{title}** ({len(records)} questions)",
        "",
        "| hardness | n | right | wrong | declined |",
        "|---|---|---|---|---|",
    ]
    groups = [(h, [r for r in records if r["hardness"] == h]) for h in HARDNESS]
    for name, group in [*groups, ("all", records)]:
        n = len(group)
        if not n:
            continue
        counts = Counter(r["outcome"] for r in group)
        cells = [
            f"{counts[o]} ({100 * counts[o] / n:.0f}%)" for o in ("right", "wrong", "declined")
        ]
        lines.append(f"| {name} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("dev", "holdout", "all"), default="dev")
    parser.add_argument("--db", action="append", help="only these databases")
    parser.add_argument("--misses", type=int, default=0, help="list N questions (see --show)")
    parser.add_argument("--show", choices=("wrong", "declined", "right"), default="wrong")
    parser.add_argument("--json", type=Path, help="write every record to this file")
    args = parser.parse_args()
    spider = find_spider()
    folder = spider / "db"
    available = sorted(p.stem for p in folder.glob("*.sqlite"))
    if args.db:
        chosen = args.db
    elif args.split == "dev":
        chosen = list(DEVELOPMENT)
    elif args.split == "holdout":
        chosen = [d for d in available if d not in DEVELOPMENT]
    else:
        chosen = available
    by_db: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for case in json.loads((spider / "dev.json").read_text()):
        if case["db_id"] in chosen:
            by_db[case["db_id"]].append(case)
    records: list[dict[str, Any]] = []
    for db_id in chosen:
        records += score_database(folder, db_id, by_db[db_id])
    dev = [r for r in records if r["db_id"] in DEVELOPMENT]
    holdout = [r for r in records if r["db_id"] not in DEVELOPMENT]
    for group, title in ((dev, "development"), (holdout, "holdout")):
        if group:
            print(table(group, title) + "\n")
    if records:
        print(f"median translation: {statistics.median(r['ms'] for r in records):.2f} ms")
    shown = [r for r in records if r["outcome"] == args.show][: args.misses]
    for r in shown:
        print(f"\n[{r['db_id']} {r['hardness']}] {r['question']}\n  gold: {r['gold']}")
        print(f"  got:  {r['sql'] or r['explanation'][:300]}")
        if r.get("error"):
            print(f"  error: {r['error']}")
    if args.json:
        args.json.write_text(json.dumps(records, indent=1))


if __name__ == "__main__":
    main()
