"""Rows paired with rows of their own model through a link model: "the names of Ada's partners",
"the partners of the grower Ada" where the link (``partners``) has two relationships to the
students. The row named by a value is on the link's own side (the first column of its primary
key, as :mod:`.role_joins` takes it); the rows asked are on the other side:

    SELECT p.name FROM p JOIN link ON link.other_id = p.id
    WHERE link.own_id IN (SELECT p.id FROM p WHERE p.name = 'Ada')

Only when the value sits right beside the link's word ("Ada's partners", "partners of Ada"), the
question lists fields of the paired model and says nothing else; any other question is left to
the other readings."""

from __future__ import annotations

from sqlglot import exp

from sqlgate.nl.joins import JoinPlan
from sqlgate.nl.rules.building import condition_sql
from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import Filter, Item, Plan, Reading
from sqlgate.nl.rules.role_joins import _own_side
from sqlgate.nl.rules.sql_terms import column as _col
from sqlgate.nl.rules.sql_terms import ident as _ident
from sqlgate.nl.semantic import Join
from sqlgate.nl.vocabulary import STOPWORDS

#: Words allowed between the link's word and the value: "partners of the grower Ada".
_BETWEEN = frozenset({"of", "the", "a", "an", "s", "'s"})


def paired_rows(
    facts: ModelFacts, r: Reading, items: list[Item]
) -> tuple[Plan, exp.Expr, JoinPlan] | None:
    """The plan, semantic SQL and joins of a question asking for paired rows, else None."""
    if r.measures or r.dimensions or r.order is not None or r.limit is not None:
        return None
    if r.superlative is not None or r.pending_agg is not None:
        return None
    links = [i for i in items if i.kind == "entry" and i.chosen and i.chosen.kind == "model"]
    found = None
    for link in links:
        assert link.chosen is not None
        ways = _two_ways(facts, link.chosen.model)
        if ways is not None:
            if found is not None:
                return None
            found = link, ways
    if found is None:
        return None
    link, (target, own, other) = found
    filters = r.filters
    if not filters or any(
        f.kind != "values" or f.negated or f.alternative or str(f.model).lower() != target.lower()
        for f in filters
    ):
        return None
    values = [i for i in items if i.role == "filter" and i.chosen and i.chosen.kind == "value"]
    if len(values) != 1 or not _beside(items, link, values[0]):
        return None
    asked = [
        (i.chosen.model, str(i.chosen.name))
        for i in items
        if i.kind == "entry" and i.chosen and i.chosen.kind == "field" and i.role != "filter"
    ]
    if not asked or any(m.lower() != target.lower() for m, _ in asked):
        return None
    assert link.chosen is not None
    link_model = link.chosen.model
    if not _nothing_else(items, {target.lower(), link_model.lower()}):
        return None
    tree = _paired_sql(facts, target, link_model, (own, other), filters, asked)
    if tree is None:
        return None
    if any(i.kw == "distinct" for i in items):
        tree = tree.distinct()
    link.role = "subject"
    plan = Plan(
        root=target,
        measures=[],
        dimensions=[],
        filters=[Filter("paired", link_model, other.left_columns[0], words=_described(filters))],
        order=None,
        limit=None,
        listing=True,
        subject=target,
        extra_columns=list(dict.fromkeys(asked)),
        only_columns=True,
    )
    return plan, tree, JoinPlan(target, (_reverse(other),))


def _nothing_else(items: list[Item], models: set[str]) -> bool:
    """Whether the question says nothing beyond a listing of the paired rows: no other word,
    keyword or model than the paired model and the link."""
    for i in items:
        if i.kind in ("word", "quoted") and i.text.lower() not in STOPWORDS | _BETWEEN:
            return False
        if i.kind not in ("entry", "kw", "word"):
            return False
        if i.kind == "kw" and i.kw not in ("list", "distinct", "conj"):
            return False
        named = i.chosen if i.kind == "entry" else None
        if named and named.kind == "model" and named.model.lower() not in models:
            return False
    return True


def _paired_sql(
    facts: ModelFacts,
    target: str,
    link: str,
    sides: tuple[Join, Join],
    filters: list[Filter],
    asked: list[tuple[str, str]],
) -> exp.Select | None:
    """SELECT the asked fields of the rows on the link's other side from the rows that
    ``filters`` pick on its own side."""
    own, other = sides
    model = facts.index.get_model(target)
    if model is None or len(model.primary_key) != 1:
        return None
    key = model.primary_key[0]
    inner = exp.select(_col(target, key)).from_(exp.Table(this=_ident(target)))
    for f in filters:
        condition = condition_sql(facts.index, f, False)
        if condition is None:
            return None
        inner = inner.where(condition)
    on = exp.EQ(this=_col(link, other.left_columns[0]), expression=_col(target, key))
    mine = exp.In(this=_col(link, own.left_columns[0]), query=exp.Subquery(this=inner))
    return (
        exp.select(*(_col(m, n) for m, n in dict.fromkeys(asked)))
        .from_(exp.Table(this=_ident(target)))
        .join(exp.Table(this=_ident(link)), on=on)
        .where(mine)
    )


def _two_ways(facts: ModelFacts, link: str) -> tuple[str, Join, Join] | None:
    """(the paired model, the own side, the other side) when ``link`` has exactly two
    one-column relationships to one other model, else None."""
    ways: dict[str, list[Join]] = {}
    for j in facts.index.joins.get(link.lower(), ()):
        if j.to_one and len(j.left_columns) == 1 and j.right.lower() != link.lower():
            ways.setdefault(j.right, [])
            if all(j.left_columns != w.left_columns for w in ways[j.right]):
                ways[j.right].append(j)
    pairs = [(target, js) for target, js in ways.items() if len(js) == 2]
    if len(pairs) != 1 or len(ways) != 1:
        return None
    target, js = pairs[0]
    own = _own_side(facts.index, js)
    other = js[1] if own is js[0] else js[0]
    return target, own, other


def _beside(items: list[Item], link: Item, value: Item) -> bool:
    """ "Ada's partners" or "partners of (the grower) Ada": only small words, and the paired
    model's own name, between the value and the link's word."""
    a, b = sorted((items.index(link), items.index(value)))
    for i in items[a + 1 : b]:
        if i.kind == "word" and i.text.lower() in _BETWEEN:
            continue
        if (
            i.kind == "entry"
            and i.chosen
            and i.chosen.kind == "model"
            and i.chosen is not link.chosen
        ):
            continue
        return False
    return True


def _described(filters: list[Filter]) -> str:
    return " and ".join(
        f"{f.model}.{f.name} = {f.values[0]!r}"
        if len(f.values) == 1
        else f"{f.model}.{f.name} in ({', '.join(repr(v) for v in f.values)})"
        for f in filters
    )


def _reverse(j: Join) -> Join:
    return Join(j.right, j.left, j.right_columns, j.left_columns, False)
