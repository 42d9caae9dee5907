"""Rows with two kinds of related rows: "bakeries that have both bakers and orders", "a baker
older than 50 or an order in 2022", "bakers but no orders".

The roles read the first related rows after the verb ("have bakers") as rows the answer's rows
must have (``key IN`` a subquery); the second, after "and", "or" or "but", was left a subject of
its own and the question declined. Read after the roles (:func:`second_related_rows`): a model
named right after such a conjunction (an article between at most), related to the rows listed
and not the rows listed themselves, is more related rows: with "and" the rows must have both,
with "or" either; "but no" rows keeps its negation. Each kind's own conditions ("older than 50",
"in 2021") apply inside its subquery."""

from __future__ import annotations

from sqlgate.nl.rules.parts import Filter, Item, Reading

#: Words that may stand between the conjunction and the second related rows.
_ARTICLES = frozenset({"a", "an", "the", "any", "some", "also", "both"})

_JOINERS = frozenset({"and", "or", "but"})


def second_related_rows(r: Reading, items: list[Item]) -> None:
    """Read the related rows after the conjunction (see above), and the "both" and "but" that
    say how the two kinds combine."""
    counted = [m.model for m in r.measures if m.func == "count"]
    if len(counted) == 1 and len(r.measures) == 1:
        base = counted[0]  # "how many bakeries have both bakers and orders"
    elif r.subjects and r.subjects[0].chosen is not None and not r.measures:
        base = r.subjects[0].chosen.model
    else:
        return
    _both(r, items, base)
    absent = {str(f.model) for f in r.filters if f.kind == "absent"}
    if not absent:
        return
    for k, item in enumerate(items):
        if item.text.lower() not in _JOINERS or item.kind not in ("kw", "word"):
            continue
        if not _related_before(items, k, absent):
            continue
        j = k + 1
        while j < len(items) and items[j].kind == "word" and items[j].text.lower() in _ARTICLES:
            j += 1
        nxt = items[j] if j < len(items) else None
        aux = j
        while aux < len(items) and items[aux].text.lower() in ("do", "does", "did"):
            aux += 1  # "but do not have orders"
        if aux < len(items) and items[aux].kw == "neg" and item.text.lower() == "but":
            if _other_rows_negated(r, items, aux, absent):
                _as_joiner(item)  # "bakers but no orders": the roles read the negated rows
            continue
        chosen = nxt.chosen if nxt is not None and nxt.kind == "entry" else None
        if nxt is None or chosen is None or chosen.kind != "model" or nxt.role != "subject":
            continue
        if chosen.model == base or chosen.model in absent:
            continue
        f = Filter("absent", chosen.model, words=nxt.text, alternative=item.text.lower() == "or")
        r.filters.append(f)
        absent.add(chosen.model)
        nxt.role = "filter"
        r.subjects = [s for s in r.subjects if s is not nxt]
        _as_joiner(item)
        for word in items[k + 1 : j]:
            word.role = "context"
        for word in items[:k]:
            if word.kind == "word" and word.text.lower() == "both":
                _as_joiner(word)  # "both bakers and orders"


def _both(r: Reading, items: list[Item], base: str) -> None:
    """ "have both bakers and orders": the rows after "both" are the first related rows (the
    roles read a model right after the verb only)."""
    for k, item in enumerate(items):
        if item.kind != "word" or item.text.lower() != "both":
            continue
        j = k + 1
        while j < len(items) and items[j].kind == "word" and items[j].text.lower() in _ARTICLES:
            j += 1
        nxt = items[j] if j < len(items) else None
        chosen = nxt.chosen if nxt is not None and nxt.kind == "entry" else None
        if nxt is None or chosen is None or chosen.kind != "model" or nxt.role != "subject":
            continue
        if chosen.model == base or not any(i.text.lower() == "and" for i in items[j + 1 :]):
            continue
        r.filters.append(Filter("absent", chosen.model, words=nxt.text))
        nxt.role = "filter"
        r.subjects = [s for s in r.subjects if s is not nxt]
        return


def _other_rows_negated(r: Reading, items: list[Item], neg: int, absent: set[str]) -> bool:
    """Whether the rows negated after "but no" are a kind of their own: "vans built before 2016
    but no vans built after 2019" names the same rows twice, which one subquery each does not
    say (left unread, so declined)."""
    after = [i for i in items[neg + 1 :] if i.kind == "entry" and i.chosen is not None]
    if not after or after[0].chosen is None or after[0].chosen.kind != "model":
        return False
    model = after[0].chosen.model
    negated = [f for f in r.filters if f.kind == "absent" and f.negated and f.model == model]
    others = [f for f in r.filters if f.kind == "absent" and not f.negated and f.model == model]
    return bool(negated) and not others and model in absent


def _related_before(items: list[Item], k: int, absent: set[str]) -> bool:
    """Whether related rows the roles read are named before position ``k``."""
    return any(
        i.kind == "entry"
        and i.chosen is not None
        and i.role == "filter"
        and i.chosen.model in absent
        for i in items[:k]
    )


def _as_joiner(item: Item) -> None:
    item.kind, item.kw, item.role = "kw", "conj", "context"
