"""Dialects without a deny-list of their own (sqlalchemy connections) get every engine's."""

from __future__ import annotations

import pytest
from tests.conftest import corpus_cases

from sqlgate.sql.guard import analyze

OTHER_DIALECTS = ("tsql", "snowflake", "trino", "")
# Cases whose danger exists only in their own engine's lexing or runtime.
ENGINE_ONLY = {
    # DuckDB's scan of a Python variable; elsewhere an ordinary table name.
    "SELECT * FROM other_tenant_df",
    # PostgreSQL without backslash escapes; Snowflake reads one string literal, as it should.
    "SELECT 'a\\'; DROP TABLE users; --'",
}


@pytest.mark.parametrize("dialect", OTHER_DIALECTS)
def test_every_reject_case_of_every_engine_is_refused(dialect: str) -> None:
    rejects = [
        c
        for c in corpus_cases("any", "duckdb", "sqlite", "postgres", "mysql")
        if c["expect"] == "reject"
    ]
    assert len(rejects) > 100
    allowed = [
        c["sql"]
        for c in rejects
        if analyze(c["sql"], dialect).is_valid and c["sql"] not in ENGINE_ONLY
    ]
    assert allowed == []


@pytest.mark.parametrize("dialect", OTHER_DIALECTS)
def test_portable_allow_cases_run(dialect: str) -> None:
    portable = [c for c in corpus_cases("any") if c["expect"] == "allow"]
    refused = {
        c["sql"]: analyze(c["sql"], dialect).reason
        for c in portable
        if not analyze(c["sql"], dialect).is_valid
    }
    # Engine-specific syntax may not parse elsewhere; refusals must be parse errors, not policy.
    assert {r for r in refused.values()} <= {"syntax_error"}, refused


def test_unknown_dialect_names_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="Unsupported SQL dialect"):
        analyze("SELECT 1", "cobol")
