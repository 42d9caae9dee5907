"""What the rule-based translator passes from stage to stage: the items a question is cut into,
the reading of their roles (:class:`Reading`) and the plan of the query (:class:`Plan`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlgate.nl import timeexpr
from sqlgate.nl.lexicon import Entry
from sqlgate.nl.vocabulary import STOPWORDS


@dataclass
class Item:
    kind: str  # entry, kw, number, range, grain, word, quoted
    first: int
    last: int
    text: str
    entries: list[Entry] = field(default_factory=list)
    kw: str | None = None
    arg: Any = None
    role: str | None = None
    chosen: Entry | None = None


@dataclass
class Measure:
    func: str  # count, count_distinct, sum, avg, min, max, metric
    model: str
    name: str | None = None  # field or metric
    words: str = ""


@dataclass
class Dimension:
    kind: str  # field, model, grain
    model: str | None
    name: str | None = None
    grain: str | None = None
    words: str = ""


@dataclass
class Filter:
    kind: str  # values, compare, range, having
    model: str | None = None
    name: str | None = None
    op: str = "="
    values: list[Any] = field(default_factory=list)
    negated: bool = False
    range: timeexpr.DateRange | None = None
    concept: str | None = None
    measure: Measure | None = None
    words: str = ""
    alternative: bool = False  # joined to the filter before it by "or"
    overall: str | None = None  # compared with this aggregate of the field over its model
    joined: str = ""  # how its several values were joined: "and" / "or"
    within: tuple[str, ...] = ()  # a winner filter: the columns of its group
    inside: tuple[str, ...] = ()  # an absent filter: models read inside it, beyond its model
    via: tuple[str, ...] = ()  # the root's columns of the relationship the value is matched by
    back: bool = False  # via: matched on the rows whose ``via`` points to the root's row
    passive: bool = False  # "staff who are trusted": the related row's other side
    figure: Any = None  # overall: the figure's own query, on some rows only (``exp.Select``)
    scope: str = ""  # overall: which rows the figure is of, as explained


#: Marks (in ``Item.arg``) an entry a superlative ranks by other means than its own column: "the
#: rarest *coat*" (the groups of the column pointing to it), "the most recent *visit cost*"
#: (the figure asked of the row with the latest date).
RANKED_GROUP, FIGURE = "ranked group", "figure"

#: (direction "asc"/"desc", what: "measure" / "field" / "field_ref" / "pending", the target)
Order = tuple[str, str, Any]


@dataclass
class Reading:
    measures: list[Measure] = field(default_factory=list)
    dimensions: list[Dimension] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)
    subjects: list[Item] = field(default_factory=list)
    fields: list[Item] = field(default_factory=list)
    order: Order | None = None
    limit: int | None = None
    superlative: tuple[str, str | None, Item] | None = None
    superlative_field: tuple[str, str] | None = None  # "the highest price"
    by_measure: bool = False  # "top 5 genres by number of tracks"
    listing: bool = False
    when: bool = False
    pending_agg: tuple[str, Item] | None = None
    agg_concept: Item | None = None  # "the maximum cost": a concept word right after it
    #: "than the average age of bakers in Leeds": the figure is of some rows only; token indexes
    #: of its aggregate word, of where its rows are named, and of where they end (or None)
    figure_scope: tuple[int, int, int | None] | None = None
    sort_keys: list[tuple[str, str, str]] = field(default_factory=list)  # after the first key


@dataclass
class Plan:
    root: str
    measures: list[Measure]
    dimensions: list[Dimension]
    filters: list[Filter]
    order: Order | None
    limit: int | None
    listing: bool
    subject: str | None
    extra_columns: list[tuple[str, str]]
    only_columns: bool = False  # list the fields asked only (a part of a set question)
    distinct: bool = False  # "the different countries": each listed once
    words: frozenset[str] = frozenset()  # the question's words, lower-case (role joins)
    combined: str = ""  # a set question: how its parts' rows are combined
    then_by: list[tuple[str, str, str]] = field(default_factory=list)  # sort keys after the first


class CannotAnswer(Exception):
    """The question was read, but no query answers it; the message says why."""


# --- looking around an item ---------------------------------------------------------------------


def next_significant(items: list[Item], pos: int) -> Item | None:
    for item in items[pos + 1 :]:
        if item.kind == "word" and item.text.lower() in STOPWORDS:
            continue
        if item.kind == "kw" and item.kw == "conj":
            continue
        return item
    return None


def only_connectors(items: list[Item], last: Filter, pos: int) -> bool:
    for item in reversed(items[:pos]):
        if item.kind == "entry" and item.chosen and item.chosen.kind == "value":
            return True
        if item.kind == "kw" and item.kw in ("conj",):
            continue
        if item.kind == "word" and item.text.lower() in STOPWORDS:
            continue
        return False
    return False


def joiner_before(items: list[Item], pos: int) -> str:
    """ "or" when an "or" joins the item at ``pos`` to the value before it, else "and"."""
    for item in reversed(items[:pos]):
        if item.kind == "entry" and item.chosen and item.chosen.kind == "value":
            break
        if item.kw == "conj" and item.text.lower() in ("or", "nor"):
            return "or"
    return "and"


def singular_next(items: list[Item], pos: int) -> bool:
    nxt = next_significant(items, pos)
    return nxt is not None and singular_item(nxt)


#: Plurals that do not end in "s" ("the most people": a count, as "the most members").
_PLURALS = frozenset({"people", "children", "men", "women"})


def singular_item(item: Item) -> bool:
    word = item.text.split()[-1].lower() if item.text else ""
    return bool(word) and not word.endswith("s") and word not in _PLURALS


def singular_subject(r: Reading) -> bool:
    for item in r.subjects + r.fields:
        return singular_item(item)
    return False


#: Verbs that agree with one subject ("which of the countries has the most makers").
SINGULAR_VERBS = frozenset({"has", "is", "was", "does"})


def singular_verb(items: list[Item], item: Item) -> bool:
    """Whether the word right after ``item`` is a verb in the singular."""
    after = [i for i in items if i.first == item.last + 1]
    return bool(after) and after[0].kind == "word" and after[0].text.lower() in SINGULAR_VERBS
