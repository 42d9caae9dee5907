"""Superlatives over the row a question names right after them.

* "the fee of the most recent visit", "the rider of the youngest horse": the row of the model
  named right after the superlative with the extreme value of its field (ORDER BY it, LIMIT 1),
  and the fields asked of it or of the rows it points to (one each);
* "the horses of the rarest coat": the rows whose value of the column that points to the model
  named after "the rarest" / "the most common" is the one that the fewest (most) of them have.

Either reading holds only when every field asked is one value per ranked row; otherwise the
question is left to the other steps, which decline what they cannot read.
"""

from __future__ import annotations

import re

from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import (
    FIGURE,
    RANKED_GROUP,
    Filter,
    Item,
    Measure,
    Order,
    Reading,
    next_significant,
)
from sqlgate.nl.rules.targets import concept_target

#: Concepts a superlative ranks a named row by: a field of that row ("youngest": its age).
_ROW_CONCEPTS = ("time", "age", "price", "length", "size", "weight", "height")


def ranked_row(items: list[Item], sup: tuple[str, str | None, Item]) -> Item | None:
    """The model entry right after the superlative ("the youngest *horse*"), else None."""
    pos = items.index(sup[2])
    nxt = next_significant(items, pos)
    if nxt is None or nxt.kind != "entry" or nxt.chosen is None or nxt.chosen.kind != "model":
        return None
    return nxt


def extreme_row(
    facts: ModelFacts,
    r: Reading,
    items: list[Item],
    sup: tuple[str, str | None, Item],
    measures: list[Measure],
) -> tuple[Order, list[tuple[str, str]]] | None:
    """The order of "the X of the <superlative> M" (one row of M) and the columns asked, or
    None when the question is not of that shape. ``measures`` may hold only the figure of
    "how much does the most recent visit cost" (a field of the row, not a total)."""
    direction, concept, _ = sup
    named = ranked_row(items, sup) or _costed_row(items, sup, measures)
    if named is None or concept not in _ROW_CONCEPTS or named.chosen is None:
        return None
    model = named.chosen.model
    field = r.superlative_field if named.chosen.kind == "model" else None
    ranked = concept_target(facts, concept, model, r, field)
    if ranked is None or ranked[0] != "field" or ranked[1].lower() != model.lower():
        return None
    if concept != "time" and _stored_as_text(facts, ranked[1], ranked[2]):
        return None  # "age VARCHAR": ordered as text, '10' before '9'; not guessed
    reach = {m.lower() for m in facts.to_one_models(model)}
    columns: list[tuple[str, str]] = []
    for m in measures:
        if m.func != "sum" or not m.name or not _how_much(items):
            return None
        columns.append((m.model, m.name))  # "how much does it cost": its amount, not a total
    for i in items:
        if measures and i.kw == "agg" and i.text.lower() == "how much":
            i.kw = "list"
    asked = [i for i in r.fields if i.chosen is not None and i.role in (None, "context")]
    for i in asked:
        assert i.chosen is not None
        columns.append((i.chosen.model, str(i.chosen.name)))
    subjects = [s.chosen.model for s in r.subjects if s.chosen is not None]
    if any(c[0].lower() not in reach for c in columns) or any(
        s.lower() not in reach for s in subjects
    ):
        return None  # a field of many rows per ranked row: not one answer
    if not columns and not any(s.lower() != model.lower() for s in subjects):
        return None  # "the youngest horse" alone: read by the other steps
    sup[2].role = "order"
    return (direction, "field_ref", (ranked[1], ranked[2])), columns


def _stored_as_text(facts: ModelFacts, model: str, name: str) -> bool:
    field = facts.index.get_field(model, name)
    return bool(re.search(r"char|text|string|clob", getattr(field, "type", None) or "", re.I))


def _costed_row(
    items: list[Item], sup: tuple[str, str | None, Item], measures: list[Measure]
) -> Item | None:
    """ "how much does the most recent visit cost" with "visit cost" a field: the field's row
    is ranked (the field is the figure asked, not what is ranked)."""
    nxt = next_significant(items, items.index(sup[2]))
    if nxt is None or nxt.kind != "entry" or nxt.chosen is None or nxt.chosen.kind != "field":
        return None
    same = [m for m in measures if (m.model, m.name) == (nxt.chosen.model, str(nxt.chosen.name))]
    if not (same and len(measures) == 1 and _how_much(items)):
        return None
    nxt.arg = FIGURE
    return nxt


def _how_much(items: list[Item]) -> bool:
    return any(i.kw == "agg" and i.text.lower() == "how much" for i in items)


def rarest_group(
    facts: ModelFacts,
    r: Reading,
    items: list[Item],
    sup: tuple[str, str | None, Item],
    measures: list[Measure],
) -> Filter | None:
    """ "the horses of the rarest coat": the rows (of the model counted, else of the model the
    question lists) whose column pointing to the model named after the superlative holds the
    value the fewest (``asc``) or most of those rows hold; None when they have not exactly one
    such column."""
    direction, concept, _ = sup
    named = ranked_row(items, sup)
    if concept != "frequency" or named is None or named.chosen is None:
        return None
    if any(m.func != "count" for m in measures):
        return None
    target = named.chosen.model.lower()
    rows = [m.model for m in measures] or [
        i.chosen.model for i in [*r.subjects, *r.fields] if i.chosen is not None
    ]
    rows = [m for m in rows if m.lower() != target]
    if not rows or (measures and len({m.lower() for m in rows}) != 1):
        return None
    model = rows[0]  # the rows named first; fields of others are listed beside them
    pointing = [
        j
        for j in facts.index.joins.get(model.lower(), ())
        if j.to_one and j.right.lower() == target
    ]
    if len(pointing) != 1 or len(pointing[0].left_columns) != 1:
        return None
    named.role, named.arg = "filter", RANKED_GROUP
    words = f"{sup[2].text} {named.text}"
    return Filter("rarest", model, pointing[0].left_columns[0], op=direction, words=words)


def ranks_a_model(items: list[Item], sup: Item) -> bool:
    """Whether the superlative is said of a model's rows ("the most expensive *product*", "the
    longest *track*", "the *van* with the largest payload"), not of a field ("the highest
    *price*"): the word after it names a model, or the words before it are a model and "with".
    Only when nothing else is asked first ("what is the cost of the most recent visit" asks a
    field of that row)."""
    pos = next((k for k, i in enumerate(items) if i is sup), None)
    if pos is None:
        return False
    if _model_with(items, pos):
        return True  # "what is the van with the largest payload"
    if not _only_asking(items[:pos]):
        return False
    after = next_significant(items, pos)
    if after is not None and after.kind == "concept" and after.first == sup.last + 1:
        sup, after = after, next_significant(items, items.index(after))  # "most expensive"
    if after is None or after.kind != "entry" or after.chosen is None:
        return False
    return after.chosen.kind == "model" and after.first == sup.last + 1


def _model_with(items: list[Item], pos: int) -> bool:
    """Whether "<model> with" comes right before the superlative at ``pos``."""
    before = [i for i in items[:pos] if not (i.kind == "word" and i.text.lower() == "the")]
    if len(before) < 2 or before[-1].text.lower() not in ("with", "having"):
        return False
    owner = before[-2]
    is_model = owner.kind == "entry" and owner.chosen is not None and owner.chosen.kind == "model"
    return is_model and _only_asking(before[:-2])


def _only_asking(items: list[Item]) -> bool:
    """ "what is the", "which was": nothing asked yet but the row."""
    return all(i.kind == "word" and i.text.lower() in _ASKING for i in items)


_ASKING = frozenset({"what", "which", "is", "was", "the", "a"})
