"""Two values of a model the root relates to in two ways, each with its own direction: "shipments
from Avon to Brent", "shipments that depart from town 'Avon' and have destination town 'Brent'".
Each value is matched through its own relationship (the source depot's town, the destination
depot's town), so the query joins the model twice, once per role.

The direction of a value is the last cue before it (after the value before it): "from",
"departing" or "source" for one role, "to", "arriving" or "destination" for the other
(:mod:`~sqlgate.nl.rules.role_joins`). Unless every value has a cue and the two roles are each
named once, nothing changes (and the role joins decide, or decline).
"""

from __future__ import annotations

from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import Filter, Item
from sqlgate.nl.rules.role_joins import _FROM, _TO, _named
from sqlgate.nl.semantic import Join


def split_by_role(
    facts: ModelFacts, root: str, filters: list[Filter], items: list[Item], used: set[str]
) -> list[Filter]:
    """``filters`` with the values of a doubly related model given their own relationship
    (``Filter.via``); ``used`` are the models the query reads otherwise (never split)."""
    for model in {f.model for f in filters if f.kind == "values" and f.model}:
        assert model is not None
        if model.lower() in used or model.lower() == root.lower():
            continue
        ways = _two_ways(facts, root, model)
        if ways is None:
            continue
        split = _split(filters, items, model, ways)
        if split is not None:
            return split
    return filters


def _two_ways(facts: ModelFacts, root: str, model: str) -> list[Join] | None:
    ways = [
        j
        for j in facts.index.joins.get(root.lower(), ())
        if j.to_one and j.right.lower() == model.lower() and len(j.left_columns) == 1
    ]
    ways = list({j.left_columns: j for j in ways}.values())
    return ways if len(ways) == 2 else None


def _split(
    filters: list[Filter], items: list[Item], model: str, ways: list[Join]
) -> list[Filter] | None:
    values = [
        i
        for i in items
        if i.kind == "entry" and i.chosen and i.chosen.kind == "value" and i.chosen.model == model
    ]
    if len(values) != 2 or any(f.negated for f in filters if f.model == model):
        return None
    roles: list[Join] = []
    start = 0
    for item in values:
        cue = _last_cue(items[start : items.index(item)])
        start = items.index(item) + 1
        named = [j for j in ways if cue and _named(j, frozenset({cue}))]
        if len(named) != 1:
            return None
        roles.append(named[0])
    if roles[0] is roles[1]:
        return None
    out = [f for f in filters if not (f.kind == "values" and f.model == model)]
    for item, way in zip(values, roles, strict=True):
        chosen = item.chosen
        assert chosen is not None
        out.append(
            Filter(
                "values",
                model,
                chosen.name,
                values=[chosen.value],
                words=item.text,
                via=way.left_columns,
            )
        )
    return out


def _last_cue(between: list[Item]) -> str | None:
    cue = None
    for item in between:
        for word in item.text.lower().split():
            if word in _FROM or word in _TO:
                cue = word
    return cue


def via_alias(model: str, via: tuple[str, ...], back: bool = False) -> str:
    """The alias of ``model`` joined through the root's column ``via`` (``back``: through its
    own column ``via`` pointing to the root's key)."""
    return f"{model}_{via[0]}{'_of' if back else ''}".lower()
