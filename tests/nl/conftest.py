"""Fixtures for the natural-language tests: the demo shop and Chinook, with their models."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from sqlgate.demo import build_demo_database
from sqlgate.engines.duckdb import DuckDBEngine
from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl.prepare import prepare_embedded
from sqlgate.nl.rules import RuleTranslator
from sqlgate.nl.semantic import SemanticModel, parse_semantic_model
from sqlgate.nl.values import ValueIndex
from sqlgate.sql.guard import analyze
from tests.conftest import CHINOOK_SQLITE
from tests.mysql_services import fresh_mysql_database
from tests.services import fresh_pg_database

EVAL = resources.files("sqlgate.nl") / "eval"
TODAY = date(2025, 12, 31)


def sqlite_engine(
    tmp_path_factory: pytest.TempPathFactory, name: str, script: str
) -> Iterator[SQLiteEngine]:
    """A SQLite engine on a new file that ``script`` built (a made-up schema and its rows), for
    a fixture to ``yield from``; closed after."""
    path = tmp_path_factory.mktemp(name) / f"{name}.sqlite"
    with sqlite3.connect(path) as con:
        con.executescript(script)
    engine = SQLiteEngine(path)
    yield engine
    engine.close()


#: The dialects the engine targets besides SQLite, on which the tests' questions must translate.
OTHER_DIALECTS = ("duckdb", "postgres", "mysql")


def on_every_dialect(nl: RuleTranslator, question: str, values: ValueIndex) -> None:
    """The question also translates on the other dialects, and its SQL passes the guard."""
    for dialect in OTHER_DIALECTS:
        answer = RuleTranslator(nl.model, dialect, values).ask(question)
        assert answer.is_sql, (dialect, answer.explanation)
        assert analyze(answer.native_sql or "", dialect).is_valid, (dialect, answer.native_sql)


#: ``dialect`` parameters for :func:`same_counts_on`: PostgreSQL's marked as needing its server.
ENGINE_DIALECTS = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres), "mysql"]


def same_counts_on(
    dialect: str,
    nl: RuleTranslator,
    values: ValueIndex,
    schema: str,
    counts: list[tuple[str, int]],
) -> None:
    """Each question of ``counts`` (question, rows of its SQLite answer), translated for
    ``dialect``, runs on a fresh database of that engine holding ``schema`` (SQLite DDL and
    inserts; foreign-key clauses dropped) and gives as many rows."""
    translator = RuleTranslator(nl.model, dialect, values)
    statements = [re.sub(r"REFERENCES \w+ \(\w+\)", "", s) for s in schema.split(";") if s.strip()]

    def check(run: Callable[[str], list[Any]]) -> None:
        for statement in statements:
            run(statement)
        for question, expected in counts:
            answer = translator.ask(question)
            assert answer.is_sql, (question, answer.explanation)
            assert len(run(answer.native_sql or "")) == expected, (question, answer.native_sql)

    if dialect == "duckdb":
        import duckdb

        con = duckdb.connect()
        check(lambda sql: con.execute(sql).fetchall())
    elif dialect == "postgres":
        import psycopg

        with fresh_pg_database() as url, psycopg.connect(url, autocommit=True) as pg:

            def on_pg(sql: str) -> list[Any]:
                cursor = pg.execute(sql)
                return cursor.fetchall() if cursor.description else []

            check(on_pg)
    else:
        with fresh_mysql_database() as db, db.admin() as my, my.cursor() as cursor:

            def run(sql: str) -> list[Any]:
                cursor.execute(sql)
                return list(cursor.fetchall())

            check(run)


def asked_rows(engine: SQLiteEngine, question: str, nl: RuleTranslator) -> list[tuple[Any, ...]]:
    """The rows of the answer to ``question`` (which must be SQL)."""
    answer = nl.ask(question)
    assert answer.is_sql, answer.explanation
    table = engine.execute(answer.native_sql or "", None, timeout=10, row_limit=100).table
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return [tuple(r) for r in zip(*columns, strict=True)]


def eval_model(name: str, dialect: str) -> SemanticModel:
    return parse_semantic_model((EVAL / name).read_text(encoding="utf-8"), dialect=dialect)


@pytest.fixture(scope="session")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("nl-demo") / "demo.duckdb"
    build_demo_database(path, scale=0.2)
    return path


@pytest.fixture(scope="session")
def demo_engine(demo_path: Path) -> Iterator[DuckDBEngine]:
    engine = DuckDBEngine(demo_path)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def chinook_engine() -> Iterator[SQLiteEngine]:
    engine = SQLiteEngine(CHINOOK_SQLITE)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def demo_model() -> SemanticModel:
    return eval_model("demo_model.yaml", "duckdb")


@pytest.fixture(scope="session")
def chinook_model() -> SemanticModel:
    return eval_model("chinook_model.yaml", "sqlite")


@pytest.fixture(scope="session")
def demo_nl(demo_engine: DuckDBEngine, demo_model: SemanticModel) -> RuleTranslator:
    return prepare_embedded(demo_engine, "duckdb", demo_model)


@pytest.fixture(scope="session")
def chinook_nl(chinook_engine: SQLiteEngine, chinook_model: SemanticModel) -> RuleTranslator:
    return prepare_embedded(chinook_engine, "sqlite", chinook_model)


@pytest.fixture(scope="session")
def chinook_draft_nl(chinook_engine: SQLiteEngine) -> RuleTranslator:
    return prepare_embedded(chinook_engine, "sqlite")
