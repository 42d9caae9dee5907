"""Words the shape of a query carries without a name of their own: verbs that only relate or
date what the question names, and nouns that only point back at something it names.

Read by :mod:`sqlgate.nl.rules.coverage` for a word that maps to nothing in the model.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from sqlglot import exp

from sqlgate.nl.lexicon import Lexicon
from sqlgate.nl.rules.cues import _IRREGULAR_PARTICIPLES, RELATION_VERBS
from sqlgate.nl.rules.parts import Item
from sqlgate.nl.rules.role_joins import direction
from sqlgate.nl.rules.verb_links import verb_stems
from sqlgate.nl.semantic import SemanticIndex
from sqlgate.nl.spelling import lemma
from sqlgate.nl.text import identifier_words, stem
from sqlgate.nl.vocabulary import STOPWORDS, _words


class Shown(Protocol):
    """What a query shows (:class:`sqlgate.nl.rules.coverage._Shown`)."""

    tables: set[str]
    tree: exp.Expr

    def has(self, kinds: tuple[type[exp.Expression], ...]) -> bool: ...


#: Verbs of an event that a date right after them says when ("produced in 1980").
EVENT_VERBS = _words(
    """occurred occur occurs happened happen happens opened open founded established released
    born launched built started ended published recorded manufactured introduced took taken
    began begun finished completed issued registered signed"""
)


def verb_accounted(word: str, items: list[Item], k: int, shown: Shown, lexicon: Lexicon) -> bool:
    """A verb the query carries without a word of its own:

    * the event of a date filter: right before it ("cars produced in 1980"), or after the thing
      it dates, with the date later on ("the car produced with 8 cylinders in 1974");
    * the event of a time superlative right before it ("the most recently performed treatment"),
      carried by the ranking on time;
    * the relation between the two models it stands between ("shops *run* with no employees",
      "airlines *serving* these airports"), carried by the query joining them.
    """
    if direction(word):
        return False  # "departing", "landing": carried by the joined column of its side
    after = _significant_after(items, k)
    if not verb_form(word):
        # "employed in 2010": a date filter on a column named with a word of the verb (hire)
        dated = after and after[0].kind == "range" and after[0].role == "filter"
        return bool(dated and verb_stems(word)) and _dated(word, None, shown, _FILTERS, lexicon)
    if after and after[0].kind == "range" and after[0].role == "filter":
        return _dated(word, _side(reversed(items[:k])), shown, _FILTERS, lexicon)
    if after and _time_superlative(after[0]):
        # "which customer was born first": the ranking on the date the verb names
        subject = _side(reversed(items[:k]), models_only=True)
        return _dated(word, subject, shown, (exp.Ordered,), lexicon)
    before = items[k - 1] if k else None
    if before is not None and before.kind == "kw" and before.kw == "sup":
        latest = isinstance(before.arg, tuple) and before.arg[1] == "time"
        return latest and _dated(word, _side(items[k + 1 :]), shown, (exp.Ordered,), lexicon)
    subject = _side(reversed(items[:k]), models_only=True)
    if subject is not None and any(i.kind == "range" and i.role == "filter" for i in items[k:]):
        return _dated(word, subject, shown, _FILTERS, lexicon)
    return _relates(items, k, shown)


def _time_superlative(item: Item) -> bool:
    """ "first", "last", "earliest", "most recently": a ranking on time."""
    return (
        item.kind == "kw"
        and item.kw == "sup"
        and isinstance(item.arg, tuple)
        and (item.arg[1] == "time")
    )


_FILTERS = (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between, exp.EQ)


def _significant_after(items: list[Item], k: int) -> list[Item]:
    """The item after ``k``, past stopwords and the "both" / "either" of a set question."""
    for item in items[k + 1 :]:
        word = item.text.lower()
        if item.kind == "word" and (word in STOPWORDS or word in ("both", "either")):
            continue
        return [item]
    return []


def _dated(
    word: str,
    subject: str | None,
    shown: Shown,
    kinds: tuple[type[exp.Expression], ...],
    lexicon: Lexicon,
) -> bool:
    """Whether a date filter or order of the query dates what the verb is about: a column of
    its subject's model, or one named for the verb ("hired" for ``HireDate``). "Customers born
    in 1980" is not carried by a filter on their support rep's hire date."""
    verbs = {stem(lemma(word))} | verb_stems(word)  # "employed": its synonym "hire" too
    own = subject.lower() if subject is not None else None
    # a model with two dates (born, hired) needs the verb to name the one filtered
    dates = [f for (m, _), f in lexicon.fields.items() if m == own and f.kind == "time"]
    for node in shown.tree.find_all(*kinds):
        if kinds is _FILTERS and node.find_ancestor(exp.Where, exp.Having) is None:
            continue  # a join's condition dates nothing
        for column in node.find_all(exp.Column):
            if verbs & {stem(w) for w in identifier_words(column.name)}:
                return True
            mine = own is not None and column.table.lower() == own and len(dates) < 2
            if mine and own is not None and _plain_date(column.name, own, verbs):
                return True
    return False


#: Words of a column that say only that it holds a date or a year.
_DATE_WORDS = _words("year yr date dt day month time on at when of the")

#: Stems of starting something: a verb of them dates a column named with another of them.
_STARTS = frozenset(
    stem(w)
    for w in _words(
        """open opened opening found founded founding establish established build built start
        started launch launched create created begin began begun inaugurated"""
    )
)


def _plain_date(name: str, model: str, verbs: set[str]) -> bool:
    """Whether a column is the plain date of its rows (``year``, ``order_date`` of ``orders``),
    which any verb of them may date, or the date of their start that a verb of starting dates
    ("founded" on ``opened_year``); not one of another event (``song_release_year`` of
    ``singer``: "singers who *performed* in 2014" is not their song's release)."""
    own = {stem(w) for w in identifier_words(model)}
    rest = {stem(w) for w in identifier_words(name) if w not in _DATE_WORDS} - own
    return not rest or bool(rest & _STARTS and verbs & _STARTS)


