"""Role joins: two relationships between the same models (a flight's source airport and its
destination airport). A word of the column ("destination", "source") or a cue of direction
("from", "departing" / "to", "arriving") in the question chooses one; two that are named both
decline. With no word for either, the row's own side is taken: the relationship through the
first column of the table's primary key (``student_id`` of a ``(student_id, friend_id)`` key),
else the first declared."""

from __future__ import annotations

from dataclasses import replace

from sqlgate.nl.joins import JoinPlan
from sqlgate.nl.rules.parts import CannotAnswer
from sqlgate.nl.semantic import Join, SemanticIndex
from sqlgate.nl.spelling import lemma
from sqlgate.nl.text import identifier_words, stem
from sqlgate.nl.vocabulary import _words

_FROM = _words("from depart departs departed departing departure leave leaves leaving origin")
_TO = _words("to arrive arrives arrived arriving arrival destination into reach reaching land")
_FROM_COLUMN = _words("source src origin from departure start departing")
_TO_COLUMN = _words("dest destination to arrival target end arriving")


def settle_roles(
    index: SemanticIndex,
    joins: JoinPlan,
    words: frozenset[str],
    *,
    passive: bool = False,
    verb: str = "",
) -> JoinPlan:
    """``joins`` with every step between models related in several ways settled by the
    question's ``words``; raises :class:`CannotAnswer` when they do not settle it. With no
    word for either, a ``passive`` reading ("staff who are trusted") takes the other side
    than the row's own; a passive ``verb`` that is a word of one side's column ("students who
    are liked": ``liked_id``) takes that side, whatever else the question names."""
    steps = []
    for step in joins.steps:
        ways = [
            j
            for j in index.joins.get(step.left.lower(), ())
            if j.right.lower() == step.right.lower() and j.to_one == step.to_one
        ]
        ways = list({(j.left_columns, j.right_columns): j for j in ways}.values())
        if len(ways) > 1:
            chosen = _participle_side(ways, verb) if passive else []
            chosen = chosen or [j for j in ways if _named(j, words)]
            if not chosen:
                own = _own_side(index, ways)
                chosen = [j for j in ways if j is not own] if passive else [own]
            if len(chosen) != 1:
                raise CannotAnswer(
                    f"{step.left} relates to {step.right} in {len(ways)} ways, and the "
                    "question does not say which."
                )
            step = chosen[0]
        steps.append(step)
    return replace(joins, steps=tuple(steps))


def both_roles(index: SemanticIndex, joins: JoinPlan, words: frozenset[str]) -> list[JoinPlan]:
    """The two ways of ``joins``, one per direction, when the question names both ("departing
    or arriving shipments"); raises :class:`CannotAnswer` when it does not."""
    if not words & _FROM or not words & _TO:
        raise CannotAnswer("The question relates the same models in two ways without saying which.")
    one = settle_roles(index, joins, words - _TO)
    other = settle_roles(index, joins, words - _FROM)
    if one.steps == other.steps:
        raise CannotAnswer("The question relates the same models in two ways without saying which.")
    return [one, other]


def _own_side(index: SemanticIndex, ways: list[Join]) -> Join:
    """With no word for either: the relationship through the first column of the table's
    primary key (``student_id`` of a ``(student_id, liked_id)`` key), else the first declared."""
    first = ways[0]
    table = first.left if first.to_one else first.right
    model = index.get_model(table)
    key = [k.lower() for k in model.primary_key] if model else []

    def rank(join: Join) -> int:
        columns = join.left_columns if join.to_one else join.right_columns
        spots = [key.index(c.lower()) for c in columns if c.lower() in key]
        return min(spots) if spots else len(key)

    return min(ways, key=rank)


def direction_shown(word: str, columns: set[str]) -> bool:
    """Whether a cue of direction ("departing", "arriving") is carried by a joined column of
    that role (``SourceAirport``, ``DestAirport``)."""
    side = direction(word)
    cue = _FROM_COLUMN if side == "from" else _TO_COLUMN if side == "to" else None
    return cue is not None and any(set(identifier_words(c)) & cue for c in columns)


def direction(word: str) -> str | None:
    """ "from" or "to" for a cue of direction in any inflection ("landing", "departed")."""
    for form in (word, lemma(word)):
        if form in _FROM:
            return "from"
        if form in _TO:
            return "to"
    return None


def _participle_side(ways: list[Join], verb: str) -> list[Join]:
    """The one way whose column carries the passive verb itself ("liked" of ``liked_id``)."""
    participle = verb.lower().split()[-1:] if verb else []
    found = [
        j
        for j in ways
        if participle
        and participle[0]
        in {
            w
            for c in (j.left_columns if j.to_one else j.right_columns)
            for w in identifier_words(c)
        }
    ]
    return found if len(found) == 1 else []


def _named(join: Join, words: frozenset[str]) -> bool:
    columns = join.left_columns if join.to_one else join.right_columns
    own = {w for c in columns for w in identifier_words(c)}
    other = set(identifier_words(join.right)) | set(identifier_words(join.left)) | {"id"}
    distinct = {stem(w) for w in own} - {stem(w) for w in other}
    stems = {stem(w) for w in words}
    if distinct & stems:
        return True
    if distinct & _done_stems(words):
        return True  # "assigned to Tomas": ``AssigneeId``
    sides = {direction(w) for w in words}
    if own & _FROM_COLUMN:
        return "from" in sides
    if own & _TO_COLUMN:
        return "to" in sides
    return False


def direction_cue(word: str) -> str | None:
    """ "from" / "to" for a word of direction ("departing", "into"), else None."""
    return "from" if word in _FROM else "to" if word in _TO else None


def column_direction(name: str) -> str | None:
    """ "from" / "to" for a column named for a direction (``SourceAirport``, ``dest``)."""
    words = set(identifier_words(name))
    if words & _FROM_COLUMN:
        return "from"
    return "to" if words & _TO_COLUMN else None


def _done_stems(words: frozenset[str]) -> set[str]:
    """The stems of the nouns of the one who does or undergoes what a past participle of
    ``words`` says ("assigned": assignee, assigner; "reported": reporter)."""
    from sqlgate.nl.rules.verb_links import verb_stems  # verb_links reads the lexicon

    out: set[str] = set()
    for word in words:
        if word.endswith("ed") and len(word) > 5:
            out |= {s for s in verb_stems(word) if s.startswith(stem(word)[:4])}
    return out
