"""What the optional sentence-embedding model (the ``embeddings`` extra) costs the embedded engine.

On the 100-table schema of ``bench/nl_embedded_latency.py``, in one fresh process: the memory
(RSS) and time of preparing the engine and whether the model is loaded by then (it must not be),
a question whose words all link (it must not load the model), the model's loading on its first
use, the first question with a word nothing else links (the schema's names are embedded), a
second one with another such word (one word embedded), and the same question again (cached).

    SQLGATE_NL_EMBEDDINGS=on .venv/bin/python bench/nl_embeddings_cost.py

Needs the extra (``pip install 'sqlgate[embeddings]'``, PyTorch's CPU build first), psutil, and
``SQLGATE_NL_EMBEDDINGS=on``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import psutil

from sqlgate.engines.duckdb import DuckDBEngine
from sqlgate.nl import embeddings
from sqlgate.nl.prepare import prepare_embedded

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nl_embedded_latency import build

TODAY = date(2023, 12, 15)
LINKED = "How many sales orders were cancelled?"
UNKNOWN = "Show the name and state of every sales account."
OTHER = "Show the name and phase of every store order."


def _mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


def _timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    out = call()
    return out, (time.perf_counter() - started) * 1000


def main() -> None:
    if not embeddings.enabled():
        raise SystemExit("needs the embeddings extra and SQLGATE_NL_EMBEDDINGS=on")
    with tempfile.TemporaryDirectory(prefix="sqlgate-bench-") as tmp:
        path = Path(tmp) / "wide.duckdb"
        build(path)
        engine = DuckDBEngine(path)
        try:
            at_start = _mb()
            nl, prepare_ms = _timed(lambda: prepare_embedded(engine, "duckdb"))
            print(f"prepare: {prepare_ms:.0f} ms; RSS {_mb():.0f} MB "
                  f"(+{_mb() - at_start:.0f}); model loaded: {embeddings.loaded()}")  # fmt: skip
            _, ms = _timed(lambda: nl.ask(LINKED, today=TODAY))
            print(f"a question whose words all link: {ms:.1f} ms; model loaded: "
                  f"{embeddings.loaded()}")  # fmt: skip
            before = _mb()
            _, load_ms = _timed(lambda: embeddings.encode(["warm up"]))
            print(f"loading the model (first use): {load_ms:.0f} ms; RSS +{_mb() - before:.0f} MB")
            for label, question in (
                ("first unknown word (schema's names embedded)", UNKNOWN),
                ("another unknown word (one word embedded)", OTHER),
                ("the same question again (cached)", OTHER),
            ):
                answer, ms = _timed(lambda q=question: nl.ask(q, today=TODAY))  # type: ignore[misc]
                print(f"{label}: {ms:.1f} ms ({answer.outcome})")
            print(f"RSS at the end: {_mb():.0f} MB (+{_mb() - at_start:.0f} since the start)")
        finally:
            engine.close()


if __name__ == "__main__":
    main()
