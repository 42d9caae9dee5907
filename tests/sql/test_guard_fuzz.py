"""The guard on text nobody wrote on purpose: arbitrary Unicode (lone surrogates, NUL, bidi
controls, astral characters) and strings glued from SQL fragments, in every dialect. It never
raises; a refusal always names one of the documented reasons and says why in words."""

from __future__ import annotations

import pytest

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from sqlgate.sql.guard import DIALECTS, MAX_SQL_CHARS, Analysis, analyze  # noqa: E402

# The reason codes of sqlgate.sql.guard's docstring, the contract with the API's error codes.
REASONS = {
    "empty",
    "too_long",
    "too_complex",
    "syntax_error",
    "multiple_statements",
    "not_read_only",
    "select_into",
    "locking_clause",
    "executable_comment",
    "ambiguous_syntax",
    "suspicious_character",
    "denied_function",
    "denied_table",
    "column_bypass",
    "session_variable",
    "resource_limit",
}

FRAGMENTS = [
    "SELECT ", "WITH x AS (", ") ", "SELECT * FROM users", " FROM ", "orders", " WHERE ",
    " UNION ALL ", " VALUES (1)", "1", "-1e309", "0x", "'", "''", '"', "`", "[", "]", "(", ")",
    ",", ";", "*", "--", "/*", "*/", "/*!", "/*+ ", "#", "\n", "\r", "\t", "\x00", "\\", "\\'",
    "$$", "$tag$", "$1", ":p", "?", "@", "@@version", "E'", "U&\"", "N'", "X'00'", "::text",
    " INTO x", " FOR UPDATE", "DELETE FROM users", "COPY ", "ATTACH ", "PRAGMA ", "EXPLAIN ",
    "read_csv('/etc/passwd')", "pg_sleep(1)", "load_extension('x')", "COLUMNS(*)", "users.*",
    "information_schema.tables", "sqlite_master", "zeroblob(1e9)", "repeat('x', 9)",
    "\u202e", "\u200b", "\ufeff", "\u00a0", "é", "ß", "\U0001d54a", "\udc80", "\ud800",
]  # fmt: skip

# Every code point, lone surrogates included (st.text leaves them out by default).
ANY_CHAR = st.characters(codec=None, exclude_categories=())
SQLISH = st.lists(st.sampled_from(FRAGMENTS) | st.text(ANY_CHAR, max_size=4), max_size=40).map(
    "".join
)
TEXT = st.text(ANY_CHAR, max_size=400) | SQLISH | st.just("SELECT 1" + " " * MAX_SQL_CHARS)

FUZZ = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _check(analysis: Analysis) -> None:
    assert isinstance(analysis, Analysis)
    if analysis.is_valid:
        assert analysis.reason is None and analysis.error is None
        assert analysis.query_type
    else:
        assert analysis.reason in REASONS, analysis.reason
        assert analysis.error and analysis.error.strip()


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
@FUZZ
@given(sql=TEXT)
def test_the_guard_never_raises_and_always_says_why(dialect: str, sql: str) -> None:
    _check(analyze(sql, dialect))


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
@FUZZ
@given(literal=st.text(ANY_CHAR, max_size=60))
def test_a_literal_of_any_text_is_one_read_only_query_or_a_reason(
    dialect: str, literal: str
) -> None:
    """Arbitrary text inside a string literal: the query around it stays recognisable."""
    quoted = literal.replace("'", "''")
    _check(analyze(f"SELECT '{quoted}' AS x", dialect))
