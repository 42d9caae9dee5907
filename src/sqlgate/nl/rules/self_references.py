"""Rows related to rows of their own table: a column that points to its own model's key
("employees report to" a manager who is an employee too).

"Which employees report to Nancy Edwards?" names the row pointed to: the employees listed are
those whose ``ReportsTo`` is Nancy's key, so her name is matched on a second copy of the table
joined through that column (``Filter.via``). "Who is Jane Peacock's manager?" and "who does Jane
report to?" name the row that points: the row listed is the one Jane's ``ReportsTo`` names, so
her name is matched on a copy joined the other way (``Filter.back``). Either way the rows are
shown by their labels, never by the raw key, and "how many" counts them.

Without this the name was matched on the rows listed themselves, and the answer was the named
row's own key, or a count of it: a confident wrong answer.
"""

from __future__ import annotations

from dataclasses import replace

from sqlgate.nl.rules.parts import Item, Measure, Plan
from sqlgate.nl.semantic import SemanticIndex


def self_references(index: SemanticIndex, plan: Plan, items: list[Item]) -> Plan:
    """``plan`` with its values matched across the root's column to its own key, when the
    question names that column and a row of the root by value; else ``plan`` unchanged."""
    model = index.get_model(plan.root)
    if model is None or len(model.primary_key) != 1:
        return plan
    own = _own_references(index, plan.root)
    named = [
        i
        for i in items
        if i.kind == "entry"
        and i.chosen is not None
        and i.chosen.kind == "field"
        and str(i.chosen.model).lower() == plan.root.lower()
        and str(i.chosen.name) in own
    ]
    values = [
        f
        for f in plan.filters
        if f.kind == "values" and not f.negated and str(f.model).lower() == plan.root.lower()
    ]
    if len(named) != 1 or not values or len(values) != len(plan.filters):
        return plan
    column = str(named[0].chosen.name)  # type: ignore[union-attr]
    value_items = [
        i for i in items if i.kind == "entry" and i.chosen is not None and i.chosen.kind == "value"
    ]
    up = _names_the_owner(items, named[0], value_items)
    filters = [replace(f, via=(column,), back=up) for f in values]
    shown = [(plan.root, c) for c in model.label_columns] or [(plan.root, model.primary_key[0])]
    measures = [
        Measure("count", plan.root, words=m.words) if m.func.startswith("count") else m
        for m in plan.measures
    ]
    if any(m.name == column for m in measures):
        return plan  # "the average manager": not a count of rows
    extra = [c for c in plan.extra_columns if c[1] != column]
    said = {w.lower() for w in named[0].text.split()}
    return replace(
        plan,
        words=plan.words - said,  # "report to" is the join, not a column to show
        filters=filters,
        measures=measures,
        extra_columns=extra or (shown if plan.listing else []),
        distinct=plan.distinct or up,
    )


#: What may stand between a name and the column it owns: "Jane's manager".
_POSSESSIVE = frozenset({"s", "'s", "\u2019s"})


def _own_references(index: SemanticIndex, root: str) -> set[str]:
    """The root's columns that point to its own key."""
    return {
        j.left_columns[0]
        for j in index.joins.get(root.lower(), ())
        if j.to_one and j.right.lower() == root.lower() and len(j.left_columns) == 1
    }


def _names_the_owner(items: list[Item], column: Item, values: list[Item]) -> bool:
    """Whether the named row is the one whose column points ("Jane's manager", "the manager of
    Jane", "who does Jane report to") rather than the one pointed to ("report to Nancy", "have
    Nancy as manager")."""
    first_value, last_value = min(v.first for v in values), max(v.last for v in values)
    if last_value < column.first:  # "Jane's manager", "does Jane report to"; not "Jane as"
        between = [i.text.lower() for i in items if last_value < i.first < column.first]
        return all(w in _POSSESSIVE for w in between)
    between = [i.text.lower() for i in items if column.last < i.first < first_value]
    return "of" in between and not column.text.lower().endswith(" to")  # "the manager of Jane"
