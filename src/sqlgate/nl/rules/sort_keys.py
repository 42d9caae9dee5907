"""Sort keys after the first: "sorted by age descending and then by name", "sort the bakers by
age in descending order and by name in ascending order", "ordered by town and name".

Read before the roles (:func:`later_sort_keys`): after a sort cue and its first field, each
further field joined by "then", "by" (or by a plain "and", when it ends the question) is one
more key, with its own direction; the roles never see them (so "and by name" is not a grouping,
nor "name" a column listed), and the keys are added to the ORDER BY after the first
(:func:`add_sort_keys`). When the first key is not a field of the rows listed, or a later key is
not a column the query can order by, the question declines."""

from __future__ import annotations

from sqlglot import exp

from sqlgate.nl.rules.cues import sort_by
from sqlgate.nl.rules.parts import CannotAnswer, Item, Plan
from sqlgate.nl.vocabulary import STOPWORDS

#: A later sort key: (model, field, "asc"/"desc").
SortKey = tuple[str, str, str]

_JOINERS = frozenset({"and", ",", "then"})


def later_sort_keys(items: list[Item]) -> tuple[list[Item], list[SortKey]]:
    """The items that say sort keys after the first (to keep from the roles), and those keys."""
    start = next((k for k, i in enumerate(items) if _sort_cue(items, k)), None)
    if start is None:
        return [], []
    k = _skip_stopwords(items, start + 1)
    if k >= len(items) or not _field(items[k]):
        return [], []
    k = _after_direction(items, k + 1)[0]
    hidden: list[Item] = []
    keys: list[SortKey] = []
    while k < len(items):
        said: list[Item] = []
        j = k
        while j < len(items) and (items[j].text.lower() in _JOINERS or _stopword(items[j])):
            said.append(items[j])
            j += 1
        if j < len(items) and (items[j].kw == "sort" or (items[j].kw == "group" and _by(items[j]))):
            said.append(items[j])
            j = _skip_stopwords(items, j + 1)
        if j >= len(items) or not _field(items[j]) or not said:
            break
        field = items[j]
        j, direction, dir_item = _after_direction(items, j + 1)
        cue = {i.text.lower() for i in said}
        plain = not cue & {"then", "by"} and not any(i.kw == "sort" for i in said)
        if plain and ("and" not in cue or _skip_stopwords(items, j) < len(items)):
            break  # a plain "and" joins a key only at the end: "sorted by age and name"
        assert field.chosen is not None
        keys.append((field.chosen.model, str(field.chosen.name), direction))
        hidden += [*said, field, *([dir_item] if dir_item else [])]
        k = j
    return hidden, keys


def read_as_sort_keys(hidden: list[Item]) -> None:
    """Give the hidden items their role: they order the rows."""
    for item in hidden:
        if item.kind == "word" and item.text.lower() == "then":
            item.kind, item.kw = "kw", "sort"
        if item.kind != "word":
            item.role = "order"


def add_sort_keys(select: exp.Expr, plan: Plan, keys: list[SortKey]) -> exp.Expr:
    """``select`` ordered by the later ``keys`` after its first key; raises
    :class:`CannotAnswer` when it has no first key or a key is not a column it can order by."""
    if not keys:
        return select
    if not isinstance(select, exp.Select) or plan.order is None or plan.combined:
        raise CannotAnswer("I could not tell the first of the several orders the question asks.")
    grouped = {g.sql().lower() for g in select.args.get("group", exp.Group()).expressions}
    joined = {t.name.lower() for t in select.find_all(exp.Table)}
    out = []
    for model, name, direction in keys:
        column = exp.column(exp.to_identifier(name), table=exp.to_identifier(model))
        if model.lower() not in joined or (plan.measures and column.sql().lower() not in grouped):
            raise CannotAnswer(f"The rows are not ordered by {model}.{name} after their first key.")
        out.append(exp.Ordered(this=column, desc=direction == "desc", nulls_first=False))
    return select.order_by(*out, append=True)


def _sort_cue(items: list[Item], k: int) -> bool:
    return items[k].kind == "kw" and (
        items[k].kw == "sort" or (items[k].kw == "group" and sort_by(items, k))
    )


def _by(item: Item) -> bool:
    return item.text.lower() == "by"


def _field(item: Item) -> bool:
    return item.kind == "entry" and item.chosen is not None and item.chosen.kind == "field"


def _stopword(item: Item) -> bool:
    return item.kind == "word" and item.text.lower() in STOPWORDS


def _skip_stopwords(items: list[Item], k: int) -> int:
    while k < len(items) and _stopword(items[k]):
        k += 1
    return k


def _after_direction(items: list[Item], k: int) -> tuple[int, str, Item | None]:
    if k < len(items) and items[k].kw == "dir":
        return k + 1, str(items[k].arg), items[k]
    return k, "asc", None
