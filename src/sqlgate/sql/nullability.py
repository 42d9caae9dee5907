"""Which result columns can never be NULL, from the query's shape and the catalog.

Conservative by design: a column is reported ``notNull`` only when it is provably non-null (a
NOT NULL base column read through inner joins, ``count(...)``, a non-null literal). Everything
else (outer-joined tables, expressions, subqueries, set operations) is reported nullable.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from sqlgate.vocabulary.schema import Catalog


def not_null_flags(sql: str, dialect: str, catalog: Catalog, names: list[str]) -> list[bool]:
    """One flag per result column in ``names`` (the engine's output names, in order)."""
    unknown = [False] * len(names)
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except SqlglotError:
        return unknown
    if not isinstance(tree, exp.Select) or tree.args.get("with_"):
        return unknown
    sources = _sources(tree, catalog)
    if sources is None:
        return unknown
    flags: list[bool] = []
    for projection in tree.expressions:
        if isinstance(projection, exp.Star) or (
            isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
        ):
            flags.extend(_star(projection, sources))
        else:
            flags.append(_expression_not_null(projection.unalias(), sources))
    return flags if len(flags) == len(names) else unknown


# alias -> (columns of the base table, whether an outer join can make its columns NULL)
_Sources = dict[str, tuple[dict[str, bool], bool]]


def _sources(select: exp.Select, catalog: Catalog) -> _Sources | None:
    from_ = select.args.get("from_")
    if from_ is None:
        return {}
    joins = select.args.get("joins") or []
    sources: _Sources = {}
    for position, node in enumerate([from_.this, *(j.this for j in joins)]):
        if not isinstance(node, exp.Table) or node.args.get("db"):
            return None
        columns = catalog.columns(node.name)
        if columns is None:
            return None
        nullable = False
        if position:
            side = (joins[position - 1].args.get("side") or "").upper()
            nullable = side in ("LEFT", "FULL")
            if side in ("RIGHT", "FULL"):
                sources = {a: (cols, True) for a, (cols, _) in sources.items()}
        sources[node.alias_or_name.lower()] = (
            {name: c.not_null for name, c in columns.items()},
            nullable,
        )
    return sources


def _expression_not_null(node: exp.Expression, sources: _Sources) -> bool:
    if isinstance(node, exp.Count):
        return True
    if isinstance(node, exp.Literal):
        return True
    if isinstance(node, exp.Column):
        name = node.name.lower()
        qualifier = node.table.lower()
        candidates = (
            [sources[qualifier]]
            if qualifier in sources
            else [s for s in sources.values() if name in s[0]]
        )
        if len(candidates) != 1:
            return False
        columns, nullable = candidates[0]
        return not nullable and columns.get(name, False)
    return False


def _star(projection: exp.Expression, sources: _Sources) -> list[bool]:
    star = projection if isinstance(projection, exp.Star) else projection.this
    if star.args.get("except_") or star.args.get("replace") or star.args.get("rename"):
        return [False] * 10_000  # shape unknown: forces the all-unknown answer
    qualifier = projection.table.lower() if isinstance(projection, exp.Column) else ""
    chosen = [sources[qualifier]] if qualifier in sources else list(sources.values())
    return [not nullable and nn for columns, nullable in chosen for nn in columns.values()]
