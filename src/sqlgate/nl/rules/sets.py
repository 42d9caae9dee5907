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
from dataclasses import dataclass, replace
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
    if shaped is None:
        return None
    # "the vans with trips in the years of both 2022 and 2023": not the years
    split = {(f.model, f.name) for f in plan.filters if f.kind == "values"}
    for part in shaped.parts:
        split |= {
            (f.model, f.name) for f in plan.filters if not any(_is(f, g) for g in part.filters)
        }
    for part in shaped.parts:
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
        periods = first.op == second.op == "between"
        if periods and "both" not in words and str(first.model).lower() == plan.root.lower():
            continue  # "trips in 2022 and 2023": of either year (see the planner)
        if _disjoint(first, second):
            one, other = deepcopy(plan), deepcopy(plan)
            one.filters = [x for x in one.filters if not _is(x, second)]
            other.filters = [x for x in other.filters if not _is(x, first)]
            return SetPlan("intersect", [one, other])
    ranges = [f for f in plan.filters if f.kind == "range" and f.name and not f.negated]
    for first, second in pairwise(ranges):
        # "customers with invoices in both 2009 and 2010": two periods no one row is in
        if second.alternative or (first.model, first.name) != (second.model, second.name):
            continue
        if "both" not in words and str(first.model).lower() == plan.root.lower():
            continue
        if periods_apart(first, second):
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
    if r.measures or r.dimensions or r.order is not None or r.limit is not None:
        return None
    if r.filters:
        return _models_except(facts, r, items)
    models = [i for i in r.subjects if i.chosen is not None]
    asked = [i for i in r.fields if i.chosen is not None and i.role in (None, "context")]
    if len(models) != 2 or not asked:
        return None
    first, second = models
    excluded = _but_not(facts, items, second, asked)
    asked = [i for i in asked if i is not excluded]
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
        parts.append(_listing(model, [(model, c) for c in columns if c]))
    for i in asked:
        i.role = "context"
    op = "intersect" if joiners == {"and"} else "union"
    if excluded is not None and excluded.chosen is not None:
        # "towns used for owners or staff but not as region names"
        model, name = excluded.chosen.model, str(excluded.chosen.name)
        parts.append(replace(parts[0], root=model, subject=model, extra_columns=[(model, name)]))
        excluded.role = "context"
        op += "-except"
    return SetPlan(op, parts)


def _models_except(facts: ModelFacts, r: Reading, items: list[Item]) -> SetPlan | None:
    """ "which countries have customers but no employees": the field of the one model except
    the same field of the other (not the rows of one related to none of the other)."""
    absent = r.filters[0]
    words = {i.text.lower() for i in items}
    if len(r.filters) != 1 or absent.kind != "absent" or not absent.negated or "but" not in words:
        return None
    models = [i for i in r.subjects if i.chosen is not None and i.chosen.kind == "model"]
    asked = [i for i in r.fields if i.chosen is not None and i.role in (None, "context")]
    if len(models) != 1 or not asked or models[0].chosen is None:
        return None
    parts = []
    for model in (models[0].chosen.model, str(absent.model)):
        columns = [_field_of(facts, model, str(i.chosen.name)) for i in asked if i.chosen]
        if any(c is None for c in columns):
            return None
        parts.append(_listing(model, [(model, c) for c in columns if c]))
    for i in asked:
        i.role = "context"
    return SetPlan("except", parts)


def _listing(model: str, columns: list[tuple[str, str]]) -> Plan:
    return Plan(
        root=model,
        measures=[],
        dimensions=[],
        filters=[],
        order=None,
        limit=None,
        listing=True,
        subject=model,
        extra_columns=columns,
        only_columns=True,
    )


def _but_not(facts: ModelFacts, items: list[Item], after: Item, asked: list[Item]) -> Item | None:
    """The field after "but not" that the values of the one field asked are taken from
    ("... but are not used as region names"), when it holds the same kind of values."""
    later = [i for i in asked if i.first > after.last]
    if len(later) != 1 or len(asked) != 2 or later[0] is asked[0]:
        return None
    between = [i for i in items if after.last < i.first < later[0].first]
    words = {i.text.lower() for i in between}
    if "but" not in words or not any(i.kw == "neg" for i in between):
        return None
    kinds = set()
    for i in asked:
        assert i.chosen is not None
        kinds.add(facts.lexicon.field(i.chosen.model, str(i.chosen.name)).kind)
    return later[0] if len(kinds) == 1 else None


def describe_set(shaped: SetPlan) -> str:
    """ "the rows of A, intersected with the rows of B": what a set question's query does."""
    words = {"intersect": "intersected with", "union": "together with", "except": "except"}
    names = []
    for part in shaped.parts:
        shown = ", ".join(f"{m}.{c}" for m, c in part.extra_columns) or part.root
        conditions = [f.words for f in part.filters if f.words]
        names.append(shown + (f" ({'; '.join(conditions)})" if conditions else ""))
    op, _, last = shaped.op.partition("-")
    text = f" {words[op]} ".join(names[: len(names) - bool(last)])
    return f"{text} {words[last]} {names[-1]}" if last else text


def combine(op: str, trees: list[exp.Select]) -> exp.Expr:
    """The parts joined by ``op``; "union-except" unites all parts but the last, then takes
    the last away."""
    if op.endswith("-except"):
        return exp.except_(combine(op.split("-")[0], trees[:-1]), trees[-1], distinct=True)
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


def periods_apart(a: Filter, b: Filter) -> bool:
    """Whether two date ranges, or two "between" ranges of numbers, do not overlap."""
    if a.range is not None and b.range is not None:
        (s1, e1), (s2, e2) = (a.range.start, a.range.end), (b.range.start, b.range.end)
        if None in (s1, e1, s2, e2):
            return False
        return bool(e1 <= s2 or e2 <= s1)  # type: ignore[operator]
    return a.op == b.op == "between" and _disjoint(a, b)


def _disjoint(a: Filter, b: Filter) -> bool:
    """Whether no value satisfies both comparisons (``> 40`` and ``< 30``)."""
    if a.negated or b.negated or not a.values or len(a.values) != len(b.values):
        return False
    try:
        x, y = float(a.values[0]), float(b.values[0])
    except (TypeError, ValueError):
        return False
    if a.op == b.op == "between" and len(a.values) == len(b.values) == 2:
        # "in both 2014 and 2015": two periods that do not overlap
        (a0, a1), (b0, b1) = (sorted(float(v) for v in f.values) for f in (a, b))
        return a1 < b0 or b1 < a0
    if len(a.values) != 1:
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
