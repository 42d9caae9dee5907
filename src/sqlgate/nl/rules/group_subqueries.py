"""Subqueries over the rows of a group: the winner of each group (its field equals the
extreme of its own group) and the value the fewest (most) rows have."""

from __future__ import annotations

from sqlglot import exp

from sqlgate.nl.rules.parts import Filter
from sqlgate.nl.rules.sql_terms import column as _col
from sqlgate.nl.rules.sql_terms import ident as _ident


def winner_sql(f: Filter, column: exp.Column) -> exp.Expr:
    """The row's field equals the extreme of the rows of its own group."""
    assert f.model is not None
    assert f.name is not None
    inner = exp.Table(this=_ident(f.model), alias=exp.TableAlias(this=_ident("winners")))
    func = exp.Max if f.overall == "max" else exp.Min
    same = [exp.EQ(this=_col("winners", c), expression=_col(f.model, c)) for c in f.within]
    query = exp.select(func(this=_col("winners", f.name))).from_(inner).where(exp.and_(*same))
    return exp.EQ(this=column, expression=exp.Subquery(this=query))


def rarest_sql(f: Filter, column: exp.Column) -> exp.Expr:
    """The row's field equals the value the fewest (``op`` asc) or most rows of its model
    have; rows without a value are no group."""
    assert f.model is not None
    assert f.name is not None
    inner = exp.Table(this=_ident(f.model), alias=exp.TableAlias(this=_ident("ranked_groups")))
    grouped = _col("ranked_groups", f.name)
    query = (
        exp.select(grouped.copy())
        .from_(inner)
        .where(exp.Not(this=exp.Is(this=grouped.copy(), expression=exp.Null())))
        .group_by(grouped.copy())
        .order_by(exp.Ordered(this=exp.Count(this=exp.Star()), desc=f.op == "desc"))
        .limit(1)
    )
    return exp.EQ(this=column, expression=exp.Subquery(this=query))
