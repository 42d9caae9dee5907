"""The row with the most related rows in each group: "for each town, which bakery has the most
bakers", "the bakery with the fewest orders in each town".

Read from the ordinary plan (:func:`count_winners`), which counts the related rows per group
and ranks the groups ("per town, the number of bakers"), an answer to another question. The
rows asked for ("which bakery") are counted each, with their group, and ranked within it:

    SELECT ... FROM (SELECT bakery, town, COUNT(*) AS n,
                            RANK() OVER (PARTITION BY town ORDER BY COUNT(*) DESC) AS group_rank
                     FROM bakers JOIN bakeries ... GROUP BY bakery, town) AS ranked
    WHERE group_rank = 1

(:func:`rank_in_groups`); ties keep every row ranked first. Only when the rows asked for are
one model the counted rows are related to, and the group a field of it or of a model it points
to."""

from __future__ import annotations

from dataclasses import replace

from sqlglot import exp

from sqlgate.nl.joins import plan_joins
from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import CannotAnswer, Dimension, Plan, Reading

_RANK = "group_rank"


def count_winners(facts: ModelFacts, r: Reading, plan: Plan) -> Plan | None:
    """The plan that counts per row asked and per group, or None when the question is not of
    this shape."""
    if r.superlative is None or r.superlative[1] is not None or plan.limit is not None:
        return None
    if plan.order is None or plan.order[1] != "measure" or plan.combined:
        return None
    if len(plan.measures) != 1 or len(plan.dimensions) != 1 or plan.subject is None:
        return None
    counted, group, subject = plan.measures[0], plan.dimensions[0], plan.subject
    if counted.func != "count" or counted.model.lower() == subject.lower():
        return None
    if group.kind != "field" or not group.model or not group.name:
        return None
    if plan_joins(facts.index, counted.model, [subject]) is None:
        return None  # counted through a link table too: "which club has the most members"
    if group.model.lower() not in {m.lower() for m in facts.to_one_models(subject)}:
        return None
    asked = [i for i in r.subjects if i.chosen is not None and i.chosen.model == subject]
    if not asked:
        return None
    rows = Dimension("model", subject, words=asked[0].text)
    direction = "most" if plan.order[0] == "desc" else "fewest"
    described = f"the {subject} with the {direction} {counted.model} in each {group.name}"
    return replace(plan, dimensions=[rows, group], combined=described)


def rank_in_groups(tree: exp.Expr, plan: Plan) -> exp.Select:
    """``tree`` (counted per row asked and per group) kept to the rows ranked first in their
    group; raises :class:`CannotAnswer` when its columns are not the ones expected."""
    assert plan.order is not None
    group = plan.dimensions[1]
    if not isinstance(tree, exp.Select):
        raise CannotAnswer("I could not rank the rows within their groups.")
    inner = tree.copy()
    inner.set("order", None)
    counts = [p for p in inner.expressions if isinstance(p, exp.Alias) and p.find(exp.Count)]
    groups = [
        p
        for p in inner.expressions
        if isinstance(p, exp.Alias)
        and isinstance(p.this, exp.Column)
        and p.this.name.lower() == str(group.name).lower()
        and p.this.table.lower() == str(group.model).lower()
    ]
    if len(counts) != 1 or len(groups) != 1:
        raise CannotAnswer("I could not rank the rows within their groups.")
    ordered = exp.Ordered(this=counts[0].this.copy(), desc=plan.order[0] == "desc")
    window = exp.Window(
        this=exp.Anonymous(this="RANK", expressions=[]),
        partition_by=[groups[0].this.copy()],
        order=exp.Order(expressions=[ordered]),
    )
    inner = inner.select(exp.alias_(window, _RANK))
    shown = [exp.column(p.alias) for p in inner.expressions if p.alias != _RANK]
    ranked = exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("ranked")))
    return (
        exp.select(*shown)
        .from_(ranked)
        .where(exp.EQ(this=exp.column(_RANK), expression=exp.Literal.number(1)))
    )
