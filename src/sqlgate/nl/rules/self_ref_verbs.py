"""Verbs that say a column pointing back to its own model, when the column is a manager's
(``manager_id``, ``supervisor``, ``boss_no`` of ``staff`` pointing to ``staff``):

* "who manages Scott", "who does Scott report to": the row Scott's row points to;
* "which users report to Maria", "who works under Maria", "whom does Maria manage": the rows
  pointing to Maria's row.

Without this, "users who report to Maria" was read as Maria's own row ("report" is also a
filler word of "report the names"): a confident wrong answer.
"""

from __future__ import annotations

from sqlgate.nl.name_words import name_words
from sqlgate.nl.rules.parts import Item
from sqlgate.nl.semantic import Join, SemanticIndex

#: Words of a column naming the row that manages its row.
_MANAGER_WORDS = frozenset({"manager", "supervisor", "boss", "superior"})
_KEY_WORDS = frozenset({"id", "no", "code", "key", "number", "ref"})

#: Verbs of being managed and the word after them: the rows they follow point to the row after.
_MANAGED = {
    ("report", "to"), ("reports", "to"), ("reported", "to"), ("reporting", "to"),
    ("work", "under"), ("works", "under"), ("worked", "under"), ("working", "under"),
    ("managed", "by"), ("supervised", "by"),
}  # fmt: skip
#: Verbs of managing: the row after them is the one pointed to by the rows before.
_MANAGING = frozenset({"manage", "manages", "supervise", "supervises"})


def manager_join(index: SemanticIndex) -> Join | None:
    """The one to-one join of a model to its own key through a manager's column, else None."""
    found = []
    for joins in index.joins.values():
        for j in joins:
            if j.left.lower() != j.right.lower() or not j.to_one or len(j.left_columns) != 1:
                continue
            words = [w for w in name_words(j.left_columns[0]) if w not in _KEY_WORDS]
            if len(words) == 1 and words[0] in _MANAGER_WORDS:
                found.append(j)
    return found[0] if len(found) == 1 else None


def manager_verb(
    index: SemanticIndex, items: list[Item]
) -> tuple[Item, list[Item], Join, str] | None:
    """The verb of managing in ``items``, the little word after it, the manager's join and the
    side of the row the one value names: "owner" when the rows asked are the ones its row
    points to ("who manages Scott"), "member" when they point to it ("report to Maria")."""
    join = manager_join(index)
    if join is None:
        return None
    values = [
        k
        for k, i in enumerate(items)
        if i.kind == "entry"
        and i.chosen is not None
        and i.chosen.kind == "value"
        and i.chosen.model.lower() == join.left.lower()
    ]
    if len(values) != 1:
        return None
    for k, item in enumerate(items):
        if item.kind != "word":
            continue
        word = item.text.lower()
        after = items[k + 1] if k + 1 < len(items) else None
        pair = (word, after.text.lower()) if after is not None else None
        if pair in _MANAGED and after is not None:
            side = "member" if values[0] > k else "owner"  # "does Scott report to"
            return item, [after], join, side
        if word in _MANAGING:
            side = "owner" if values[0] > k else "member"  # "whom does Maria manage"
            return item, [], join, side
    return None


def unread_manager(items: list[Item]) -> Item | None:
    """A verb of being managed or of managing before a value of the very model it lists, when
    no manager's column was read ("employees who report to King" without one): the verb, so
    that the question declines rather than answer with King's own row."""
    subjects = {
        i.chosen.model.lower()
        for i in items
        if i.kind == "entry" and i.chosen is not None and i.chosen.kind == "model"
    }
    for k, item in enumerate(items):
        after = items[k + 1] if k + 1 < len(items) else None
        pair = (item.text.lower(), after.text.lower()) if after is not None else None
        if item.kind != "word" or (pair not in _MANAGED and item.text.lower() not in _MANAGING):
            continue
        who = items[0].text.lower() in ("who", "whom")
        for value in items[k + 1 :]:
            chosen = value.chosen
            if chosen is None or value.kind != "entry" or chosen.kind != "value":
                continue
            if chosen.model.lower() in subjects or who:
                return item
    return None
