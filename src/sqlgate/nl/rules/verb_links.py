"""A verb of the question linked to the schema name that comes from it (WordNet, morphology).

"*Who taught* the most lessons?" and "the people who *teach* Algebra" ask about a ``teacher``
table, though no name of the schema is the verb. The words a verb form stands for
(:func:`verb_stems`) are its dictionary forms, the synonyms of its most common senses, the nouns
WordNet derives from it ("teacher", "arrangement", "visitor") and the nouns its ending makes
("scheduler", "enrollee"); a word more often used as a noun ("awards", "plays") is read as one.

Two uses, both only of what the model has:

* the one who does it (:func:`verb_entries`, :func:`settle_verbs`): when the question names no
  one else doing it ("Who taught ...", "people who teach ...") and the words reach exactly one
  one-word name of a model or a text field, the verb (or the person noun before it) names that;
  two candidates, or none, link nothing;
* the coverage check (:func:`verb_shown`): a verb is carried by a query that reads a name one
  of its words is part of ("the courses they *teach*" by a query reading ``teacher``,
  "*arranged*" by one reading ``course_arrange``).
"""

from __future__ import annotations

from functools import lru_cache

from sqlglot import exp

from sqlgate.nl import wordnet
from sqlgate.nl.lexicon import Entry, FieldInfo, Lexicon
from sqlgate.nl.name_words import name_words
from sqlgate.nl.rules.parts import Item
from sqlgate.nl.text import Token, identifier_words, stem
from sqlgate.nl.vocabulary import KEYWORDS, STOPWORDS, _words

#: Shortest verb form looked up ("owns", "used"); shorter ones have too many senses.
MIN_VERB = 4
#: Endings that make a noun of a verb: the one who does it, and the act or its result.
_NOUN_ENDINGS = ("er", "r", "or", "ee", "ment", "ion", "ation", "al", "ance", "ence")
#: Verbs that do not relate anything of their own ("have", "be", "get", "give", "show").
_LIGHT = _words(
    """have has had having be is are was were been being get gets got gotten give gives gave
    given show shows showed shown list lists listed find finds found tell tells told return
    returns returned sort sorts sorted order ordered count counts counted name names named
    call called want wants need needs know known see seen take taken took make made come came
    go went gone use used say said"""
)


def verb_stems(word: str) -> frozenset[str]:
    """The stems ``word`` stands for read as a verb ("taught" → teach, teacher, teaching,
    instruct, ...); empty when WordNet knows no verb of that form, or when the word is short, a
    light verb or a question keyword, or the lexicon is off."""
    return _verb_stems(word.lower()) if wordnet.enabled() else frozenset()


#: The dictionary forms of the light verbs ("found" of "founded" is none: it founds).
_LIGHT_LEMMAS = _words(
    "have be get give show list find tell return sort order count name call want need know see "
    "take make come go use say"
)


@lru_cache(maxsize=4096)
def _verb_stems(word: str, shortest: int = MIN_VERB) -> frozenset[str]:
    if (
        len(word) < shortest
        or not word.isalpha()
        or word in STOPWORDS
        or word in _LIGHT
        or (word,) in KEYWORDS
    ):
        return frozenset()
    lemmas = wordnet.base_forms(word, "v")
    if not lemmas or _noun(word):
        return frozenset()
    out = {stem(word)}
    for lemma in lemmas:
        if lemma in _LIGHT_LEMMAS:
            return frozenset()
        out.add(stem(lemma))
        out.update(stem(lemma + ending) for ending in _NOUN_ENDINGS)
        if lemma.endswith("e"):
            out.update(stem(lemma[:-1] + ending) for ending in _NOUN_ENDINGS)
        for other, how in wordnet.related(lemma, ("v",)):
            if " " not in other and how in ("synonym", "derived") and other not in _LIGHT:
                out.add(stem(other))
    return frozenset(s for s in out if len(s) >= 3)


def _noun(word: str) -> bool:
    """ "awards", "plays", "lives": as likely a plural noun as a verb, read as the noun; "teach"
    is a verb, though WordNet has a pirate of that name. A past participle is always a verb."""
    if word.endswith("ed"):
        return False
    if word.endswith("s") and _tagged_noun(word):
        return True
    return wordnet.usual_part(word) == "n"


def _tagged_noun(word: str) -> bool:
    return any(wordnet.tagged(n, "n") for n in wordnet.base_forms(word, "n"))


