"""A superlative that heads the question and names a number field is that field's figure:
"what is the highest wage of bakers at each bakery" is ``MAX(wage)`` per bakery, "what are the
highest and lowest wages" is ``MAX`` and ``MIN``, as "the maximum and minimum wage" are.

Read before the roles (:func:`superlatives_as_figures`): without it, the superlative ranked
rows ("the baker with the highest wage in each bakery", a winner per group) or listed them all
in order, answering another question. A superlative after the rows it ranks ("which baker has
the highest wage", "the bakery with the most staff") is not at the head and is left as it is;
so are "most" and "least" (counts) and a superlative before anything but a number field."""

from __future__ import annotations

from sqlgate.nl.rules.cues import number_field
from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import Item
from sqlgate.nl.vocabulary import STOPWORDS

#: Superlatives that can name a figure of a field (not a count: "most", "least", "fewest").
_FIGURE_WORDS = frozenset(
    {"highest", "lowest", "greatest", "largest", "biggest", "smallest", "longest", "shortest"}
)


def superlatives_as_figures(facts: ModelFacts, items: list[Item]) -> None:
    """Read the head superlatives before a number field as aggregates (see above)."""
    k = 0
    while k < len(items) and (_filler(items[k]) or items[k].kw == "list"):
        k += 1
    run: list[Item] = []
    while k < len(items):
        item = items[k]
        if item.kw == "sup" and item.text.lower() in _FIGURE_WORDS:
            run.append(item)
        elif item.kw != "agg" and not _and(item) and not _filler(item):
            break
        k += 1
    if not run or k >= len(items) or not number_field(facts, items[k]):
        return
    after = items[k + 1] if k + 1 < len(items) else None
    if (
        after is not None
        and after.kind == "entry"
        and after.chosen
        and after.chosen.kind == "model"
    ):
        return  # "the largest capacity depot": the depot, ranked
    for item in run:
        item.kw, item.arg = "agg", "max" if item.arg[0] == "desc" else "min"


def _and(item: Item) -> bool:
    return item.kw == "conj" and item.text.lower() == "and"


def _filler(item: Item) -> bool:
    return item.kind == "word" and item.text.lower() in STOPWORDS
