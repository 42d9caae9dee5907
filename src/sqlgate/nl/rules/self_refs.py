"""Rows related to rows of their own model through a column that points back to it (a
``manager_id`` of ``staff`` pointing to ``staff``), named by the column's word ("manager"):

* "the name of Bob's manager", "the manager of Bob": the row Bob's row points to,
  ``WHERE staff_id IN (SELECT manager_id FROM staff WHERE name = 'Bob')``;
* "the staff whose manager is Ann", "how many staff have manager Ann": the rows pointing to
  Ann's row, ``WHERE manager_id IN (SELECT staff_id FROM staff WHERE name = 'Ann')``.

A question that names such a role beside a value of the model in another way is declined: read
without the role, it would answer about the value's own row."""

from __future__ import annotations

from sqlglot import exp

from sqlgate.nl.joins import JoinPlan
from sqlgate.nl.name_words import name_words
from sqlgate.nl.rules.building import condition_sql
from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import CannotAnswer, Filter, Item, Plan, Reading
from sqlgate.nl.rules.self_ref_verbs import manager_verb, unread_manager
from sqlgate.nl.rules.sql_terms import column as _col
from sqlgate.nl.rules.sql_terms import ident as _ident
from sqlgate.nl.semantic import Join
from sqlgate.nl.text import stem

_KEY_WORDS = frozenset({"id", "no", "code", "key", "number", "ref"})
_OWNER_GAP = frozenset({"s", "'s", "of", "the"})  # "Bob's manager", "the manager of the Bob"
_MEMBER_GAP = frozenset({"is", "was", "are", "were", "being"})  # "whose manager is Ann"


def self_referenced(
    facts: ModelFacts, r: Reading, items: list[Item]
) -> tuple[Plan, exp.Expr, JoinPlan] | None:
    """The plan, SQL and joins of a question about rows related through a column that points
    back to their own model, else None; raises :class:`CannotAnswer` when such a role is named
    beside a value in a way not read."""
    found = _role_word(facts, items)
    verb = manager_verb(facts.index, items) if found is None else None
    if found is None and verb is None:
        unread = unread_manager(items)
        if unread is not None:
            raise CannotAnswer(
                f"The question relates rows by '{unread.text}', and no column of theirs names "
                "the row that manages each."
            )
        return None
    role, join = found if found is not None else verb[::2]  # type: ignore[index]
    model = join.left
    values = [i for i in items if i.kind == "entry" and i.chosen and i.chosen.kind == "value"]
    mine = [v for v in values if v.chosen and v.chosen.model.lower() == model.lower()]
    if not mine:
        return _without_role(facts, r, items, role, join) if verb is None else None
    filters = r.filters
    simple = (
        len(mine) == 1
        and len(filters) == 1
        and filters[0].kind == "values"
        and not filters[0].negated
        and not r.dimensions
        and r.order is None
        and r.superlative is None
    )
    side = (verb[3] if verb is not None else _side(items, role, mine[0])) if simple else None
    if side is None and _linked(role, join) and all(f.kind == "values" for f in filters):
        return None  # "Olu Marsh's mentor": a name in two fields, matched on the plan
    if side is None:
        raise CannotAnswer(
            f"The question names '{role.text}' ({model}.{join.left_columns[0]}, which points to "
            f"another {model} row) beside a value in a way I could not read."
        )
    counting = bool(r.measures)
    if counting and (
        len(r.measures) != 1 or r.measures[0].func != "count" or r.measures[0].model != model
    ):
        raise CannotAnswer(
            f"I could not tell what to measure of the {model} related by '{role.text}'."
        )
    asked = [
        _own_field(i, model)
        for i in items
        if i.kind == "entry" and i.chosen and i.chosen.kind == "field" and i.role != "filter"
    ]
    named = any(s.chosen and s.chosen.model.lower() == model.lower() for s in r.subjects)
    if not asked and not counting and (named or items[0].text.lower() in ("who", "whom")):
        asked = _labels(facts, model)  # "who manages Scott": the manager by name
    if any(m.lower() != model.lower() for m, _ in asked) or (not asked and not counting):
        raise CannotAnswer(f"I could not tell which fields of the {model} '{role.text}' to list.")
    tree = _sql(facts, join, side, filters[0], asked, counting)
    for said in [role, *(verb[1] if verb is not None else [])]:
        said.kind, said.role = "unit", "filter"  # the role's words are the relationship itself
    plan = Plan(
        root=model,
        measures=list(r.measures),
        dimensions=[],
        filters=[
            Filter(
                "self_ref",
                model,
                join.left_columns[0],
                words=_said(filters[0], side, join.left_columns[0]),
            )
        ],
        order=None,
        limit=None,
        listing=not counting,
        subject=model,
        extra_columns=list(dict.fromkeys(asked)),
        only_columns=True,
    )
    return plan, tree, JoinPlan(model, (join,))


