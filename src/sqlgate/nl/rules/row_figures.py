"""The figure of one row, asked with "how many": "how many hives does the grower with the largest
orchard have" asks for the ``hives`` of that one grower, not a sum. Read as "what hives
does ... have": the row with the extreme value, its field listed."""

from __future__ import annotations

from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import Item

#: Verbs in the singular before the one row: "does the grower", "did the boat".
_ONE = frozenset({"does", "did"})


def how_many_of_one_row(facts: ModelFacts, items: list[Item]) -> None:
    """Rewrite "how many <number field> does the <row> with the <superlative> ... have" so
    that "how many" asks for the field of that row (a listing), not an aggregate."""
    for k, item in enumerate(items[:-1]):
        if item.kind != "kw" or item.kw != "count" or item.text.lower() != "how many":
            continue
        field = items[k + 1]
        chosen = field.chosen
        if field.kind != "entry" or chosen is None or chosen.kind != "field":
            continue
        info = facts.lexicon.field(chosen.model, str(chosen.name))
        if info.kind != "number" or info.key:
            continue
        rest = items[k + 2 :]
        words = [i.text.lower() for i in rest if i.kind == "word"]
        if not words or words[0] not in _ONE or words[-1] != "have" or rest[-1].text != words[-1]:
            continue
        if not any(i.kind == "kw" and i.kw == "sup" for i in rest):
            continue  # "how many hives does each grower have": a figure per row, not one row
        item.kw = "list"
