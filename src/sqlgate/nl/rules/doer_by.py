"""The "by" that names who did it, not what to group by: "posts by people at level 1" are the
posts of the people at level 1, one row per post, while "posts by person" are counted per person.

It is the doer when the rows before "by" link straight to the rows after it (a post has its
person) and those rows are narrowed right away by a field or a value of their own ("at level 1",
"with a level above 1", "in club Chess"). A plain "by people", or "by each person", still groups."""

from __future__ import annotations

from sqlgate.nl.rules.cues import passive_by
from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import Filter, Item

#: Words between the doer and the field or value that narrows it ("people *at* level 1").
_NARROWING = frozenset(
    "at with whose who that which of in from is are has have a an the".split()  # noqa: SIM905
)

#: Words before a model whose value then narrows the doer ("people *in* club Chess").
_INTO = frozenset(("in", "at", "from"))


def _model(item: Item | None) -> str | None:
    if item is None or item.kind != "entry" or item.chosen is None:
        return None
    return str(item.chosen.model) if item.chosen.kind == "model" else None


def doer_by(facts: ModelFacts, items: list[Item], pos: int) -> bool:
    """Whether "by" at ``pos`` names the rows that did what the rows before it record."""
    if items[pos].text.lower() != "by" or not 0 < pos < len(items) - 2:
        return False
    rows, doer = _model(items[pos - 1]), _model(items[pos + 1])
    if rows is None or doer is None or rows.lower() == doer.lower():
        return False
    joins = facts.index.joins.get(rows.lower(), ())
    if not any(j.to_one and j.right.lower() == doer.lower() for j in joins):
        return False
    through = ""  # "people in *club* Chess": a value of the model named after "in" names them
    for k in range(pos + 2, len(items)):
        item = items[k]
        words = item.text.lower().split()
        if item.kind in ("word", "kw") and words and all(w in _NARROWING for w in words):
            continue  # "at", "with", "who are"
        chosen = item.chosen if item.kind == "entry" else None
        if chosen is None:
            return False
        model = str(chosen.model).lower()
        if chosen.kind == "model" and not through and items[k - 1].text.lower() in _INTO:
            through = model
            continue
        if through:
            return chosen.kind == "value" and model == through
        return chosen.kind in ("field", "value") and model == doer.lower()
    return False


def agent_by(facts: ModelFacts, items: list[Item], pos: int) -> bool:
    """Whether "by" at ``pos`` names who did it: after a participle ("written by", "owned by")
    or as above ("posts by people at level 1"), not what to group by."""
    return passive_by(items, pos) or doer_by(facts, items, pos)


def doer_of_own_rows(plan_filters: list[Filter], root: str, items: list[Item]) -> str | None:
    """Why "people who are followed *by Ada*" cannot be answered as read, or None: the rows are
    the object of a link of their own model, and a value or field after "by" names its other
    side (the people Ada follows), not the rows asked for. Filtering the rows by it would answer
    another question, so the question declines."""
    if not any(f.passive for f in plan_filters):
        return None
    by = next((k for k, i in enumerate(items) if i.text.lower() == "by"), None)
    for item in items[by + 1 :] if by is not None else []:
        chosen = item.chosen if item.kind == "entry" else None
        if chosen is None or chosen.kind not in ("value", "field"):
            continue
        if str(chosen.model).lower() == root.lower():
            return (
                f"'{item.text}' after 'by' names who is on the other side of the link, which "
                "I cannot tell apart from the rows asked for."
            )
    return None
