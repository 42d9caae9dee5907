"""A count said of the rows named between the groups and the count: "which towns have bakeries
with more than 1 baker" are the towns of the bakeries kept by

    bakery_id IN (SELECT bakery FROM bakers GROUP BY bakery HAVING COUNT(*) > 1)

each listed once, not the towns with more than 1 baker in all (a town of two bakeries with one
baker each is not one of them). Read from the plan that grouped the count by town
(:func:`counts_of_named_rows`) only when the model of the groups' field is named right before
the count ("bakeries with", "bakeries that have") and nothing is ranked."""

from __future__ import annotations

from dataclasses import replace

from sqlglot import exp

from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import Filter, Item, Plan
from sqlgate.nl.rules.sql_terms import column, compare

#: Words between the rows named and their count ("bakeries *that have* more than 1 baker").
_BETWEEN = frozenset(("with", "having", "that", "which", "who", "have", "has", "had"))


def counts_of_named_rows(facts: ModelFacts, plan: Plan, items: list[Item]) -> Plan | None:
    """The plan with the count made a condition on the rows named before it, or None."""
    if len(plan.dimensions) != 1 or len(plan.filters) != 1 or plan.limit is not None:
        return None
    group, having = plan.dimensions[0], plan.filters[0]
    rows, field = str(group.model or ""), group.name
    counted = having.measure
    if having.kind != "having" or counted is None or counted.name or plan.order is not None:
        return None
    if counted.func not in ("count", "count_distinct") or counted.model.lower() == rows.lower():
        return None
    asked = plan.measures
    first = next((i for i in items if i.kind != "word"), None)
    kinds = (  # "how many towns have bakeries with ...": the towns kept, counted
        group.kind == "model"
        and len(asked) == 1
        and asked[0].func == "count_distinct"
        and asked[0].model.lower() == rows.lower()
        and first is not None
        and first.kw == "count"
    )
    if kinds:
        field = asked[0].name
    elif group.kind != "field" or any(
        m.func != "count" or m.model.lower() != counted.model.lower() for m in asked
    ):
        return None
    if not field or not _rows_named_before_count(items, rows, field):
        return None
    links = [
        j
        for j in facts.index.joins.get(counted.model.lower(), ())
        if j.to_one and j.right.lower() == rows.lower() and len(j.left_columns) == 1
    ]
    if len(links) != 1 or len(links[0].right_columns) != 1:
        return None  # linked in no way or in several: which rows are counted is not said
    link = column(counted.model, links[0].left_columns[0])
    query = (
        exp.select(link.copy())
        .from_(exp.Table(this=exp.to_identifier(counted.model)))
        .where(exp.Not(this=exp.Is(this=link.copy(), expression=exp.Null())))
        .group_by(link.copy())
        .having(compare(exp.Count(this=exp.Star()), having.op, having.values))
    )
    words = f"{having.words} {counted.words}".strip()
    kept = Filter("compare", rows, links[0].right_columns[0], op="in", overall="groups")
    kept.words, kept.figure = words, query
    if kinds:
        return replace(plan, root=rows, dimensions=[], filters=[kept], subject=rows)
    return replace(
        plan,
        root=rows,
        measures=[],
        dimensions=[],
        filters=[kept],
        listing=True,
        subject=rows,
        extra_columns=[(rows, field)],
        distinct=True,
        only_columns=True,
    )


def _rows_named_before_count(items: list[Item], rows: str, field: str) -> bool:
    """Whether the groups' field is asked first and its model is named after it, right before
    the count ("which *towns* have *bakeries* with more than 1 baker")."""
    asked = named = None
    for k, item in enumerate(items):
        chosen = item.chosen if item.kind == "entry" else None
        if chosen is None:
            continue
        same = str(chosen.model).lower() == rows.lower()
        if asked is None and same and chosen.kind == "field" and str(chosen.name) == field:
            asked = k
        elif asked is not None and named is None and same and chosen.kind == "model":
            named = k
        elif asked is not None and named is None:
            return False  # another model or field comes first
    if asked is None or named is None:
        return False
    after = items[named + 1 :]
    while after and after[0].kind == "word" and after[0].text.lower() in _BETWEEN:
        after = after[1:]
    return bool(after) and after[0].kw == "cmp"
