"""Comparisons said of the rows named right before them: "the bakery with the most bakers
older than 30" compares the bakers' age, not a year of the bakery the question is about.

Read after the roles (:func:`compared_of_rows_named`): a comparison by a concept ("older",
"heavier") whose field is still open, right after a model ("bakers older than 30"), or after a
model and the concept's word ("trees weighing more than 100"), compares that model's own field
for the concept when it has one; otherwise the planner settles it as before (the subject's)."""

from __future__ import annotations

from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import Item, Reading
from sqlgate.nl.vocabulary import CONCEPT_FIELDS


def compared_of_rows_named(facts: ModelFacts, r: Reading, items: list[Item]) -> None:
    """Settle the field of each such comparison in ``r`` (see the module's docstring)."""
    open_ = [f for f in r.filters if f.kind == "compare" and f.name is None and f.concept]
    for f in open_:
        k = _comparison_at(items, f.words)
        if k is None:
            continue
        before = k - 1
        if before >= 0 and items[before].kind == "concept":
            before -= 1  # "trees weighing more than 100"
        if before < 0 or items[before].kind != "entry":
            continue
        chosen = items[before].chosen
        if chosen is None or chosen.kind != "model":
            continue
        words = CONCEPT_FIELDS.get(str(f.concept), (str(f.concept),))
        found = facts.field_with_words(chosen.model, words)
        if found is not None:
            f.model, f.name = chosen.model, found


def _comparison_at(items: list[Item], words: str) -> int | None:
    """The position of the comparison word a filter was read from (its words start with it,
    and the number compared with follows it)."""
    said = words.lower()
    found = [
        k
        for k, item in enumerate(items[:-1])
        if item.kind == "kw"
        and item.kw == "cmp"
        and said == f"{item.text} {items[k + 1].text}".lower()
    ]
    return found[0] if len(found) == 1 else None


def other_number_named(facts: ModelFacts, items: list[Item], base: str) -> bool:
    """Whether the question names a number field that nothing reads, of another model than
    ``base`` ("bakeries with a total of orders above 40") or not ``base``'s default number: a
    bare comparison may be about it, so it is not taken for the default."""
    default = facts.default_measure(base)
    for item in items:
        chosen = item.chosen if item.kind == "entry" else None
        if chosen is None or chosen.kind != "field" or item.role is not None:
            continue
        info = facts.lexicon.field(chosen.model, str(chosen.name))
        if info.kind != "number" or info.key:
            continue
        if chosen.model.lower() != base.lower() or (chosen.model, chosen.name) != default:
            return True  # of another model, or another number of the same rows than guessed
    return False
