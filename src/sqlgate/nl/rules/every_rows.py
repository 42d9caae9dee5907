"""A comparison with every one of some rows: "bakers older than every baker at Crumb", "whose
wage is higher than that of all bakers at Rise", "cheaper than every loaf from Leeds".

Greater than every row is greater than their maximum (less than every row, than their minimum),
so the question is answered as "older than the maximum age" and that figure, "maximum age of
bakers at Crumb", each on its own (:mod:`.scoped_figures`). Read before the roles
(:func:`compared_with_every`), which would take "every baker" for a grouping and drop the
comparison. The field compared is the number field named right before the comparison ("whose
wage is higher than"), else the one its word means ("older": the rows' age)."""

from __future__ import annotations

from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import Item
from sqlgate.nl.text import Token, identifier_words
from sqlgate.nl.vocabulary import CONCEPT_FIELDS, STOPWORDS

_EVERY = frozenset({"every", "all", "each"})
_BETWEEN = frozenset({"that", "those", "of", "the"})
_VERBS = frozenset({"is", "are", "was", "were"})


def compared_with_every(
    facts: ModelFacts, items: list[Item], tokens: list[Token], question: str
) -> tuple[str, str] | None:
    """The question's rest and its figure, as two questions; None when it has no comparison
    with every one of some rows."""
    for k, cmp in enumerate(items):
        if cmp.kind != "kw" or cmp.kw != "cmp" or cmp.arg[0] not in (">", ">=", "<", "<="):
            continue
        j = k + 1
        while j < len(items) and items[j].kind == "word" and items[j].text.lower() in _BETWEEN:
            j += 1
        if j + 1 >= len(items) or items[j].text.lower() not in _EVERY:
            continue
        rows = j + 1
        if items[rows].kind == "word" and items[rows].text.lower() == "the":
            rows += 1
        chosen = items[rows].chosen if rows < len(items) and items[rows].kind == "entry" else None
        if chosen is None or chosen.kind != "model":
            continue
        field = _field_before(facts, items, k) or _concept_field(facts, cmp, chosen.model)
        if field is None or field[0].lower() != chosen.model.lower():
            return None
        end = next((i for i in range(rows + 1, len(items)) if items[i].kw == "sort"), None)
        stop = tokens[items[end].first].start if end is not None else len(question)
        agg = "maximum" if cmp.arg[0] in (">", ">=") else "minimum"
        figure = f"{agg} {field[1]}"
        outer = question[: tokens[cmp.last].end] + f" the {figure} " + question[stop:]
        inner = f"{figure} of " + question[tokens[items[rows].first].start : stop]
        return outer.strip(), inner.strip()
    return None


def _field_before(facts: ModelFacts, items: list[Item], k: int) -> tuple[str, str] | None:
    j = k - 1
    while j >= 0 and items[j].kind == "word" and items[j].text.lower() in _VERBS:
        j -= 1
    chosen = items[j].chosen if j >= 0 and items[j].kind == "entry" else None
    if chosen is None or chosen.kind != "field":
        return None
    info = facts.lexicon.field(chosen.model, str(chosen.name))
    if info.kind != "number" or info.key:
        return None
    return chosen.model, items[j].text


def _concept_field(facts: ModelFacts, cmp: Item, model: str) -> tuple[str, str] | None:
    concept = cmp.arg[1]
    if not concept:
        return None
    found = facts.field_with_words(model, CONCEPT_FIELDS.get(str(concept), (str(concept),)))
    if found is None:
        return None
    words = [w for w in identifier_words(found) if w not in STOPWORDS]
    return model, " ".join(words) or found
