"""Two kinds of rows asked at once: "the names of the teachers and the courses they teach", "show
the names of members and their clubs". One row per pair of related rows, with the fields asked of
the first kind and the label of the second; the second kind is named after "and", in the plural,
and nothing but a clause that refers back to the first ("they teach", "their") comes after it.
"""

from __future__ import annotations

from sqlgate.nl.joins import plan_joins
from sqlgate.nl.rules.entities import BACK_REFERENCES
from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import CannotAnswer, Item, Reading
from sqlgate.nl.spelling import lemma
from sqlgate.nl.vocabulary import _words

#: Words between "and" and the second kind of rows ("and *the* courses", "and *their* clubs").
_BEFORE = _words("the their its his her all each")

#: Words that turn the clause around ("the courses they do not teach"): not this shape.
_NEGATIONS = _words("not no never none without nor neither cannot dont don't doesn't didn't n't")

#: Words that may start the clause after the second kind ("the courses *that they* teach").
_CLAUSE = _words("that which who whom where they them")


def second_kind_columns(
    facts: ModelFacts, r: Reading, items: list[Item], subject: str | None
) -> list[tuple[str, str]] | None:
    """The label columns of the second kind of rows the question asks for beside the listed
    ``subject`` ones, or None when the question is not of that shape."""
    if subject is None or r.measures or r.pending_agg is not None:
        return None
    if r.limit is not None or r.superlative is not None or not _own_order(r, subject):
        return None
    sorting = [i for i in items if i.role == "order"]
    end = sorting[0].first if sorting else len(items) + max((i.last for i in items), default=0)
    subjects = [
        i for i in r.subjects if i.chosen is not None and i.role == "subject" and i.first < end
    ]
    if len(subjects) < 2 or subjects[0].chosen is None or subjects[1].chosen is None:
        return None
    first, second, *links = subjects
    if first.chosen.model.lower() != subject.lower():
        return None
    other = second.chosen.model
    word = second.text.split()[-1].lower()
    if other.lower() == subject.lower() or lemma(word) == word:
        return None  # "and the course": one of them, which?
    path = plan_joins(facts.index, subject, [other])
    model = facts.index.get_model(other)
    if path is None or not path.steps or len(path.steps) > 2 or model is None:
        return None
    between = {m.lower() for m in path.models[1:-1]}  # "the employees they *hired*": the link
    if any(i.chosen is None or i.chosen.model.lower() not in between for i in links):
        return None
    if not _after_and(items, first, second):
        return None
    clause = [w for i in items if second.last < i.first < end for w in i.text.lower().split()]
    if set(clause) & BACK_REFERENCES and set(clause) & _NEGATIONS:
        raise CannotAnswer(  # never the first kind without any of the second instead
            f"I cannot list pairs of {subject} and {other} that are not related."
        )
    if r.filters or not _refers_back(items, second, end, links):
        return None
    shown = list(model.label_columns) or list(model.primary_key)
    if not shown:
        return None
    for item in (second, *links):
        item.role = "context"
    return [(model.name, c) for c in shown]


def _after_and(items: list[Item], first: Item, second: Item) -> bool:
    """ "teachers and the courses": only words of the first kind's fields, then "and"."""
    between = [i for i in items if first.last < i.first < second.first]
    ands = [k for k, i in enumerate(between) if i.text.lower() == "and"]
    if len(ands) != 1:
        return False
    rest = between[ands[0] + 1 :]
    return all(i.kind == "word" and i.text.lower() in _BEFORE for i in rest)


def _own_order(r: Reading, subject: str) -> bool:
    """No order, or one by a field of the first kind's ("sorted by the teacher's name")."""
    if r.order is None:
        return True
    item = r.order[2]
    chosen = item.chosen if r.order[1] == "field" and isinstance(item, Item) else None
    return chosen is not None and chosen.model.lower() == subject.lower()


def _refers_back(items: list[Item], second: Item, end: int, links: list[Item]) -> bool:
    """Nothing after the second kind up to the order asked (at ``end``), or a clause of words
    no model reads that refers back to the first ("they teach", "they are arranged to teach")."""
    after = [i for i in items if second.last < i.first < end]
    if not after:
        return True
    if after[0].kind != "word" or after[0].text.lower() not in _CLAUSE:
        return False
    words = [w for i in after for w in i.text.lower().split()]
    back = any(w in BACK_REFERENCES for w in words)
    plain = all(i.kind == "word" or any(i is k for k in links) for i in after)
    plain = plain and not any(w in _NEGATIONS for w in words)
    return back and plain
