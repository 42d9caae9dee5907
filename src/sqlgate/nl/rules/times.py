"""How many times something was done, said with "times" or "once": "growers who watered a tree
more than once", "the tree watered the most times". The rows counted are those of the model the
verb before it names (``watered``: the ``watering`` rows), as if the question said "more than 1
watering" or "the most waterings"; the object of the verb between them ("a tree") is what each
of those rows is of, not counted apart."""

from __future__ import annotations

from dataclasses import replace

from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import Item
from sqlgate.nl.vocabulary import STOPWORDS

#: "once" is one time, "twice" two.
_TIMES = {"once": 1.0, "twice": 2.0, "thrice": 3.0}


def times_as_rows(facts: ModelFacts, items: list[Item]) -> None:
    """Rewrite "more than once" into "more than 1 <event rows>", and "N times" or "the most
    times" after a comparison or superlative into the event rows; nothing changes when no verb
    before it names a model."""
    pos = 0
    while pos < len(items):
        item = items[pos]
        word = item.text.lower() if item.kind == "word" else ""
        before = _previous(items, pos)
        counted = None
        if word in _TIMES and before is not None and before.kw == "cmp":
            counted = _event(facts, items, pos)
            if counted is not None:
                rows = replace(counted, first=item.first, last=item.last, role=None)
                item.kind, item.arg = "number", _TIMES[word]
                items.insert(pos + 1, rows)
        elif word in ("time", "times") and before is not None and _counts(items, before):
            counted = _event(facts, items, pos)
            if counted is not None:
                item.kind, item.entries, item.chosen = "entry", counted.entries, counted.chosen
        pos += 1


def _counts(items: list[Item], before: Item) -> bool:
    """ "3 times" after a comparison, "the most times": a count, not a time of day."""
    if before.kind == "kw" and before.kw == "sup" and before.arg and before.arg[1] is None:
        return True
    k = items.index(before)
    return before.kind == "number" and k > 0 and items[k - 1].kw == "cmp"


def _previous(items: list[Item], pos: int) -> Item | None:
    for item in reversed(items[:pos]):
        if item.kind == "word" and item.text.lower() in STOPWORDS:
            continue
        return item
    return None


def _event(facts: ModelFacts, items: list[Item], pos: int) -> Item | None:
    """The model named by the nearest verb before ``pos`` ("watered"), when all that stands
    between them is what its rows point to ("a tree") and the comparison or superlative;
    those models are marked as what each row is of."""
    for k in range(pos - 1, -1, -1):
        item = items[k]
        chosen = item.chosen
        if item.kind == "entry" and chosen is not None and chosen.kind == "model":
            if item.text.lower().endswith("ed"):
                break
            continue
        if item.kind == "word" and item.text.lower() in STOPWORDS:
            continue
        if item.kind == "number" or item.kw in ("cmp", "sup"):
            continue
        return None
    else:
        return None
    assert chosen is not None
    objects = [i for i in items[k + 1 : pos] if i.kind == "entry"]
    pointed = {j.right.lower() for j in facts.index.joins.get(chosen.model.lower(), ()) if j.to_one}
    if any(i.chosen is None or i.chosen.model.lower() not in pointed for i in objects):
        return None
    for i in objects:
        i.kind, i.role = "unit", "filter"  # "a tree": what each watering is of
    return Item("entry", item.first, item.last, item.text, [chosen], chosen=chosen)
