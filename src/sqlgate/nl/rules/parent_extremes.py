"""Rows of a model ranked by a field of the one row each of them belongs to.

"The visit dates of the vet visits of the youngest horse": the superlative picks a horse, and
every visit of that horse is asked for. Ordered by the horse's age and cut to one row, the
answer would hold one of its visits; not cut, every visit of every horse. Both look like
answers and neither is. :func:`extremes_of_parents` turns such an order into a filter: the
parent's field equals its extreme over all the parent's rows (ties keep all their rows).
"""

from __future__ import annotations

from dataclasses import replace

from sqlgate.nl.joins import plan_joins
from sqlgate.nl.rules.building import TEXT_TYPE
from sqlgate.nl.rules.parts import Filter, Plan
from sqlgate.nl.semantic import SemanticIndex


def extremes_of_parents(index: SemanticIndex, plan: Plan) -> Plan:
    """``plan`` with a listing ordered by a field of a model its rows belong to (to-one, many
    rows per parent) filtered to the parent's extreme instead of ordered and cut."""
    order = plan.order
    if order is None or order[1] != "field_ref" or plan.measures or plan.dimensions:
        return plan
    if not plan.listing or order[0] not in ("asc", "desc"):
        return plan
    model, name = order[2]
    if str(model).lower() == plan.root.lower():
        return plan
    field = index.get_field(model, name)
    if field is None or TEXT_TYPE.search(getattr(field, "type", None) or ""):
        return plan  # a number or date stored as text: left as it was read
    path = plan_joins(index, plan.root, [model])
    if path is None or not path.steps or path.fans_out:
        return plan  # the parent has many of the ranked rows' own kind: an order is right
    extreme = Filter(
        "compare",
        model=model,
        name=name,
        op="=",
        overall="min" if order[0] == "asc" else "max",
        words=f"the {'lowest' if order[0] == 'asc' else 'highest'} {name} of {model}",
    )
    return replace(plan, filters=[*plan.filters, extreme], order=None, limit=None)
