"""A period said of the related rows named right before it: "bakeries with no order in 2021",
"stadiums except those having a concert in 2014". The period is of the orders (their date, or
their number column of years), read inside the subquery that finds the related rows, never a
date or year of the bakeries themselves.

Read after the roles (:func:`periods_of_related_rows`): a period whose column is still open,
right after a model the question reads as related rows ("with", "have", "no"), takes that
model's date column, else its number column of years. Several periods joined by "and" ("orders
in 2021 and also in 2022", "in 2021 or 2022") all take it: the set questions then ask for rows
with both; with either, they are alternatives inside the subquery."""

from __future__ import annotations

from itertools import pairwise

from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import Filter, Item, Reading
from sqlgate.nl.rules.years import as_year_numbers, year_column
from sqlgate.nl.vocabulary import STOPWORDS


def periods_of_related_rows(facts: ModelFacts, r: Reading, items: list[Item]) -> None:
    """Settle the column of the open periods that follow related rows (see above)."""
    ranges = [f for f in r.filters if f.kind == "range"]
    if not ranges or any(f.name is not None for f in ranges):
        return
    at = [
        [k for k, i in enumerate(items) if i.kind == "range" and i.text == f.words] for f in ranges
    ]
    if any(len(k) != 1 for k in at):
        return
    positions = [k[0] for k in at]
    before = positions[0] - 1
    while before >= 0 and items[before].kind == "word" and _filler(items[before]):
        before -= 1
    chosen = items[before].chosen if before >= 0 and items[before].kind == "entry" else None
    related = {str(g.model).lower() for g in r.filters if g.kind == "absent"}
    related |= {  # "at least 2 orders in 2021": the orders counted
        g.measure.model.lower() for g in r.filters if g.kind == "having" and g.measure
    }
    if chosen is None or chosen.model.lower() not in related:
        return
    again: list[Item] = []  # "an order in 2021 and an order in 2022": the same rows again
    for f, (a, b) in zip(ranges[1:], pairwise(positions), strict=True):
        joiner = _joiner(items[a + 1 : b], chosen.model, again)
        if joiner is None or (joiner == "or") != f.alternative:
            return  # periods apart, or joined otherwise than the filters say
    if chosen.kind == "field" and items[before].role is None and not again:
        for f in ranges:
            _named_column(facts, f, items, items[before])  # "a concert in year 2014"
        return
    model = facts.index.get_model(chosen.model) if chosen.kind == "model" else None
    if model is None:
        return
    for item in again:
        item.role = "filter"
        if item in r.subjects:
            r.subjects.remove(item)
    for f in ranges:  # "orders in 2021 and also in 2022": both of the orders
        if model.time_column:
            f.model, f.name = model.name, model.time_column
        else:
            as_year_numbers(facts, f, model.name, items, only=[model.name])


def _joiner(between: list[Item], model: str, again: list[Item]) -> str | None:
    """ "and" / "or" when only that conjunction, filler words and the related rows named again
    (added to ``again``) join two periods, else None."""
    said = {i.text.lower() for i in between if i.kw == "conj"}
    if len(said) != 1 or said - {"and", "or"}:
        return None
    for i in between:
        if i.kind == "entry" and i.chosen is not None and i.chosen.kind == "model":
            if i.chosen.model != model or i.role not in ("subject", None):
                return None
            again.append(i)
        elif i.kw != "conj" and not (i.kind == "word" and _filler(i)):
            return None
    return said.pop()


def _filler(item: Item) -> bool:
    return item.text.lower() in STOPWORDS or item.text.lower() in ("also", "both", "either")


def _named_column(facts: ModelFacts, f: Filter, items: list[Item], named: Item) -> None:
    """The related rows' date, or number column of years, named right before the period."""
    assert named.chosen is not None
    model, name = named.chosen.model, str(named.chosen.name)
    info = facts.lexicon.field(model, name)
    if info.kind == "time":
        f.model, f.name = model, name
    elif year_column(facts, model, items, only=[model]) != (model, name):
        return  # not a number column of years, or not the one a period is compared with
    elif not as_year_numbers(facts, f, model, items, only=[model]):
        return
    named.role = "filter"
