"""One figure of a row's own field over the rows a count of their related rows keeps: "the
average level of people who have more than 1 post" is one number,

    AVG(level) of people WHERE person_id IN
        (SELECT person_id FROM posts GROUP BY person_id HAVING COUNT(*) > 1)

The ordinary plan grouped by each person (an average of one row per person, answering nothing).
Read from that plan (:func:`own_figure_of_kept_rows`) only when the question opens with the
figure ("the average level of ...") and no word asks for groups ("each", "per", "by")."""

from __future__ import annotations

from dataclasses import replace

from sqlglot import exp

from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import Filter, Item, Plan
from sqlgate.nl.rules.sql_terms import column, compare

_FIGURES = ("avg", "sum", "min", "max")


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
    links = [
        j
        for j in facts.index.joins.get(counted.lower(), ())
        if j.to_one and j.right.lower() == rows.lower() and len(j.left_columns) == 1
    ]
    if len(links) != 1 or len(links[0].right_columns) != 1:
        return None  # linked in no way or in several: which rows are counted is not said
    first = next((i for i in items if i.kind != "word"), None)
    if first is None or first.kw != "agg" or any(i.kw == "group" for i in items):
        return None
    link = column(counted, links[0].left_columns[0])
    counting: exp.Expr = exp.Count(this=exp.Star())
    if having.measure.func == "count_distinct" and having.measure.name:
        of = column(counted, having.measure.name)
        counting = exp.Count(this=exp.Distinct(expressions=[of]))
    query = (
        exp.select(link.copy())
        .from_(exp.Table(this=exp.to_identifier(counted)))
        .where(exp.Not(this=exp.Is(this=link.copy(), expression=exp.Null())))
        .group_by(link.copy())
        .having(compare(counting, having.op, having.values))
    )
    words = f"{having.words} {having.measure.words}".strip()
    key = links[0].right_columns[0]
    kept = Filter("compare", rows, key, op="in", overall="groups", words=words)
    kept.figure = query
    return replace(plan, dimensions=[], filters=[kept], order=None)