def verb_form(word: str) -> bool:
    """Whether ``word`` is a verb of an event or of a relation that adds nothing else.

    Not any verb: "mechanics who *abandoned* vehicles" says more than that mechanics and
    vehicles are related, and declines. A verb that names the relation itself ("repaired" for
    ``repairs``, "caused" for ``caused_by_ship_id``) is accounted for by that name.
    """
    return word in EVENT_VERBS or word in RELATION_VERBS or word in _IRREGULAR_PARTICIPLES


def _relates(items: list[Item], k: int, shown: Shown) -> bool:
    """Whether the verb at ``k`` stands between two different models the query joins."""
    if len(shown.tables) < 2:
        return False
    sides = (_side(reversed(items[:k])), _side(items[k + 1 :]))
    if None in sides or sides[0] == sides[1]:
        return False
    return all(str(side).lower() in shown.tables for side in sides)


def _side(items: Iterable[Item], *, models_only: bool = False) -> str | None:
    """The model of the nearest mapped phrase, over little words and question keywords
    (``models_only``: when that phrase names the model itself)."""
    for item in items:
        if item.kind == "entry" and item.chosen is not None:
            if models_only and item.chosen.kind != "model":
                return None
            return item.chosen.model
        if item.kind in ("kw", "number") or (
            item.kind == "word" and item.text.lower() in STOPWORDS
        ):
            continue
        return None
    return None


#: Nouns that only point at the rows of the thing named right before them ("the death events",
#: "staff members", "loan records").
_HEAD_NOUNS = _words("record records entry entries event events row rows member members")
#: Nouns of a count: "the number", "how many times".
_COUNT_NOUNS = _words("number numbers times")
_RANKS = frozenset({"count", "sup", "top"})
#: Nouns of rows of several columns: "pairs of first name and dog name".
_TUPLE_NOUNS = _words("pair pairs combination combinations")
#: Verbs that, followed by "up", only link a thing to what it became ("ended up being").
_END_UP = _words("end ends ended ending")


def word_in_shape(word: str, items: list[Item], k: int, shown: Shown) -> bool:
    """An unmapped word the query's shape carries: a head noun after the thing it points at, a
    noun of a count with a count, "pairs" of columns, "ended up"."""
    if word in _HEAD_NOUNS:
        before = items[k - 1] if k else None
        if before is None or before.kind != "entry" or before.chosen is None:
            return False
        if word.startswith("member") and before.chosen.kind == "model":
            return False  # "club members" are the people of a club, not its rows
        return before.chosen.model.lower() in shown.tables
    if word in _COUNT_NOUNS:
        before = items[k - 1] if k else None
        if word == "times":
            # "how many times", "the most times", "3 times" (not "their times"): a count of
            # occurrences, every row, not of distinct things
            ranked = before is not None and (before.kind == "number" or before.kw in _RANKS)
            rows = [
                c for c in shown.tree.find_all(exp.Count) if not isinstance(c.this, exp.Distinct)
            ]
            return ranked and bool(rows)
        return shown.has((exp.Count,))
    if word in _TUPLE_NOUNS:
        # "pairs of A and B": the rows of A and B side by side ("pairs of owners" is no such)
        joined = any(i.kw == "conj" and i.text.lower() == "and" for i in items[k + 1 : k + 8])
        select = shown.tree.find(exp.Select)
        return joined and select is not None and len(select.expressions) > 1
    if word in _END_UP:
        return k + 1 < len(items) and items[k + 1].text.lower() == "up"
    return False


def role_fields(items: list[Item], shown: Shown, index: SemanticIndex) -> list[str]:
    """ "the names of the friends of Kyle": a field of model A asked for "of" a model B that
    reaches A by two relationships (a friend row names two high schoolers) belongs to one of
    those roles; a query that reads A only once answers for one role, maybe the other."""
    out = []
    for pos, item in enumerate(items):
        chosen = item.chosen if item.kind == "entry" else None
        if chosen is None or chosen.kind != "field":
            continue
        owner = _model_after_of(items[pos + 1 : pos + 5])
        field_model = chosen.model.lower()
        if owner is None or owner == field_model:
            continue
        roles = [j for j in index.joins.get(owner, []) if j.right.lower() == field_model]
        reads = [t for t in shown.tree.find_all(exp.Table) if t.name.lower() == field_model]
        if len(roles) > 1 and len(reads) < 2:
            out.append(f"{item.text} of {owner}")
    return out


def _model_after_of(rest: list[Item]) -> str | None:
    """The model named right after "of" ("of the friends"), lower-case."""
    if not rest or rest[0].text.lower() != "of":
        return None
    for item in rest[1:]:
        if item.kind == "word" and item.text.lower() in ("the", "a", "an", "each", "all", "every"):
            continue
        if item.kind == "entry" and item.chosen is not None and item.chosen.kind == "model":
            return item.chosen.model.lower()
        return None
    return None


def extreme_beside_figures(shown: Shown) -> bool:
    """ "How much does the most recent treatment cost": a MIN or MAX beside another aggregate of
    the same ungrouped row is a figure of its own; "the most recent" picked no row."""
    for select in shown.tree.find_all(exp.Select):
        if select.args.get("group"):
            continue
        funcs = [e.unalias() for e in select.expressions]
        extremes = [f for f in funcs if isinstance(f, (exp.Min, exp.Max))]
        others = [f for f in funcs if isinstance(f, exp.AggFunc) and f not in extremes]
        if extremes and others:
            return True
    return False
