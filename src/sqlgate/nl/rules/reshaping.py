"""Adjustments the planner makes to a plan once its parts are known: which model's rows are
listed, which model's date a period is of, and when two conditions mean "either" rather than
"both" (:mod:`sqlgate.nl.rules.planning` calls these)."""

from __future__ import annotations

from itertools import pairwise

from sqlgate.nl.rules.entities import ids_asked
from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import Filter, Item, Reading
from sqlgate.nl.rules.sets import periods_apart


def rows_asked(
    facts: ModelFacts, filters: list[Filter], root: str, columns: list[tuple[str, str]]
) -> str:
    """ "the trip distances for the van with plate 'AB-1'": every field asked is of a model
    that belongs to the root (to-one), so the rows listed are that model's, each once,
    not the root's rows repeated (and made distinct) once per trip."""
    named = {(f.model, f.name) for f in filters if f.kind == "values" and not f.negated}
    columns = [c for c in columns if c not in named]  # "the van with the plate 'X'"
    models = {m.lower() for m, _ in columns}
    if len(models) != 1 or root.lower() in models:
        return root
    model = columns[0][0]
    if any((facts.referenced(m, name) or "").lower() == root.lower() for m, name in columns):
        return root  # "the region code of the region ...": the root's own key
    ups = [m.lower() for m in facts.to_one_models(model)]
    return model if root.lower() in ups else root


def rows_and_ids(
    facts: ModelFacts,
    filters: list[Filter],
    items: list[Item],
    root: str,
    columns: list[tuple[str, str]],
) -> tuple[str, list[tuple[str, str]]]:
    """The model whose rows are listed (:func:`rows_asked`) and the fields shown of them,
    with their key first when the question asks for "the ids of" those rows."""
    root = rows_asked(facts, filters, root, columns)
    return root, ids_asked(facts, items, root) + columns


def related_time(
    facts: ModelFacts, r: Reading, filters: list[Filter], root: str
) -> tuple[str, str] | None:
    """ "customers with invoices in 2009": the date of the related rows the question names,
    when the root has no date of its own (not a date of a model it points to)."""
    model = facts.index.get_model(root)
    own = model is not None and any(
        facts.lexicon.field(model.name, c.name).kind == "time" for c in model.columns
    )
    if own or any(
        i.chosen is not None
        and i.chosen.kind == "field"
        and i.role in ("filter", None)
        and facts.lexicon.field(i.chosen.model, str(i.chosen.name)).kind == "time"
        for i in r.fields
    ):
        return None
    for f in filters:
        m = facts.index.get_model(str(f.model)) if f.kind == "absent" and not f.negated else None
        if m is not None and m.time_column:
            return m.name, m.time_column
    return None


def periods_of_either(items: list[Item], filters: list[Filter], root: str) -> None:
    """ "how many invoices in 2009 and 2010": the root's rows of either period (one row is
    never in both), unless the question says "both"."""
    if any(i.text.lower() == "both" for i in items):
        return
    periods = [f for f in filters if f.kind in ("range", "compare") and not f.negated]
    for first, second in pairwise(periods):
        same = (first.model, first.name) == (second.model, second.name)
        if same and str(first.model).lower() == root.lower() and periods_apart(first, second):
            second.alternative = True


def counted_subsumes(filters: list[Filter], f: Filter) -> None:
    """ "have made trips, more than 2 trips": having related rows is said by the
    count already, and so is the "or" before it."""
    valued = {h.model for h in filters if h.kind == "values"}  # "or make the class 'X'"
    for g in list(filters):
        if g.kind == "absent" and not g.negated and g.model == f.model and g.model not in valued:
            f.alternative = f.alternative or g.alternative
            filters.remove(g)


def presence_of_values(
    facts: ModelFacts, subject: str, filters: list[Filter], havings: list[Filter]
) -> set[str]:
    """ "yards with more than 3 builders or that make the class 'X'": a value of a related
    model's many rows, in an "or" with a count, is a presence of such rows (``key IN`` a
    subquery that reads the value), so that each alternative is a condition on the row. The
    models now read inside those subqueries."""
    inside: set[str] = set()
    if not havings:
        return inside
    own = {m.lower() for m in facts.to_one_models(subject)}
    for g in list(filters):
        if g.kind != "values" or g.negated or not g.model or g.model.lower() in own:
            continue
        inside.add(g.model.lower())
        if any(h.kind == "absent" and h.model == g.model for h in filters):
            continue
        presence = Filter("absent", g.model, words=g.words, alternative=g.alternative)
        filters.insert(filters.index(g), presence)
    return inside


def distinct_columns(
    facts: ModelFacts, filters: list[Filter], items: list[Item], columns: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The columns of "the different X": not a field fixed by a value, and the key of the
    model too when the question asks for ids ("ids" maps to no field by itself)."""
    fixed = {
        (f.model, f.name)
        for f in filters
        if f.kind == "values" and not f.negated and len(f.values) == 1
    }
    kept = [c for c in columns if c not in fixed] or columns
    if any(i.kind == "word" and i.text.lower() in ("id", "ids") for i in items):
        model = facts.index.get_model(kept[0][0])
        keys = [(model.name, k) for k in model.primary_key] if model else []
        kept = keys + [c for c in kept if c not in keys]
    return kept
