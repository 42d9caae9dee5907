"""A question word the model names with another word of the same meaning or stem (WordNet).

The last resort of step 1 (:mod:`sqlgate.nl.rules.words`), for one word that no name, synonym,
sampled value or other form of them reaches: the words :func:`sqlgate.nl.wordnet.related` relates
to it — synonyms of its most common senses ("shoemakers" for a ``cobblers`` table),
derivationally related forms ("religious" for a ``religion`` column) and pertainyms
("Norwegian" for the value 'Norway') — are looked up in the model's vocabulary. Only what the
model has is found; when the related words reach more than one thing, the word stays unknown
(and the question declines) rather than pick one. The entries found are marked ``via="lexicon"``,
ranked below every name, synonym and value of the model's own. A number field is never reached
this way (:func:`_named`).

After them (:func:`kin_entries`), a noun may name the one table of a kind of it ("breads" for a
``loaf`` table), and a noun for people the one table of a kind one step more general, or the
table its foreign keys refer to ("students" for the table ``bunk.student_id`` refers to).
"""

from __future__ import annotations

from dataclasses import replace

from sqlgate.nl import wordnet
from sqlgate.nl.lexicon import Entry, Lexicon
from sqlgate.nl.rules.group_nouns import broader_model, member_entries
from sqlgate.nl.spelling import lemma
from sqlgate.nl.text import Token, identifier_words, phrase_key, stem
from sqlgate.nl.vocabulary import KEYWORDS, STOPWORDS

#: Shortest word looked up: shorter ones ("ids", "age") have too many senses to trust.
MIN_WORD = 4


def related_entries(lexicon: Lexicon, token: Token) -> list[Entry]:
    """What the model names with a word WordNet relates to ``token``, if that is one thing.

    Only a noun or an adjective is looked up ("shoemakers", "Italian"), in its senses as one: a
    verb ("mended", "owns") relates or dates what the question names, and the rules that read verbs
    (:mod:`sqlgate.nl.rules.wording`) account for it or decline; a word the question vocabulary
    knows ("listed", "total") keeps its meaning there."""
    word = token.norm
    if (
        not _looked_up(token)
        or (word,) in KEYWORDS
        or (word.endswith(("ed", "ing")) and lemma(word) != word)
    ):
        return []
    found: dict[frozenset[str], list[Entry]] = {}
    for other, _how in sorted(wordnet.related(word, ("n", "a"))):
        key = phrase_key(other)
        if not key or key == (token.stem,):
            continue
        entries = [e for e in lexicon.phrases.get(key, ()) if _named(lexicon, e)]
        if entries:
            found.setdefault(frozenset(e.part for e in entries), entries)
    if len(found) != 1:
        return []  # nothing, or several things: no guess
    (entries,) = found.values()
    return [replace(e, via="lexicon") for e in entries]


def _named(lexicon: Lexicon, entry: Entry) -> bool:
    """Whether a related word may stand for ``entry``: a model, a value, a field of text or
    dates, never a figure. A figure's name says exactly what it measures, and a word of a
    related sense may measure something else: ``wages`` per hour are no yearly "salary"; a
    tasting's ``cost`` is no beer's "price". The question declines instead."""
    if entry.kind != "field" or entry.name is None:
        return entry.kind in ("model", "value")
    return lexicon.field(entry.model, entry.name).kind != "number"


def _question_words() -> frozenset[str]:
    from sqlgate.nl.rules.coverage import QUESTION_WORDS  # coverage reads the items words.py makes

    return QUESTION_WORDS


#: The most general nouns for a person: a table named so is no more a pupil than a pilot.
_ANYONE = frozenset(
    {"person", "persons", "individual", "individuals", "someone", "somebody", "mortal", "soul",
     "people"}
)  # fmt: skip
#: Words of a column of a person's first name, and of a last name.
_FIRST = (("first", "name"), ("given", "name"), ("forename",), ("fname",), ("first",))
_LAST = (("last", "name"), ("family", "name"), ("surname",), ("lname",), ("last",))


def _named_people(lexicon: Lexicon) -> list[str]:
    """The models with a first-name and a last-name column; without any, the models named with
    a noun for people ("singer", "staff_member")."""
    out = []
    for model in lexicon.index.model.models:
        names = {tuple(identifier_words(c.name)) for c in model.columns}
        if names & set(_FIRST) and names & set(_LAST):
            out.append(model.name)
    if out:
        return out
    for model in lexicon.index.model.models:
        words = identifier_words(model.name)
        if words and len(words[-1]) >= MIN_WORD and wordnet.person(words[-1]):
            out.append(model.name)
    return out


def kin_entries(lexicon: Lexicon, token: Token) -> list[Entry]:
    """The one model a noun names, though no name of the model is that noun:

    * a model named with a noun one link below it in WordNet's hierarchy, a kind of it
      ("breads" for a ``loaf`` table, "teachers" for ``tutor``), or, for a noun for people, one
      link above it ("educators" for ``tutor``);
    * for a noun for people, the model the foreign keys named for it all refer to ("students"
      for the ``learner`` table that ``friendship.student_id`` refers to), when none refers to
      its own model (``employee.manager_id``: a manager is one employee among others);
    * for "people" or "persons", the one model with a first-name and a last-name column, or
      without any, the one model named with a noun for people.

    When the two ways, or one of them, reach more than one model, nothing is linked."""
    word = token.norm
    if not _looked_up(token):
        return []
    members = member_entries(lexicon, word)  # "staff" for a table of employees
    if members:
        return members
    if word in _ANYONE:
        # "people", "persons": the one table of people, with a first and a last name
        named = _named_people(lexicon)
        return [Entry("model", named[0], via="lexicon")] if len(named) == 1 else []
    people = wordnet.person(word)
    models: set[str] = set()
    for other in wordnet.kin(word, steps=1, up=people):
        if other in _ANYONE:
            continue
        key = phrase_key(other)
        models |= {e.model for e in lexicon.phrases.get(key, ()) if e.kind == "model"}
    if people:
        models |= _referred_as(
            lexicon, {token.stem, *(stem(b) for b in wordnet.base_forms(word, "n"))}
        )
    if not models and not people:
        models = broader_model(lexicon, word)  # "ships" for a table of vessels
    if len(models) != 1:
        return []
    return [Entry("model", models.pop(), via="lexicon")]


def _referred_as(lexicon: Lexicon, stems: set[str]) -> set[str]:
    """The models that foreign key columns named ``<stem>_id`` (or ``<stem>``) refer to; empty
    when one of them refers to its own model."""
    found: set[str] = set()
    for joins in lexicon.index.joins.values():
        for join in joins:
            if not join.to_one or len(join.left_columns) != 1:
                continue
            words = identifier_words(join.left_columns[0])
            if words and words[-1] == "id":
                words = words[:-1]
            if len(words) != 1 or stem(words[0]) not in stems:
                continue
            if join.left.lower() == join.right.lower():
                return set()
            found.add(join.right)
    return found


def _looked_up(token: Token) -> bool:
    """Whether ``token`` is a word WordNet may be asked about: long enough, letters only, not
    a stop word or a word the question vocabulary reads, with WordNet on."""
    word = token.norm
    return (
        token.kind == "word"
        and len(word) >= MIN_WORD
        and word.isalpha()
        and word not in STOPWORDS
        and word not in _question_words()
        and wordnet.enabled()
    )
