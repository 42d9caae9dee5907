"""Client-side binding of named parameters for the server engines."""

from __future__ import annotations

import pytest

from sqlgate.engines._params import bind_named, placeholders
from sqlgate.errors import ParameterError


def quote(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_colon_names_become_literals(dialect: str) -> None:
    sql = "SELECT * FROM t WHERE a = :a AND b = :b OR a = :a"
    assert bind_named(sql, {"a": 1, "b": "x'y"}, dialect, quote) == (
        "SELECT * FROM t WHERE a = '1' AND b = 'x''y' OR a = '1'"
    )


def test_strings_comments_casts_and_quoted_identifiers_are_left_alone() -> None:
    sql = "SELECT ':a', x::int, \":a\" /* :a */ FROM t WHERE y = :a -- :a\n"
    assert placeholders(sql, "postgres") == [
        (
            len("SELECT ':a', x::int, \":a\" /* :a */ FROM t WHERE y = "),
            len(sql) - len(" -- :a\n"),
            "a",
        )
    ]
    assert bind_named(sql, {"a": 5}, "postgres", quote).count("'5'") == 1


def test_percent_style_is_accepted_too() -> None:
    assert bind_named("SELECT %(n)s", {"n": 2}, "postgres", quote) == "SELECT '2'"


def test_a_placeholder_without_a_value_is_a_parameter_error() -> None:
    with pytest.raises(ParameterError):
        bind_named("SELECT :a, :b", {"a": 1}, "postgres", quote)


def test_no_params_returns_the_text_untouched() -> None:
    sql = "SELECT ':a' AS s, 100 % 7"
    assert bind_named(sql, None, "postgres", quote) is sql
