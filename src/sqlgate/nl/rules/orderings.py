"""Orders named the way people say them: "sorted by the size" after "orchard size" (the
field named before, by its last word), and the direction as a span ("from high to low", "from
oldest to youngest"; the spans themselves are keywords of :mod:`sqlgate.nl.vocabulary`)."""

from __future__ import annotations

from sqlgate.nl.rules.cues import sort_by
from sqlgate.nl.rules.parts import Item
from sqlgate.nl.text import stem

#: Words between the sort cue and the word that names the field again.
_DETERMINERS = frozenset({"the", "their", "its", "his", "her"})


def fields_named_again(items: list[Item]) -> None:
    """ "whose orchard size is above 4, sorted by the size": a lone word right after a
    sort cue that is the last word of exactly one field named earlier is that field again.
    Rewrites the word's item into an entry of that field; nothing else changes."""
    for pos, item in enumerate(items):
        if item.kind != "word" or not _after_sort_cue(items, pos):
            continue
        word = stem(item.text.lower())
        earlier = {
            (i.chosen.model, str(i.chosen.name)): i
            for i in items[:pos]
            if i.kind == "entry"
            and i.chosen is not None
            and i.chosen.kind == "field"
            and len(i.text.split()) > 1
            and stem(i.text.split()[-1].lower()) == word
        }
        if len(earlier) != 1:
            continue
        (named,) = earlier.values()
        assert named.chosen is not None
        item.kind, item.entries, item.chosen = "entry", [named.chosen], named.chosen


def _after_sort_cue(items: list[Item], pos: int) -> bool:
    k = pos - 1
    while k >= 0 and items[k].kind == "word" and items[k].text.lower() in _DETERMINERS:
        k -= 1
    if k < 0 or items[k].kind != "kw":
        return False
    return items[k].kw == "sort" or (items[k].kw == "group" and sort_by(items, k))
