"""A verb of a kind of figure right before "the most" or "the least": "which keeper *earns the
most*", "which animal *weighs the least*" rank by the figure the verb says (a salary, a weight),
as "the heaviest" ranks by weight. Without this the verb was left over and the question declined.
"""

from __future__ import annotations

from sqlgate.nl.rules.parts import Item
from sqlgate.nl.vocabulary import CONCEPT_WORDS

#: The kinds of figure a verb says of its subject's own row (not "spent", a total of others).
_FIGURES = frozenset({"weight", "pay", "price", "length"})
#: The superlatives that say no figure of their own.
_BARE = frozenset({"the most", "most", "the least", "least"})


def concepts_ranked(items: list[Item]) -> None:
    """Join each verb of a figure with the bare superlative right after it, in place."""
    k = 0
    while k < len(items) - 1:
        verb, rank = items[k], items[k + 1]
        bare = rank.kind == "kw" and rank.kw == "sup" and rank.text.lower() in _BARE
        concept = CONCEPT_WORDS.get(verb.text.lower()) if verb.kind == "word" else None
        if concept in _FIGURES and bare and isinstance(rank.arg, tuple) and rank.arg[1] is None:
            rank.arg = (rank.arg[0], concept)
            rank.first, rank.text = verb.first, f"{verb.text} {rank.text}"
            del items[k]
            continue
        k += 1