def verb_entries(lexicon: Lexicon, token: Token) -> list[Entry]:
    """What the model names with a word a verb comes from ("taught" → a ``teacher`` model), if
    that is one thing; marked ``via="verb"``."""
    if token.kind != "word":
        return []
    stems = verb_stems(token.norm)
    if not stems:
        return []
    found: dict[str, Entry] = {}
    for key in sorted(stems):
        for entry in lexicon.phrases.get((key,), ()):
            if entry.kind == "model" or (entry.kind == "field" and _text(lexicon, entry)):
                found.setdefault(entry.part, Entry(entry.kind, entry.model, entry.name, via="verb"))
    if len(found) != 1:
        return []  # nothing, or several things: no guess
    return list(found.values())


def _text(lexicon: Lexicon, entry: Entry) -> bool:
    info = lexicon.fields.get((entry.model.lower(), str(entry.name).lower()))
    return info is not None and info.kind in ("text", "time") and not info.key


def verb_shown(word: str, tables: set[str], tree: exp.Expression) -> bool:
    """Whether a verb is carried by a query that reads a table named for it, or filters or
    groups by a column named for it: "the courses they *teach*" by a query reading ``teacher``,
    "*arranged*" by one reading ``course_arrange``, "films *directed* by Ada Lee" by a filter on
    ``director``. Not a column only listed with the others ("born" and a ``birth_date`` shown
    beside the ``hire_date`` filtered carry nothing)."""
    stems = verb_stems(word) or _short_verb_stems(word.lower())
    if not stems:
        return False
    if any((stems | _noun_synonyms(word.lower())) & _table_stems(t) for t in tables):
        return True
    for clause in tree.find_all(exp.Where, exp.Having, exp.Group, exp.Join):
        if any(stems & _table_stems(c.name) for c in clause.find_all(exp.Column)):
            return True
    return False


@lru_cache(maxsize=4096)
def _short_verb_stems(word: str) -> frozenset[str]:
    """ "fly", "own", "win": a three-letter verb, for a table that the query reads anyway."""
    if len(word) != MIN_VERB - 1 or not wordnet.enabled():
        return frozenset()
    if not wordnet.base_forms(word, "v") or wordnet.usual_part(word) == "n":
        return frozenset()
    return _verb_stems(word, MIN_VERB - 1)


@lru_cache(maxsize=4096)
def _noun_synonyms(word: str) -> frozenset[str]:
    """The synonyms of the nouns WordNet derives from a verb ("fly" → flying → "flight"), that
    the verb's own derived words miss: only to tell a table the query reads is named for it."""
    if not wordnet.enabled():
        return frozenset()
    out = set()
    for lemma in wordnet.base_forms(word, "v"):
        for noun, how in wordnet.related(lemma, ("v",)):
            if how == "derived" and " " not in noun:
                out.update(
                    stem(o)
                    for o, h in wordnet.related(noun, ("n",))
                    if h == "synonym" and " " not in o
                )
    return frozenset(w for w in out if len(w) >= 3)


@lru_cache(maxsize=4096)
def _table_stems(name: str) -> frozenset[str]:
    return frozenset(stem(w) for w in identifier_words(name))


#: Nouns for a person that a verb after "who" or "that" says which: "the people who teach".
_PERSON_NOUNS = _words("people person persons individuals individual someone ones those")


def settle_verbs(items: list[Item], lexicon: Lexicon) -> None:
    """The verbs linked to a model or field (:func:`verb_entries`) among the items: a link
    stands for the one who does what the verb says, so it stays only where the question names
    no one else doing it ("*who taught* the most lessons"); "the people who teach": the person
    noun names the model, and the verb is a word again. Otherwise the verb is a word again, that
    the rules reading verbs, or the query's reading of the name, carry ("teachers who *taught*
    Poetry"); a value right after it, of several columns, is the one of the column named for it
    ("written by Ada Lee": the ``writer``)."""
    for pos, item in enumerate(items):
        if not _linked(item):
            continue
        entry = item.entries[0]
        person = _person_before(items, pos)
        if person is not None and person.text.lower() != "who" and entry.kind == "model":
            person.kind, person.entries = "entry", [entry]
            _unlink(item)
        elif (
            person is None
            or person.text.lower() != "who"
            or any(_names(other, entry) for other in items if other is not item)
        ):
            _unlink(item)
    for pos, item in enumerate(items):
        if item.kind == "word":
            _agent_value(items, pos)
            _dated_by(items, pos, lexicon)


