"""One figure of a row's own field over the rows a count of their related rows keeps: "the
average level of people who have more than 1 post" is one number,

    AVG(level) of people WHERE person_id IN
        (SELECT person_id FROM posts GROUP BY person_id HAVING COUNT(*) > 1)

The ordinary plan grouped by each person (an average of one row per person, answering nothing).
Read from that plan (:func:`own_figure_of_kept_rows`) only when the question opens with the
figure ("the average level of ...") and no word asks for groups ("each", "per", "by")."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlglot import exp

from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import Filter, Item, Plan
from sqlgate.nl.rules.sql_terms import column, compare

_FIGURES = ("avg", "sum", "min", "max")
#: Words between the rows named and their count ("bakeries *that have* more than 2 orders").
_BETWEEN = frozenset(("with", "having", "that", "which", "who", "have", "has", "had"))


def own_figure_of_kept_rows(facts: ModelFacts, plan: Plan, items: list[Item]) -> Plan | None:
    """The plan with the grouping by each row made a condition (see above), or None."""
    if len(plan.measures) != 1 or len(plan.dimensions) != 1 or plan.limit is not None:
        return None
    group, measured = plan.dimensions[0], plan.measures[0]
    rows = str(group.model or "")
    if group.kind != "model" or measured.func not in _FIGURES or not measured.name:
        return None
    if measured.model.lower() != rows.lower():
        return None  # a figure of the related rows per row is a question of its own
    havings = [f for f in plan.filters if f.kind == "having" and f.measure is not None]
    if len(havings) != 1 or len(plan.filters) != 1:
        return None
    having = havings[0]
    assert having.measure is not None
    counted = having.measure.model
    if having.measure.func not in ("count", "count_distinct") or counted.lower() == rows.lower():
        return None
    named = model_before_count(items)
    if named is None or named.lower() == rows.lower():
        links = _links(facts, counted, rows)  # "people who have more than 1 post"
        if len(links) != 1:
            return None  # linked in no way or in several: which rows are counted is not said
        link_column, key = links[0].left_columns[0], links[0].right_columns[0]
        through = None
    else:  # "bakers at bakeries with more than 2 orders": the bakeries' orders counted
        counted_up, own = _links(facts, counted, named), _links(facts, rows, named)
        if len(counted_up) != 1 or len(own) != 1 or named.lower() == counted.lower():
            return None
        if counted_up[0].right_columns != own[0].right_columns:
            return None
        link_column, key = counted_up[0].left_columns[0], own[0].left_columns[0]
        through = (named, own[0].right_columns[0])
    first = next((i for i in items if i.kind != "word"), None)
    if first is None or first.kw != "agg" or any(i.kw == "group" for i in items):
        return None
    link = column(counted, link_column)
    counting: exp.Expr = exp.Count(this=exp.Star())
    if having.measure.func == "count_distinct" and having.measure.name:
        of = column(counted, having.measure.name)
        counting = exp.Count(this=exp.Distinct(expressions=[of]))
    query = exp.select(link.copy()).from_(exp.Table(this=exp.to_identifier(counted)))
    if through is not None:  # the bakeries' key, read through the bakeries themselves
        named_key = column(through[0], through[1])
        query = exp.select(named_key.copy()).from_(exp.Table(this=exp.to_identifier(counted)))
        query = query.join(
            exp.Table(this=exp.to_identifier(through[0])),
            on=exp.EQ(this=link.copy(), expression=named_key.copy()),
        )
        link = named_key
    query = (
        query.where(exp.Not(this=exp.Is(this=link.copy(), expression=exp.Null())))
        .group_by(link.copy())
        .having(compare(counting, having.op, having.values))
    )
    words = f"{having.words} {having.measure.words}".strip()
    kept = Filter("compare", rows, key, op="in", overall="groups", words=words)
    kept.figure = query
    return replace(plan, dimensions=[], filters=[kept], order=None)


def _links(facts: ModelFacts, model: str, to: str) -> list[Any]:
    """The to-one links of one column from ``model`` to ``to``."""
    return [
        j
        for j in facts.index.joins.get(model.lower(), ())
        if j.to_one and j.right.lower() == to.lower() and len(j.left_columns) == 1
    ]


def model_before_count(items: list[Item]) -> str | None:
    """The model named right before the first comparison ("*bakeries* with more than 2
    orders"), or None."""
    at = next((k for k, i in enumerate(items) if i.kw == "cmp"), None)
    while at:
        at -= 1
        item = items[at]
        if item.kind == "word" and item.text.lower() in _BETWEEN:
            continue
        chosen = item.chosen if item.kind == "entry" else None
        return str(chosen.model) if chosen is not None and chosen.kind == "model" else None
    return None
