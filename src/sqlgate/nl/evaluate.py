"""Execution accuracy of the embedded engine on the evaluation set (``nl/eval/questions.yaml``).

``python -m sqlgate.nl.evaluate`` builds the demo dataset in a temporary directory, opens the
Chinook SQLite file read-only, asks every question, runs the generated SQL and the gold SQL on
the same engine, and prints a table by category. A question counts as correct when:

* the gold is SQL, the engine produced SQL, and the result sets are equal, where row order is
  ignored, columns may come in any order, the engine may return extra columns, numbers are
  compared with a small tolerance and dates/timestamps as dates (``2024-03-01`` equals
  ``2024-03-01 00:00:00``; a month written ``2024-03`` equals ``2024-03-01``);
* the gold is ``null`` (not answerable with SQL) and the engine answered ``NON_SQL_QUERY``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from sqlgate.engines.base import Engine
from sqlgate.errors import SqlgateError
from sqlgate.nl.prepare import prepare_embedded
from sqlgate.nl.rules import RuleTranslator
from sqlgate.nl.semantic import load_document, parse_semantic_model

_EVAL = resources.files("sqlgate.nl") / "eval"
DIALECTS = {"duckdb": "duckdb", "sqlite": "sqlite"}


@dataclass(frozen=True)
class Question:
    id: str
    dataset: str
    category: str
    question: str
    gold: str | None
    split: str = "dev"


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    type: str
    source: str  # which database: "demo" or "chinook"
    model: str | None  # a model file beside the questions; None: the draft from the schema
    today: date


@dataclass
class Outcome:
    id: str
    dataset: str
    category: str
    question: str
    split: str
    correct: bool
    answered: str  # sql / non_sql / error
    detail: str
    sql: str | None
    ms: float


def load_questions() -> tuple[dict[str, DatasetSpec], list[Question]]:
    data = load_document((_EVAL / "questions.yaml").read_text(encoding="utf-8"), "yaml")
    datasets = {
        name: DatasetSpec(
            name, spec["type"], spec.get("source", name), spec.get("model"), _as_date(spec["today"])
        )
        for name, spec in data["datasets"].items()
    }
    questions = [
        Question(
            q["id"],
            q["dataset"],
            q["category"],
            q["question"],
            q.get("gold"),
            q.get("split", "dev"),
        )
        for q in data["questions"]
    ]
    return datasets, questions


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def find_chinook() -> Path | None:
    """The Chinook SQLite file: $SQLGATE_CHINOOK, else ``shared/data/chinook`` beside an
    ancestor of the working directory or of this package."""
    override = os.environ.get("SQLGATE_CHINOOK")
    if override:
        return Path(override)
    relative = Path("shared/data/chinook/Chinook_Sqlite.sqlite")
    for start in (Path.cwd(), Path(__file__).resolve()):
        for parent in [start, *start.parents]:
            if (parent / relative).is_file():
                return parent / relative
    return None


def open_engines(demo_db: Path, chinook: Path) -> dict[str, Engine]:
    from sqlgate.engines.duckdb import DuckDBEngine
    from sqlgate.engines.sqlite import SQLiteEngine

    return {"demo": DuckDBEngine(demo_db), "chinook": SQLiteEngine(chinook)}


def build_engines(
    datasets: dict[str, DatasetSpec], engines: dict[str, Engine]
) -> dict[str, RuleTranslator]:
    out = {}
    for name, spec in datasets.items():
        if spec.source not in engines:
            continue
        dialect = DIALECTS[spec.type]
        model = None
        if spec.model:
            text = (_EVAL / spec.model).read_text(encoding="utf-8")
            model = parse_semantic_model(text, dialect=dialect)
        out[name] = prepare_embedded(engines[spec.source], dialect, model)
    return out


def evaluate(
    questions: Sequence[Question],
    datasets: dict[str, DatasetSpec],
    engines: dict[str, Engine],
    embedded: dict[str, RuleTranslator],
) -> list[Outcome]:
    outcomes = []
    for q in questions:
        spec = datasets[q.dataset]
        if q.dataset not in embedded:
            continue
        started = time.perf_counter()
        answer = embedded[q.dataset].ask(q.question, today=spec.today)
        ms = (time.perf_counter() - started) * 1000
        if q.gold is None:
            ok = not answer.is_sql
            detail = "" if ok else "expected NON_SQL_QUERY"
            outcomes.append(Outcome(q.id, q.dataset, q.category, q.question, q.split, ok,
                                    answer.outcome, detail, answer.native_sql, ms))  # fmt: skip
            continue
        if not answer.is_sql or answer.native_sql is None:
            outcomes.append(Outcome(q.id, q.dataset, q.category, q.question, q.split, False,
                                    "non_sql", answer.explanation, None, ms))  # fmt: skip
            continue
        engine = engines[spec.source]
        try:
            got = engine.execute(answer.native_sql, None, timeout=60, row_limit=200_000)
        except SqlgateError as exc:
            outcomes.append(Outcome(q.id, q.dataset, q.category, q.question, q.split, False,
                                    "error", exc.message, answer.native_sql, ms))  # fmt: skip
            continue
        gold = engine.execute(q.gold, None, timeout=60, row_limit=200_000)
        ok, detail = same_results(_rows(gold.table), _rows(got.table))
        outcomes.append(Outcome(q.id, q.dataset, q.category, q.question, q.split, ok, "sql", detail,
                                answer.native_sql, ms))  # fmt: skip
    return outcomes


def _rows(table: Any) -> list[tuple[Any, ...]]:
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return list(zip(*columns, strict=True)) if columns else []


# --- comparing result sets ----------------------------------------------------------------------

_ISO_MIDNIGHT = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T]00:00:00(?:\.0+)?$")
_YEAR_MONTH = re.compile(r"^\d{4}-\d{2}$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


def normalize(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float | Decimal):
        return float(value)
    if isinstance(value, datetime):
        if value.hour == value.minute == value.second == value.microsecond == 0:
            return value.date().isoformat()
        return value.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if _NUMBER.match(text):
        return float(text)
    midnight = _ISO_MIDNIGHT.match(text)
    if midnight:
        return midnight.group(1)
    if _YEAR_MONTH.match(text):
        return text + "-01"
    return text


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)
    return bool(a == b)


def _key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, float):
        return (1, float(f"{value:.6g}"))
    return (2, str(value))


def _same_list(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))


def same_results(gold: list[tuple[Any, ...]], got: list[tuple[Any, ...]]) -> tuple[bool, str]:
    """Whether ``got`` holds the gold result (any row order, any column order, extra columns
    allowed), and if not, why."""
    if len(gold) != len(got):
        return False, f"{len(got)} rows instead of {len(gold)}"
    if not gold:
        return True, ""
    g = [[normalize(v) for v in row] for row in gold]
    p = [[normalize(v) for v in row] for row in got]
    width_g, width_p = len(g[0]), len(p[0])
    gold_columns = [sorted((row[j] for row in g), key=_key) for j in range(width_g)]
    got_columns = [sorted((row[k] for row in p), key=_key) for k in range(width_p)]
    candidates = [
        [k for k in range(width_p) if _same_list(gold_columns[j], got_columns[k])]
        for j in range(width_g)
    ]
    for j, found in enumerate(candidates):
        if not found:
            return False, f"no column matches gold column {j + 1} ({gold_columns[j][:3]}...)"
    gold_rows = sorted((tuple(r) for r in g), key=lambda r: [_key(v) for v in r])
    for assignment in _assignments(candidates, set()):
        projected = sorted(
            (tuple(row[k] for k in assignment) for row in p), key=lambda r: [_key(v) for v in r]
        )
        if all(_same_list(list(a), list(b)) for a, b in zip(gold_rows, projected, strict=True)):
            return True, ""
    return False, "columns match one by one but not row by row"


def _assignments(candidates: list[list[int]], used: set[int]) -> Iterator[list[int]]:
    if not candidates:
        yield []
        return
    for k in candidates[0]:
        if k in used:
            continue
        for rest in _assignments(candidates[1:], used | {k}):
            yield [k, *rest]


# --- report -------------------------------------------------------------------------------------


def table(outcomes: Sequence[Outcome]) -> str:
    categories: dict[str, list[Outcome]] = {}
    for o in outcomes:
        categories.setdefault(o.category, []).append(o)
    datasets = sorted({o.dataset for o in outcomes})
    header = ["category", *datasets, "total", "accuracy"]
    rows = []
    for category, group in categories.items():
        cells = [category]
        for d in datasets:
            part = [o for o in group if o.dataset == d]
            cells.append(f"{sum(o.correct for o in part)}/{len(part)}" if part else "-")
        correct = sum(o.correct for o in group)
        cells += [f"{correct}/{len(group)}", f"{100 * correct / len(group):.1f}%"]
        rows.append(cells)
    correct = sum(o.correct for o in outcomes)
    total = [
        "all",
        *(
            f"{sum(o.correct for o in outcomes if o.dataset == d)}/"
            f"{sum(1 for o in outcomes if o.dataset == d)}"
            for d in datasets
        ),
        f"{correct}/{len(outcomes)}",
        f"{100 * correct / max(1, len(outcomes)):.1f}%",
    ]
    rows.append(total)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        lines.append(
            "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
        )
    return "\n".join(lines)


def run(demo_db: Path | None = None, chinook: Path | None = None) -> list[Outcome]:
    """Evaluate on both datasets (building the demo database in a temporary directory)."""
    datasets, questions = load_questions()
    chinook = chinook or find_chinook()
    with tempfile.TemporaryDirectory(prefix="sqlgate-eval-") as tmp:
        if demo_db is None:
            from sqlgate.demo import build_demo_database

            demo_db = Path(tmp) / "demo.duckdb"
            build_demo_database(demo_db)
        if chinook is None:
            raise SystemExit("Chinook not found: set SQLGATE_CHINOOK to Chinook_Sqlite.sqlite")
        engines = open_engines(demo_db, chinook)
        try:
            embedded = build_engines(datasets, engines)
            return evaluate(questions, datasets, engines, embedded)
        finally:
            for engine in engines.values():
                engine.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sqlgate.nl.evaluate",
        description="Execution accuracy of the embedded NL-to-SQL engine, by category.",
    )
    parser.add_argument("--demo-db", type=Path, help="an existing demo DuckDB file")
    parser.add_argument("--chinook", type=Path, help="Chinook_Sqlite.sqlite")
    parser.add_argument("--failures", action="store_true", help="list the wrong answers")
    parser.add_argument("--json", action="store_true", help="every outcome as JSON lines")
    args = parser.parse_args(argv)
    outcomes = run(args.demo_db, args.chinook)
    if args.json:
        for o in outcomes:
            print(json.dumps(asdict(o), default=str))
        return 0
    for split in ("dev", "holdout"):
        part = [o for o in outcomes if o.split == split]
        if part:
            print(f"\n{split} ({len(part)} questions)")
            print(table(part))
    print("\nall")
    print(table(outcomes))
    if args.failures:
        for o in outcomes:
            if not o.correct:
                print(
                    f"\n{o.id} [{o.category}] {o.question}\n  {o.answered}: {o.detail}\n  {o.sql}"
                )
    ms = sorted(o.ms for o in outcomes)
    print(f"\nmedian translation time: {ms[len(ms) // 2]:.2f} ms over {len(ms)} questions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
