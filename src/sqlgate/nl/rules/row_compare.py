"""A comparison with one row picked by another field: "trees with a greater height than the
tree with the largest girth" compares each row's field with that field of the row ranked
first by the other:

    WHERE height > (SELECT height FROM trees ORDER BY girth DESC LIMIT 1)

Read after the roles (:func:`compared_with_a_row`), when a comparison was left without its
number and what follows it is "the <model> (or "the one") with the <superlative> <field>" of the
same model as the field compared."""

from __future__ import annotations

from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import Filter, Item, Measure, Reading
from sqlgate.nl.vocabulary import STOPWORDS


def compared_with_a_row(facts: ModelFacts, r: Reading, items: list[Item]) -> None:
    """Add the comparison of the pattern above to ``r`` (nothing when there is none)."""
    for k, cmp in enumerate(items):
        if cmp.kind != "kw" or cmp.kw != "cmp" or cmp.arg[0] not in (">", "<", ">=", "<="):
            continue
        compared = _before(items, k)
        tail = _row_picked(items, k)
        if compared is None or tail is None:
            continue
        # "than the one with ...": "one" was read as the number compared with
        read = [f for f in r.filters if f.words.lower() == f"{cmp.text} one".lower()]
        if any(f.words.lower().startswith(cmp.text.lower()) for f in r.filters) and not read:
            continue  # read already ("more than 10")
        sup, ranked, rest = tail
        field, by = compared.chosen, ranked.chosen
        assert field is not None
        assert by is not None
        if field.model.lower() != by.model.lower() or not _number(facts, compared):
            continue
        direction = str(sup.arg[0])
        f = Filter("compare", field.model, field.name, op=str(cmp.arg[0]))
        f.overall = f"row_{direction}"
        f.measure = Measure("row", by.model, by.name, words=f"{sup.text} {ranked.text}")
        f.words = " ".join(i.text for i in items[k : items.index(ranked) + 1])
        r.filters[:] = [g for g in r.filters if g not in read]
        r.filters.append(f)
        for i in (compared, cmp, sup, ranked, *rest):
            i.role = "filter"
        if compared in r.fields:
            r.fields.remove(compared)
        if r.superlative is not None and r.superlative[2] is sup:
            r.superlative, r.superlative_field = None, None
        return


def _before(items: list[Item], k: int) -> Item | None:
    """The field right before the comparison ("height greater than")."""
    if k == 0:
        return None
    item = items[k - 1]
    if item.kind == "entry" and item.chosen is not None and item.chosen.kind == "field":
        return item
    return None


def _row_picked(items: list[Item], k: int) -> tuple[Item, Item, list[Item]] | None:
    """(superlative, its field, the model's word) of "the <model> with the <sup> <field>"
    right after the comparison at ``k``; None when something else follows."""
    rest = [
        i for i in items[k + 1 :] if not (i.kind == "word" and i.text.lower() in ("the", "an", "a"))
    ]
    if len(rest) < 4:
        return None
    row, with_, sup, ranked = rest[:4]
    is_row = (row.kind == "entry" and row.chosen is not None and row.chosen.kind == "model") or (
        row.kind in ("word", "number") and row.text.lower() == "one"
    )
    if not is_row or with_.text.lower() != "with" or sup.kw != "sup":
        return None
    if ranked.kind != "entry" or ranked.chosen is None or ranked.chosen.kind != "field":
        return None
    if row.chosen is not None and row.chosen.model.lower() != ranked.chosen.model.lower():
        return None
    after = rest[4:]
    if any(not (i.kind == "word" and i.text.lower() in STOPWORDS) for i in after):
        return None  # "... with the largest girth in 2020": more than one ranked row
    return sup, ranked, [row] if row.kind == "entry" else []


def _number(facts: ModelFacts, item: Item) -> bool:
    chosen = item.chosen
    assert chosen is not None
    info = facts.lexicon.field(chosen.model, str(chosen.name))
    return info.kind == "number" and not info.key
