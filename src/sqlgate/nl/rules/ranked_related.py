"""Rows of the one related row another count ranks first: "the average wage of bakers at the
bakery with the most orders", "the names of bakers at the bakery with the fewest orders".

The rows asked for (bakers) are those of the bakery ranked first by its count of orders; the
ordinary reading counted orders per bakery instead, and listed every bakery. Read before the
roles (:func:`ranked_related_row`): "<rows> with the most|fewest <counted rows>", where the
counted rows and the rows asked for, named before, are each related to that model, is kept from the
roles, and becomes the condition (:func:`ranked_row_filter`)

    bakeries.bakery_id = (SELECT orders.bakery FROM orders GROUP BY orders.bakery
                          ORDER BY COUNT(*) DESC LIMIT 1)

(one row, as "the bakery with the most orders" lists one; through a link table when the rows
are related through one, "the members of the club with the most members")."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from sqlgate.nl.joins import JoinPlan, plan_joins
from sqlgate.nl.rules.building import keys_along
from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import Filter, Item

_COUNT_WORDS = frozenset({"most", "the most", "fewest", "the fewest", "least", "the least"})


@dataclass(frozen=True)
class RankedRow:
    """The model ranked (its key), the rows counted (and their way to it), the order."""

    model: str
    key: str
    counted: str
    path: JoinPlan
    desc: bool
    words: str
    said: tuple[Item, ...]


def ranked_related_row(facts: ModelFacts, items: list[Item]) -> RankedRow | None:
    """The pattern above, or None."""
    for k, item in enumerate(items[:-3]):
        ranked = _model(item)
        if ranked is None or items[k + 1].text.lower() != "with":
            continue
        j = k + 2
        if items[j].kind == "word" and items[j].text.lower() == "the":
            j += 1
        if j + 1 >= len(items) or items[j].kw != "sup" or items[j].text.lower() not in _COUNT_WORDS:
            continue
        counted = _model(items[j + 1])
        if counted is None or counted.lower() == ranked.lower():
            continue
        asked = [i.chosen.model for i in items[:k] if i.kind == "entry" and i.chosen is not None]
        asked_models = {a.lower() for a in asked} - {ranked.lower()}
        if not asked_models or not all(_related(facts, a, ranked) for a in asked_models):
            continue
        path = plan_joins(facts.index, counted, [ranked])
        last = path.steps[-1] if path is not None and path.steps else None
        if path is None or last is None or last.right.lower() != ranked.lower():
            continue
        if len(last.left_columns) != 1 or len(last.right_columns) != 1:
            continue
        said = tuple(items[k + 1 : j + 2])
        desc = items[j].arg[0] == "desc"
        words = " ".join(i.text for i in (item, *said))
        return RankedRow(last.right, last.right_columns[0], counted, path, desc, words, said)
    return None


def ranked_row_filter(row: RankedRow) -> Filter:
    """The condition that keeps the rows of the related row ranked first."""
    inner, key, _ = keys_along(row.counted, row.model, row.path)
    query = (
        inner.group_by(key.copy())
        .order_by(exp.Ordered(this=exp.Count(this=exp.Star()), desc=row.desc))
        .limit(1)
    )
    f = Filter("compare", row.model, row.key, op="=", overall="ranked", words=row.words)
    f.figure = query
    return f


def _model(item: Item) -> str | None:
    chosen = item.chosen if item.kind == "entry" else None
    return chosen.model if chosen is not None and chosen.kind == "model" else None


def _related(facts: ModelFacts, model: str, target: str) -> bool:
    return plan_joins(facts.index, model, [target]) is not None
