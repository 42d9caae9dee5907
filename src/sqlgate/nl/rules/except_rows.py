"""The rows listed, named again after "except": "all bakeries except bakeries having an order in
2021", "every grower other than growers with a sale". The rows named again are the rows listed
("except those having an order"): what follows them is what the rows left out have.

Read before the roles (:func:`except_rows_named_again`): after an "except" ("excluding", "other
than"), a model the question already named, followed by more words, is read as "those", so the
roles read what follows as the condition "except" negates (rows with no such related row, or a
value they do not have)."""

from __future__ import annotations

from sqlgate.nl.rules.parts import Item, next_significant

#: The "neg" words that leave rows out (not "no", "not": those negate what follows directly).
_EXCEPT = frozenset({"except", "excluding", "other than"})


def except_rows_named_again(items: list[Item]) -> None:
    """Read the rows named again after "except" as "those" (see above)."""
    for k, item in enumerate(items):
        if item.kind != "kw" or item.kw != "neg" or item.text.lower() not in _EXCEPT:
            continue
        again = next_significant(items, k)
        chosen = again.chosen if again is not None and again.kind == "entry" else None
        if again is None or chosen is None or chosen.kind != "model":
            continue
        pos = items.index(again)
        if pos + 1 >= len(items) or not any(
            i.kind == "entry" and i.chosen is not None and i.chosen.model == chosen.model
            for i in items[:k]
        ):
            continue  # not the rows named before ("except cakes"), or nothing after them
        again.kind, again.entries, again.chosen = "word", [], None
        again.text = "those"
