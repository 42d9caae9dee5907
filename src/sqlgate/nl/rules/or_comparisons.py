"""A second comparison joined by "or": "more than 1 baker or more than 2 orders", "fewer than 3
vans or less than 2 trips".

The keywords "or more" and "or less" ("2 or more orders") match first, leaving "than" alone, so
the second comparison was read as "2 or more" (``>=``) and joined with "and". Read before the
roles (:func:`or_then_comparison`): "or more" / "or less" / "or fewer" right before "than" is
the conjunction "or" and the comparison "more than" / "less than" / "fewer than"."""

from __future__ import annotations

from sqlgate.nl.rules.parts import Item

_COMPARED = {"more": ">", "less": "<", "fewer": "<"}


def or_then_comparison(items: list[Item]) -> list[Item]:
    """``items`` with each such keyword split into "or" and the comparison (see above)."""
    out: list[Item] = []
    for k, item in enumerate(items):
        words = item.text.lower().split()
        nxt = items[k + 1] if k + 1 < len(items) else None
        if (
            item.kind == "kw"
            and item.kw == "cmp"
            and len(words) == 2
            and words[0] == "or"
            and words[1] in _COMPARED
            and nxt is not None
            and nxt.kind == "word"
            and nxt.text.lower() == "than"
        ):
            first = item.text.split()[0]
            out.append(Item("kw", item.first, item.first, first, kw="conj"))
            nxt.kind, nxt.kw, nxt.arg = "kw", "cmp", (_COMPARED[words[1]], None)
            nxt.first, nxt.text = item.first + 1, f"{item.text.split()[1]} {nxt.text}"
            continue
        out.append(item)
    return out
