"""Rows counted in the groups that have more (or fewer) than n rows of another kind: "how many
bakers work at bakeries in towns with more than 1 bakery" is one number, the bakers of the towns
kept by

    bakeries.town IN (SELECT town FROM bakeries GROUP BY town HAVING COUNT(*) > 1)

The ordinary plan grouped the count by town (a count per town, answering another question).
Read from that plan (:func:`groups_with_counts`) only when the question asks for one figure
("how many", "the average wage of") with no word that asks for groups ("each", "per", "by")."""

from __future__ import annotations

from dataclasses import replace

from sqlglot import exp

from sqlgate.nl.rules.parts import Dimension, Filter, Item, Plan
from sqlgate.nl.rules.sql_terms import column, compare


def groups_with_counts(plan: Plan, items: list[Item]) -> Plan | None:
    """The plan with the grouping made a condition (see above), or None."""
    if len(plan.measures) != 1 or len(plan.dimensions) != 1:
        return None
    group, measured = plan.dimensions[0], plan.measures[0]
    kinds = measured.func == "count_distinct" and measured.name and group.kind == "model"
    if kinds and str(group.model).lower() == measured.model.lower():
        # "how many towns have more than 1 bakery": the towns kept, counted
        group = Dimension("field", measured.model, measured.name, words=measured.words)
    havings = [f for f in plan.filters if f.kind == "having" and f.measure is not None]
    if len(havings) != 1 or group.kind != "field" or not group.model or not group.name:
        return None
    having = havings[0]
    assert having.measure is not None
    rows = having.measure.model
    if having.measure.func != "count" or group.model.lower() != rows.lower():
        return None
    if rows.lower() == measured.model.lower() and not kinds and not _rows_in(items, group):
        return None  # "towns with more than 1 bakery" per town: the ordinary HAVING
    if plan.order is not None or plan.limit is not None:
        return None
    first = next((i for i in items if i.kind != "word"), None)
    if first is None or first.kw not in ("count", "agg"):
        return None  # "how many ...", "the average wage of ...": one figure asked
    if any(i.kw == "group" for i in items):
        return None
    grouped = column(group.model, group.name)
    query = (
        exp.select(grouped.copy())
        .from_(exp.Table(this=exp.to_identifier(group.model)))
        .where(exp.Not(this=exp.Is(this=grouped.copy(), expression=exp.Null())))
        .group_by(grouped.copy())
        .having(compare(exp.Count(this=exp.Star()), having.op, having.values))
    )
    words = f"{having.words} {having.measure.words}".strip()
    kept = Filter("compare", group.model, group.name, op="in", overall="groups", words=words)
    kept.figure = query
    filters = [f for f in plan.filters if f is not having] + [kept]
    return replace(plan, dimensions=[], filters=filters)


def _rows_in(items: list[Item], group: Dimension) -> bool:
    """Whether the groups are named after "in" ("the staff of bakeries *in* towns with more than
    1 bakery"): the rows measured are those in the groups kept, not each group."""
    for k, item in enumerate(items):
        chosen = item.chosen
        if k and chosen is not None and (chosen.model, chosen.name) == (group.model, group.name):
            return items[k - 1].text.lower() in ("in", "at", "within")
    return False
