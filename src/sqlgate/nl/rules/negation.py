"""A value negated on rows the root has many of: "students who do not have a cat pet".

Read as a condition on the joined rows (``pet_type <> 'cat'``), it would answer the students who
have *some* pet that is not a cat: a confident wrong answer (a student with a cat and a dog is
in it). What the question means is that no related row has the value: the root's rows NOT IN
those that do. :func:`negations_as_absence` rewrites such a filter into that absence before the
SQL is built; when the related model is read for anything else as well, no query says both, and
the question is declined.
"""

from __future__ import annotations

from dataclasses import replace

from sqlgate.nl.joins import plan_joins
from sqlgate.nl.rules.parts import CannotAnswer, Filter, Plan
from sqlgate.nl.semantic import SemanticIndex

#: Filter kinds whose negation says "no related row like this" on a to-many model.
_NEGATABLE = ("values", "compare")


def negations_as_absence(index: SemanticIndex, plan: Plan) -> Plan:
    """``plan`` with each negated value or comparison on a model the root has many of turned
    into "without such a row" (an absent filter whose subquery holds the condition)."""
    filters: list[Filter] = []
    changed = False
    for f in plan.filters:
        if not _across_many(index, plan, f):
            filters.append(f)
            continue
        model = str(f.model)
        if _read_elsewhere(plan, f, model):
            raise CannotAnswer(
                f"'{f.words or 'not'}' negates a value of {model}, which {plan.root} has many "
                f"of, while the question also reads {model} otherwise; I cannot say both in "
                "one query."
            )
        filters.append(replace(f, negated=False))
        filters.append(Filter("absent", model=f.model, negated=True, words=f.words))
        changed = True
    return replace(plan, filters=filters) if changed else plan


def _across_many(index: SemanticIndex, plan: Plan, f: Filter) -> bool:
    if f.kind not in _NEGATABLE or not f.negated or not f.model or f.via or f.alternative:
        return False
    if f.overall or f.within or f.model.lower() == plan.root.lower():
        return False
    path = plan_joins(index, plan.root, [f.model])
    return path is not None and path.fans_out


def _read_elsewhere(plan: Plan, negated: Filter, model: str) -> bool:
    """Whether ``model`` is read by anything of ``plan`` but ``negated``."""
    name = model.lower()
    named = [m.model for m in plan.measures] + [d.model for d in plan.dimensions]
    named += [m for m, _ in plan.extra_columns]
    named += [f.model for f in plan.filters if f is not negated]
    if plan.order is not None and plan.order[1] == "field_ref":
        named.append(plan.order[2][0])
    return any(str(m or "").lower() == name for m in named)
