"""A period said of the related rows named right before it: "bakeries with no order in 2021",
"stadiums except those having a concert in 2014". The period is of the orders (their date, or
their number column of years), read inside the subquery that finds the related rows, never a
date or year of the bakeries themselves.

Read after the roles (:func:`periods_of_related_rows`): a period whose column is still open,
right after a model the question reads as related rows ("with", "have", "no"), takes that
model's date column, else its number column of years. Two periods on such rows ("orders in 2021
and also in 2022") are left to the planner: one subquery cannot say both."""

from __future__ import annotations

from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import Filter, Item, Reading
from sqlgate.nl.rules.years import as_year_numbers, year_column
from sqlgate.nl.vocabulary import STOPWORDS


def periods_of_related_rows(facts: ModelFacts, r: Reading, items: list[Item]) -> None:
    """Settle the column of the one open period that follows related rows (see above)."""
    periods = [f for f in r.filters if f.kind == "range" and f.name is None]
    if len(periods) != 1 or len([f for f in r.filters if f.kind == "range"]) != 1:
        return
    f = periods[0]
    at = [k for k, i in enumerate(items) if i.kind == "range" and i.text == f.words]
    if len(at) != 1:
        return
    before = at[0] - 1
    while before >= 0 and items[before].kind == "word" and items[before].text.lower() in STOPWORDS:
        before -= 1
    chosen = items[before].chosen if before >= 0 and items[before].kind == "entry" else None
    related = {str(g.model).lower() for g in r.filters if g.kind == "absent"}
    if chosen is None or chosen.model.lower() not in related:
        return
    if chosen.kind == "field" and items[before].role is None:
        _named_column(facts, f, items, items[before])  # "a concert in year 2014"
        return
    if chosen.kind != "model":
        return
    model = facts.index.get_model(chosen.model)
    if model is None:
        return
    if model.time_column:
        f.model, f.name = model.name, model.time_column
        return
    as_year_numbers(facts, f, model.name, items, only=[model.name])


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
