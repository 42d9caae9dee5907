"""A sort by a figure the question already asked for, named again by a pointing word: "the name
and the number of posts of each person, sorted by that number" sorts by the count, ascending
unless a direction follows ("... in descending order")."""

from __future__ import annotations

from sqlgate.nl.rules.parts import Item, Reading

_POINTING = frozenset(("that", "this", "the", "said"))
_FIGURE_WORDS = frozenset(("number", "count"))


def sorted_by_that_number(reading: Reading, items: list[Item]) -> None:
    """Sort by the one count the question asks for when "sorted by that number" names it."""
    counts = [m for m in reading.measures if m.func in ("count", "count_distinct")]
    if len(counts) != 1 or len(reading.measures) != 1:
        return
    for pos, item in enumerate(items):
        if item.kw != "sort" or pos + 2 >= len(items):
            continue
        pointer, figure = items[pos + 1], items[pos + 2]
        if not (
            pointer.kind == "word"
            and pointer.text.lower() in _POINTING - {"the"}
            and figure.kind == "word"
            and figure.text.lower() in _FIGURE_WORDS
        ):
            continue
        if any(i.kind in ("entry", "number", "quoted") for i in items[pos + 3 :]):
            return  # "sorted by that number of posts of ...": more than the figure itself
        direction = reading.order[0] if reading.order is not None else "asc"
        reading.order = (direction, "pending", None)
        reading.by_measure = True
        pointer.role = figure.role = "order"
        return
