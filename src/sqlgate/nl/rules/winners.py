"""The winner in each group: "the most expensive product in each category", "the longest track
of each genre": the rows whose field equals the extreme of their own group (a correlated
subquery), listed with the group they win, not one row overall and not a count per group."""

from __future__ import annotations

from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import Dimension, Filter, Reading


def winner_filter(
    facts: ModelFacts,
    subject: str,
    field: tuple[str, str],
    direction: str,
    dims: list[Dimension],
) -> tuple[Filter, list[tuple[str, str]]] | None:
    """The filter that keeps each group's winner and the columns that show the group, or None
    when a group is not a field of ``subject`` or a model it points to."""
    if field[0].lower() != subject.lower() or len(dims) != 1:
        return None
    d = dims[0]
    columns: list[tuple[str, str]]
    if d.kind == "field" and d.model and d.model.lower() == subject.lower() and d.name:
        within = (d.name,)
        columns = [(subject, d.name)]
    elif d.kind == "model" and d.model:
        joins = [
            j
            for j in facts.index.joins.get(subject.lower(), [])
            if j.to_one and j.right.lower() == d.model.lower()
        ]
        target = facts.index.get_model(d.model)
        if len(joins) != 1 or target is None:
            return None  # no such relationship, or more than one (roles)
        within = joins[0].left_columns
        shown = target.label_columns or target.primary_key
        columns = [(target.name, c) for c in shown]
    else:
        return None
    f = Filter("winner", subject, field[1], overall="max" if direction == "desc" else "min")
    f.within = tuple(within)
    model = facts.index.get_model(subject)
    labels = (model.label_columns or model.primary_key) if model else []
    return f, columns + [(subject, c) for c in labels]


def extreme_of_related(
    facts: ModelFacts,
    measured: str,
    named: tuple[str, str] | None,
    direction: str,
    words: str,
) -> Filter | None:
    """ "the number of tastings of the beer with the highest strength": the rows measured
    (of ``measured``) are those whose related row (``named``'s model, one per measured row)
    has the extreme value of the ``named`` field; None when that field is of the measured
    model itself or of a model it does not point to."""
    if named is None or named[0].lower() == measured.lower():
        return None
    if named[0].lower() not in {m.lower() for m in facts.to_one_models(measured)}:
        return None
    overall = "max" if direction == "desc" else "min"
    return Filter("compare", named[0], named[1], op="=", overall=overall, words=words)


def asked_of_winners(r: Reading, subject: str, columns: list[tuple[str, str]]) -> None:
    """ "the name and age of the oldest baker at each bakery": the winners' fields asked are
    shown too, after the group and the winner's label."""
    for item in r.fields:
        chosen = item.chosen
        if chosen is None or chosen.kind != "field" or chosen.model.lower() != subject.lower():
            continue
        if item.role in (None, "context") and (chosen.model, str(chosen.name)) not in columns:
            columns.append((chosen.model, str(chosen.name)))
            item.role = "context"