def _without_role(
    facts: ModelFacts, r: Reading, items: list[Item], role: Item, join: Join
) -> tuple[Plan, exp.Expr, JoinPlan] | None:
    """The rows that point to no row of their own model ("users with no manager": an empty
    ``manager_id``), listed by their labels or counted; None when the question says more."""
    k = items.index(role)
    before = items[k - 1] if k else None
    if before is None or before.kind != "kw" or before.text.lower() not in ("no", "without"):
        return None
    model, column = join.left, join.left_columns[0]
    if r.filters or r.dimensions or r.order is not None or r.superlative is not None:
        return None
    counting = bool(r.measures)
    if counting and (
        len(r.measures) != 1 or r.measures[0].func != "count" or r.measures[0].model != model
    ):
        return None
    named = any(s.chosen and s.chosen.model.lower() == model.lower() for s in r.subjects)
    if not named and not counting:
        return None
    asked = _labels(facts, model)
    empty = exp.Is(this=_col(model, column), expression=exp.Null())
    shown: list[exp.Expr] = (
        [exp.alias_(exp.Count(this=exp.Star()), "count")]
        if counting
        else [_col(m, n) for m, n in asked]
    )
    tree = exp.select(*shown).from_(exp.Table(this=_ident(model))).where(empty)
    for said in (before, role):
        said.kind, said.role = "unit", "filter"
    words = f"{model}.{column} is empty"
    plan = Plan(
        root=model,
        measures=list(r.measures),
        dimensions=[],
        filters=[Filter("self_ref", model, column, words=words)],
        order=None,
        limit=None,
        listing=not counting,
        subject=model,
        extra_columns=asked,
        only_columns=True,
    )
    return plan, tree, JoinPlan(model, ())


def role_named(facts: ModelFacts, items: list[Item]) -> bool:
    """Whether a word or verb of ``items`` names a column pointing back to its own model."""
    return _role_word(facts, items) is not None or manager_verb(facts.index, items) is not None


def _labels(facts: ModelFacts, model: str) -> list[tuple[str, str]]:
    found = facts.index.get_model(model)
    columns = (found.label_columns or found.primary_key[:1]) if found is not None else []
    return [(found.name, c) for c in columns] if found is not None else []


def _linked(role: Item, join: Join) -> bool:
    """Whether the role word was linked to the column itself, so that
    :mod:`~sqlgate.nl.rules.self_references` reads it on the plan (several values of the row
    named)."""
    chosen = role.chosen
    return (
        role.kind == "entry"
        and chosen is not None
        and chosen.kind == "field"
        and str(chosen.name) == join.left_columns[0]
    )


def _own_field(item: Item, model: str) -> tuple[str, str]:
    """The field the item names, of ``model`` when one of its meanings is ("the name" where
    several models have one)."""
    for e in item.entries:
        if e.kind == "field" and e.model.lower() == model.lower():
            item.chosen = e
            return e.model, str(e.name)
    assert item.chosen is not None
    return item.chosen.model, str(item.chosen.name)


def _role_word(facts: ModelFacts, items: list[Item]) -> tuple[Item, Join] | None:
    """The word naming a column that points back to its own model ("manager" for
    ``manager_id``), and that relationship."""
    for item in items:
        if item.kind not in ("word", "entry") or len(item.text.split()) != 1:
            continue
        if item.kind == "entry" and (item.chosen is None or item.chosen.kind != "field"):
            continue
        word = stem(item.text.lower())
        for joins in facts.index.joins.values():
            for j in joins:
                if j.left.lower() != j.right.lower() or not j.to_one or len(j.left_columns) != 1:
                    continue
                said = name_words(j.left_columns[0])  # mgr_no: "manager"
                names = [w for w in said if w not in _KEY_WORDS]
                if len(names) == 1 and stem(names[0]) == word:
                    return item, j
    return None


def _side(items: list[Item], role: Item, value: Item) -> str | None:
    """ "owner" when the value owns the role ("Bob's manager", "the manager of Bob"),
    "member" when the role is the value ("whose manager is Ann"), else None."""
    a, b = items.index(role), items.index(value)
    between = [i.text.lower() for i in items[min(a, b) + 1 : max(a, b)]]
    if b < a and all(w in _OWNER_GAP for w in between) and ("s" in between or "'s" in between):
        return "owner"  # "Bob's manager"
    if a < b and between and all(w in _OWNER_GAP for w in between) and "of" in between:
        return "owner"  # "the manager of Bob"
    if a < b and all(w in _MEMBER_GAP for w in between):
        return "member"  # "whose manager is Ann", "with manager Ann"
    return None


def _sql(
    facts: ModelFacts,
    join: Join,
    side: str,
    f: Filter,
    asked: list[tuple[str, str]],
    counting: bool,
) -> exp.Select:
    model, column = join.left, join.left_columns[0]
    key = join.right_columns[0]
    condition = condition_sql(facts.index, f, False)
    if condition is None:
        raise CannotAnswer(f"I could not read the value of the {model} row.")
    picked, matched = (column, key) if side == "owner" else (key, column)
    inner = exp.select(_col(model, picked)).from_(exp.Table(this=_ident(model))).where(condition)
    where = exp.In(this=_col(model, matched), query=exp.Subquery(this=inner))
    projections: list[exp.Expr] = (
        [exp.alias_(exp.Count(this=exp.Star()), "count")]
        if counting
        else [_col(m, n) for m, n in dict.fromkeys(asked)]
    )
    return exp.select(*projections).from_(exp.Table(this=_ident(model))).where(where)


def _said(f: Filter, side: str, column: str) -> str:
    row = f"the row where {f.model}.{f.name} = {f.values[0]!r}"
    if side == "owner":
        return f"the row is the one {row} points to by {f.model}.{column}"
    return f"{f.model}.{column} points to {row}"