def _agent_value(items: list[Item], pos: int) -> None:
    """ "films *written by* Ada Lee", where Ada Lee is both a ``director`` and a ``writer``: the
    value of the column named for the verb."""
    rest = items[pos + 1 : pos + 3]
    if rest and rest[0].kind in ("word", "kw") and rest[0].text.lower() == "by":
        rest = rest[1:]
    # after it ("written by Ada Lee"), or right before it ("did Ada Lee write")
    for value in (*rest[:1], *items[max(0, pos - 1) : pos]):
        if value.kind != "entry" or len(value.entries) < 2:
            continue
        if any(e.kind != "value" for e in value.entries):
            continue
        stems = verb_stems(items[pos].text)
        kept = [e for e in value.entries if stems & _table_stems(str(e.name))]
        if kept and len({(e.model, e.name) for e in kept}) == 1:
            value.entries = kept


#: Words of a column name that say when, beside what happened ("birth" of ``birth_date``).
_WHEN = _words("date time day year timestamp at on")


def _dated_by(items: list[Item], pos: int, lexicon: Lexicon) -> None:
    """ "tutors *born* in 1990": a verb right before a date names the date column of the models
    the question names that is named for it (``birth_date``), when that is not the column their
    dates are read on anyway (``hire_date``); the verb then names that column. A number column
    of years counts as a date column ("pupils *enrolled* after 2020" on ``enrol_yr``); "models
    *produced* after 1980", where nothing is named for the verb and the models named have no
    date, is the one column named only ``year`` of those models and the ones joined to them."""
    after = next((i for i in items[pos + 1 :] if i.text.lower() not in STOPWORDS), None)
    if after is None or after.kind != "range":
        return
    stems = verb_stems(items[pos].text)
    named = {e.model.lower() for i in items if i.kind == "entry" for e in i.entries}
    if not stems or not named:
        return
    found = []
    for (model, _), info in lexicon.fields.items():
        if model not in named or info.key or not (info.kind == "time" or _years(info)):
            continue
        words = {stem(w) for w in name_words(info.name) if w not in _WHEN}
        if words & stems:
            found.append(info)
    sure = {m for i in items if i.kind == "entry" for m in _one_model(i)}
    if not found and sure and not _has_dates(lexicon, sure):
        found = _bare_years(lexicon, sure)
    if len(found) != 1:
        return
    model = lexicon.index.get_model(found[0].model)
    if model is None or (model.time_column or "").lower() == found[0].name.lower():
        return
    entry = Entry("field", found[0].model, found[0].name, via="verb")
    items[pos].kind, items[pos].entries = "entry", [entry]


def _years(info: FieldInfo) -> bool:
    """A number column of years (``year``, ``open_year``, ``enrol_yr``)."""
    return info.kind == "number" and not info.key and "year" in name_words(info.name)


def _one_model(item: Item) -> set[str]:
    """The model every meaning of ``item`` is of; none when they are of several."""
    models = {e.model.lower() for e in item.entries}
    return models if len(models) == 1 else set()


def _has_dates(lexicon: Lexicon, models: set[str]) -> bool:
    return any(m in models and info.kind == "time" for (m, _), info in lexicon.fields.items())


def _bare_years(lexicon: Lexicon, models: set[str]) -> list[FieldInfo]:
    """The columns named only "year" of ``models`` and the models joined to them."""
    joined = {j.right.lower() for m in models for j in lexicon.index.joins.get(m, ())}
    return [
        info
        for (m, _), info in lexicon.fields.items()
        if m in joined | models and _years(info) and set(name_words(info.name)) == {"year"}
    ]


def _person_before(items: list[Item], pos: int) -> Item | None:
    """ "people who teach", "people teach": the person noun right before the verb."""
    k = pos - 1
    if k >= 0 and items[k].kind == "word" and items[k].text.lower() in ("who", "that"):
        if k == 0 and items[k].text.lower() == "who":
            return items[k]  # "Who taught ...?"
        k -= 1
    person = items[k] if k >= 0 else None
    if person is None or person.text.lower() not in _PERSON_NOUNS:
        return None
    if person.kind == "entry" and all(e.via == "lexicon" for e in person.entries):
        return person  # "people" read as the one table of people: the verb says which
    return person if person.kind == "word" else None


def _linked(item: Item) -> bool:
    return (
        item.kind == "entry" and bool(item.entries) and all(e.via == "verb" for e in item.entries)
    )


def _names(item: Item, entry: Entry) -> bool:
    if item.kind != "entry" or _linked(item):
        return False
    if entry.kind == "model":
        return any(e.kind == "model" and e.model == entry.model for e in item.entries)
    return any(e.model == entry.model and e.name == entry.name for e in item.entries)


def _unlink(item: Item) -> None:
    item.kind, item.entries = "word", []
