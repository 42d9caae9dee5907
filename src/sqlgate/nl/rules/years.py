"""Years stored as plain numbers (``Year``, ``open_year``): "before 1980" compares whole years,
"each year" groups by the number, where no date column could."""

from __future__ import annotations

from sqlgate.nl import timeexpr
from sqlgate.nl.name_words import name_words
from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import CannotAnswer, Filter, Item


def year_column(
    facts: ModelFacts, root: str, items: list[Item], only: list[str] | None = None
) -> tuple[str, str] | None:
    """A number column of years of the root, a model it points to or a model the question
    names (``only`` these models, when given)."""
    named = [i.chosen.model for i in items if i.kind == "entry" and i.chosen]
    for model in only or dict.fromkeys([*facts.to_one_models(root), *named]):
        m = facts.index.get_model(model)
        for column in m.columns if m else ():
            info = facts.lexicon.field(model, column.name)
            if info.kind == "number" and "year" in name_words(column.name):
                return model, column.name
    return None


def as_year_numbers(
    facts: ModelFacts, f: Filter, root: str, items: list[Item], only: list[str] | None = None
) -> bool:
    """ "before 1980" on a number column of years: ``f`` becomes a comparison of whole years.
    False when there is no such column or the range is not whole years."""
    found = year_column(facts, root, items, only)
    return found is not None and on_years(f, found)


def on_years(f: Filter, column: tuple[str, str]) -> bool:
    """``f``, a date range, made a comparison of whole years on a number ``column`` of years;
    False when the range is not whole years."""
    span = f.range
    if span is None or any(
        d is not None and (d.month, d.day) != (1, 1) for d in (span.start, span.end)
    ):
        return False
    f.kind, f.model, f.name = "compare", column[0], column[1]
    if span.start and span.end:
        f.op, f.values = "between", [span.start.year, span.end.year - 1]
    elif span.start:
        f.op, f.values = ">=", [span.start.year]
    else:
        assert span.end is not None
        f.op, f.values = "<", [span.end.year]
    return True


#: Words after "or" that open a period on one side: "2021 or after", "2010 or earlier".
_LATER = ("after", "later", "since", "onwards")
_EARLIER = ("before", "earlier", "prior")


def open_range(items: list[Item], item: Item) -> None:
    """ "in 2021 or after": the period of ``item`` and everything after it (or before it, for
    "or earlier"); the "or" is read with the period, not as an alternative."""
    pos = items.index(item)
    if pos + 2 >= len(items) or not isinstance(item.arg, timeexpr.DateRange):
        return
    conj, side = items[pos + 1], items[pos + 2]
    if conj.kw != "conj" or conj.text.lower() != "or" or side.kind != "word":
        return
    span, word = item.arg, side.text.lower()
    if word in _LATER:
        item.arg = timeexpr.DateRange(span.start, None, f"{span.text} or {word}")
    elif word in _EARLIER:
        item.arg = timeexpr.DateRange(None, span.end, f"{span.text} or {word}")
    else:
        return
    conj.kind, conj.kw, conj.role = "word", None, "context"
    side.kind, side.kw, side.role = "kw", "span", "context"  # read with the period
    item.text = f"{item.text} or {side.text}"


def whole_years(facts: ModelFacts, f: Filter) -> bool:
    """Whether ``f``, a period on a number column, compares whole years (declined when the
    period is not whole years: "in March 2020" on a year number)."""
    if facts.lexicon.field(str(f.model), str(f.name)).kind != "number":
        return False
    if not on_years(f, (str(f.model), str(f.name))):
        raise CannotAnswer(f"I can only compare whole years with '{f.words}'.")
    return True


def field_before_period(facts: ModelFacts, items: list[Item], f: Filter) -> tuple[str, str] | None:
    """The date field, or number field of years, named right before the period ``f`` ("clubs
    *founded* after 2000"): what the period is of, not a year column of the rows listed."""
    at = [k for k, i in enumerate(items) if i.kind == "range" and i.text == f.words]
    before = items[at[0] - 1] if len(at) == 1 and at[0] > 0 else None
    chosen = before.chosen if before is not None and before.kind == "entry" else None
    if chosen is None or chosen.kind != "field" or chosen.name is None:
        return None
    assert before is not None
    if before.role not in (None, "context"):
        return None  # "with 8 cylinders on 1974": the cylinders are compared already
    kind = facts.lexicon.field(chosen.model, str(chosen.name)).kind
    dated = "year" in name_words(str(chosen.name)) or before.text.lower().endswith("ed")
    if kind != "time" and not (kind == "number" and dated):
        return None  # "founded", "opened_year": years; "weight after 2000" is no period
    before.role = "filter"
    return chosen.model, str(chosen.name)


def own_or_related_years(
    facts: ModelFacts, filters: list[Filter], items: list[Item], f: Filter, root: str
) -> bool:
    """A number column of years of the root, or of the related rows the question names,
    when the root has no date of its own: before the date of a model it points to."""
    model = facts.index.get_model(root)
    if model is None or any(
        facts.lexicon.field(model.name, c.name).kind == "time" for c in model.columns
    ):
        return False
    related = [str(g.model) for g in filters if g.kind == "absent" and not g.negated]
    return as_year_numbers(facts, f, root, items, only=[root, *related])
