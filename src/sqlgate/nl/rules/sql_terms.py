"""The smallest parts of the SQL the rule-based translator writes: identifiers quoted only when
they must be, a model's column, literals and comparisons."""

from __future__ import annotations

import re
from typing import Any

from sqlglot import exp

from sqlgate.nl.expand import quoted_if_needed
from sqlgate.nl.vocabulary import _words


def ident(name: str) -> exp.Identifier:
    return (
        quoted_if_needed(name)
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name)
        else (exp.to_identifier(name, quoted=name.upper() in _RESERVED))
    )


_RESERVED = _words(
    "ORDER GROUP SELECT FROM WHERE TABLE USER YEAR MONTH DAY WEEK QUARTER LIMIT OFFSET KEY "
    "DESC ASC BY TO AS ON IN IS NOT NULL AND OR CASE END ALL ANY"
)


def column(model: str, name: str) -> exp.Column:
    return exp.Column(this=ident(name), table=ident(model))


def literal(value: Any) -> exp.Expr:
    if isinstance(value, exp.Expr):
        return value
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        number = int(value) if float(value).is_integer() else value
        return exp.Literal.number(number)
    return exp.Literal.string(str(value))


def compare(target: exp.Expr, op: str, values: list[Any]) -> exp.Expr:
    if op == "between" and len(values) >= 2:
        low, high = sorted(values[:2])
        return exp.Between(this=target, low=literal(low), high=literal(high))
    value = literal(values[0])
    cls = {">": exp.GT, ">=": exp.GTE, "<": exp.LT, "<=": exp.LTE, "=": exp.EQ, "between": exp.GTE}[
        op
    ]
    return cls(this=target, expression=value)


def none_in(related: exp.Expr, keys: set[str]) -> exp.Expr:
    """``NOT col IN (...)``, or ``(col IS NULL OR NOT col IN (...))`` on a column that may be
    NULL (a reference of the root's, not its key)."""
    col = related.this if isinstance(related, exp.In) else None
    if not isinstance(col, exp.Column) or col.name.lower() in keys:
        return exp.Not(this=related)
    is_null = exp.Is(this=col.copy(), expression=exp.Null())
    return exp.Paren(this=exp.or_(is_null, exp.Not(this=related)))
