"""Nouns that name a table by a word of a group it belongs to, or of a group of it.

Nouns of a body of people that a table names by one of its members: "staff" and
"personnel" for an ``emp`` or ``employee`` table, "faculty" for ``professor``, "crew" for
``crew_member``. WordNet does not link "staff" to "employee" (it is a kind of "personnel"), so
the members are listed here; only a model the lexicon names with one of them is reached, and
only when one is.

A noun of a thing may also name the one table named with the noun one link above its most
common sense ("ships" for ``Vessels``), unless that table has a column of kinds
(``vessel_type``): then its rows may be of other kinds as well, and the noun would be a filter.
"""

from __future__ import annotations

from sqlgate.nl import wordnet
from sqlgate.nl.lexicon import Entry, Lexicon
from sqlgate.nl.text import identifier_words, phrase_key

#: Nouns of a group of people, and the nouns of one of its members.
MEMBERS: dict[str, tuple[str, ...]] = {
    "staff": ("employee", "staff member", "staffer", "worker"),
    "personnel": ("employee", "staff member", "staffer", "worker"),
    "workforce": ("employee", "worker"),
    "faculty": ("professor", "faculty member", "teacher", "lecturer"),
    "crew": ("crew member", "crewman", "crewmember"),
    "clientele": ("client", "customer"),
    "membership": ("member",),
}


def member_entries(lexicon: Lexicon, word: str) -> list[Entry]:
    """The one model a group noun names by its members ("staff" for ``emp``), else nothing."""
    members = MEMBERS.get(word.lower())
    if members is None:
        return []
    models = {
        e.model
        for member in members
        for e in lexicon.phrases.get(phrase_key(member), ())
        if e.kind == "model"
    }
    return [Entry("model", models.pop(), via="lexicon")] if len(models) == 1 else []


#: Words of a column that says which kind each row is.
_KIND_WORDS = frozenset({"type", "kind", "category", "class", "sort", "genre"})


def broader_model(lexicon: Lexicon, word: str) -> set[str]:
    """The models named with a noun one link above the most common sense of ``word`` ("vessel"
    for "ships"), that have no column of kinds."""
    models: set[str] = set()
    for other in wordnet.kin(word, steps=1, senses=1):
        for e in lexicon.phrases.get(phrase_key(other), ()):
            if e.kind == "model" and not _kinds(lexicon, e.model):
                models.add(e.model)
    return models


def _kinds(lexicon: Lexicon, model: str) -> bool:
    found = lexicon.index.get_model(model)
    columns = found.columns if found is not None else []
    return any(_KIND_WORDS & set(identifier_words(c.name)) for c in columns)
