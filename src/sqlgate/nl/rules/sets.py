"""Set questions: "both A and B" (INTERSECT), "A or B" (UNION), "A but not B" (EXCEPT).

Three shapes, each read from a plan the other steps already made, so every part of the
question is still accounted for by the coverage check:

* two values of one field joined by "and" where one row cannot hold both ("countries with
  *both* enterprise and consumer customers", "documents with paragraphs 'Brazil' and
  'Ireland'"): the same query once per value, intersected;
* a value and a negated value of one field ("countries with enterprise customers *but no*
  consumer customers"): the first query except the second;
* one field asked of two models joined by "and"/"or" ("cities of customers *or* employees",
  "states where *both* owners and professionals live"): the field of each model, intersected
  or united.

Each part lists only the fields asked (or the model's key and label), so rows compare as sets.
Ordered or limited plans, and plans that aggregate, are left to the ordinary path.
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass
from itertools import pairwise

from sqlglot import exp

from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import Filter, Item, Plan, Reading
from sqlgate.nl.text import Token, identifier_words


@dataclass
class SetPlan:
    op: str  # intersect, union, except
    parts: list[Plan]


def values_set(plan: Plan, items: list[Item], tokens: list[Token]) -> SetPlan | None:
    """Shapes one and two, from the ordinary plan of the question; the field that tells the
    parts apart is not listed (each part has its own value)."""
    shaped = _values_set(plan, tokens)
    for part in shaped.parts if shaped else ():
        split = {(f.model, f.name) for f in part.filters if f.kind == "values"}
        columns = [c for c in part.extra_columns if c not in split]
        part.extra_columns = list(dict.fromkeys(columns))
    return shaped


def _values_set(plan: Plan, tokens: list[Token]) -> SetPlan | None:
    if plan.measures or plan.dimensions or plan.order is not None or plan.limit is not None:
        return None
    words = {t.norm for t in tokens}
    values = [f for f in plan.filters if f.kind == "values" and f.model and f.name]
    for f in values:
        if f.negated or len(f.values) < 2 or f.joined != "and":
            continue
        if "both" not in words and f.model.lower() == plan.root.lower():
            continue  # "customers in Berlin and Paris": one row cannot be both; read as a list
        parts = []
        for value in f.values:
            part = deepcopy(plan)
            _same(part, f).values = [value]
            parts.append(part)
        return SetPlan("intersect", parts)
    for first, second in pairwise(values):
        # "both enterprise customers and consumer customers": two filters on one field
        if first.negated or second.negated or second.alternative:
            continue
        if (first.model, first.name) != (second.model, second.name) or first.via != second.via:
            continue  # "from Avon to Brent": one row, each value in its own role
        if "both" not in words and str(first.model).lower() == plan.root.lower():
            continue
        one, other = deepcopy(plan), deepcopy(plan)
        one.filters = [x for x in one.filters if not _is(x, second)]
        other.filters = [x for x in other.filters if not _is(x, first)]
        return SetPlan("intersect", [one, other])
    compares = [f for f in plan.filters if f.kind == "compare" and not f.overall and f.name]
    for first, second in pairwise(compares):
        # "a singer above age 40 and a singer below 30": no one row is both
        if second.alternative or (first.model, first.name) != (second.model, second.name):
            continue
        if _disjoint(first, second):
            one, other = deepcopy(plan), deepcopy(plan)
            one.filters = [x for x in one.filters if not _is(x, second)]
            other.filters = [x for x in other.filters if not _is(x, first)]
            return SetPlan("intersect", [one, other])
    if "but" not in words:
        return None
    for kept in values:
        for dropped in values:
            if kept is dropped or kept.negated or not dropped.negated:
                continue
            if (kept.model, kept.name) != (dropped.model, dropped.name):
                continue
            first, second = deepcopy(plan), deepcopy(plan)
            first.filters = [x for x in first.filters if not _is(x, dropped)]
            second.filters = [x for x in second.filters if not _is(x, kept)]
            _same(second, dropped).negated = False
            return SetPlan("except", [first, second])
    return None


def absence_set(facts: ModelFacts, plan: Plan) -> SetPlan | None:
    """ "the template type codes not used by any document": a value of an attribute is absent
    when no row having it is used, so the attribute's values except those of rows that are
    (not the rows that are not used, whose values other used rows may share)."""
    if not plan.listing or plan.measures or plan.dimensions or not plan.extra_columns:
        return None
    absent = [f for f in plan.filters if f.kind == "absent" and f.negated]
    if len(absent) != 1 or plan.order is not None or plan.limit is not None:
        return None
    model = facts.index.get_model(plan.root)
    if model is None:
        return None
    names = {n.lower() for n in [*model.primary_key, *model.label_columns]}
    for table, column in plan.extra_columns:
        if table.lower() != plan.root.lower() or column.lower() in names:
            return None
    every, used = deepcopy(plan), deepcopy(plan)
    every.filters = [f for f in every.filters if not _is(f, absent[0])]
    _same(used, absent[0]).negated = False
    return SetPlan("except", [every, used])


def models_set(facts: ModelFacts, r: Reading, items: list[Item]) -> SetPlan | None:
    """Shape three: "which cities have customers or employees" (no filter, no measure)."""
    if r.measures or r.dimensions or r.filters or r.order is not None or r.limit is not None:
        return None
    models = [i for i in r.subjects if i.chosen is not None]
    asked = [i for i in r.fields if i.chosen is not None and i.role in (None, "context")]
    if len(models) != 2 or not asked:
        return None
    first, second = models
    between = [i for i in items if first.last < i.first < second.first]
    joiners = {i.text.lower() for i in between if i.kw == "conj"}
    if len(between) != 1 or joiners not in ({"and"}, {"or"}):
        return None
    parts = []
    for model_item in (first, second):
        assert model_item.chosen is not None
        model = model_item.chosen.model
        columns = [_field_of(facts, model, str(i.chosen.name)) for i in asked if i.chosen]
        if any(c is None for c in columns):
            return None
        parts.append(
            Plan(
                root=model,
                measures=[],
                dimensions=[],
                filters=[],
                order=None,
                limit=None,
                listing=True,
                subject=model,
                extra_columns=[(model, c) for c in columns if c],
                only_columns=True,
            )
        )
    for i in asked:
        i.role = "context"
    return SetPlan("intersect" if joiners == {"and"} else "union", parts)


def combine(op: str, trees: list[exp.Select]) -> exp.Expr:
    out: exp.Expr = trees[0]
    for tree in trees[1:]:
        if op == "intersect":
            out = exp.intersect(out, tree, distinct=True)
        elif op == "union":
            out = exp.union(out, tree, distinct=True)
        else:
            out = exp.except_(out, tree, distinct=True)
    return out


def _field_of(facts: ModelFacts, model: str, name: str) -> str | None:
    """The field of ``model`` named like ``name`` (``Country`` and ``country``, ``state``)."""
    m = facts.index.get_model(model)
    wanted = identifier_words(name)
    for column in m.columns if m else ():
        if identifier_words(column.name) == wanted:
            return column.name
    return None


def _disjoint(a: Filter, b: Filter) -> bool:
    """Whether no value satisfies both comparisons (``> 40`` and ``< 30``)."""
    if a.negated or b.negated or len(a.values) != 1 or len(b.values) != 1:
        return False
    try:
        x, y = float(a.values[0]), float(b.values[0])
    except (TypeError, ValueError):
        return False
    for low, high in ((a, b), (b, a)):
        lo, hi = float(low.values[0]), float(high.values[0])
        if low.op in (">", ">=") and high.op in ("<", "<="):
            return lo > hi or (lo == hi and (low.op, high.op) != (">=", "<="))
    return a.op == "=" and b.op == "=" and x != y


def _same(plan: Plan, f: Filter) -> Filter:
    for g in plan.filters:
        if _is(g, f):
            return g
    raise AssertionError("a copied plan lost its filter")  # pragma: no cover


def _is(a: Filter, b: Filter) -> bool:
    return (a.kind, a.model, a.name, a.values, a.negated, a.words) == (
        b.kind,
        b.model,
        b.name,
        b.values,
        b.negated,
        b.words,
    )
