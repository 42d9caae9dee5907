"""Small cues in a question's wording that the role reader looks at: a modifier before a name,
"by" after a participle, words asking for part of a value, money-named fields."""

from __future__ import annotations

from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import Item, Reading, next_significant
from sqlgate.nl.spelling import lemma
from sqlgate.nl.text import identifier_words
from sqlgate.nl.vocabulary import _words


def modifier(item: Item, nxt: Item | None) -> bool:
    """A singular model name right before another model or field ("car models"): a modifier."""
    return (
        nxt is not None
        and nxt.first == item.last + 1
        and nxt.kind == "entry"
        and nxt.chosen is not None
        and nxt.chosen.kind in ("model", "field")
        and not item.text.lower().endswith("s")
    )


def grouped_aggregate(facts: ModelFacts, r: Reading) -> bool:
    """ "categories with an average price above 100": the last measure is an aggregate of a
    field and a field to group by was asked before it, or rows it is of."""
    return (
        bool(r.measures)
        and r.measures[-1].func in ("avg", "sum", "min", "max")
        and (any(i.role in (None, "context") for i in r.fields) or of_related_rows(facts, r))
    )


def of_related_rows(facts: ModelFacts, r: Reading) -> bool:
    """Whether the last measure is of the related rows of the one model the question is about
    so far ("bakeries with an average baker wage above 12": the wage of each bakery's bakers), or
    of its own rows (declined when planned: "bakers with an average wage above 12")."""
    subjects = [i.chosen.model for i in r.subjects if i.chosen is not None]
    measured = r.measures[-1].model
    if len(subjects) != 1:
        return False
    return subjects[0].lower() in {m.lower() for m in facts.to_one_models(measured)}


def value_follows(items: list[Item], item: Item, model: str) -> bool:
    """Whether a value of ``model`` comes right after ``item`` ("not in *club* Rowing"): the
    model word names the value, and the negation is the value's, not "no related club"."""
    after = [i for i in items if i.first == item.last + 1]
    chosen = after[0].chosen if after and after[0].kind == "entry" else None
    return chosen is not None and chosen.kind == "value" and chosen.model.lower() == model.lower()


def per_value(facts: ModelFacts, field: Item, items: list[Item]) -> bool:
    """Whether a count after ``field`` is one per value of it ("cities with more than 2
    employees"): a key, a text, or numbers named in the plural ("grades with at least 4
    students"; "staff with age over 30" compares the age itself) or asked with "has" ("which
    grade *has* at least 4 students")."""
    if field.chosen is None:
        return False
    info = facts.lexicon.field(field.chosen.model, str(field.chosen.name))
    word = field.text.split()[-1].lower() if field.text else ""
    plural = lemma(word) != word or _asked_with_has(items, field)
    return info.key or info.kind == "text" or (info.kind == "number" and plural)


def _asked_with_has(items: list[Item], field: Item) -> bool:
    """ "*which level has* at least 2 members": the field asked first, "has" right after it."""
    k = next((k for k, i in enumerate(items) if i is field), None)
    if k is None or k + 2 >= len(items) or items[k + 1].text.lower() not in ("has", "have"):
        return False
    before = [i for i in items[:k] if not (i.kind == "word" and i.text.lower() == "the")]
    asking = len(before) == 1 and before[0].text.lower() in ("which", "what")
    return asking and items[k + 2].kw == "cmp"


def ranked_by(r: Reading, items: list[Item], pos: int) -> bool:
    """Whether "by" at ``pos`` says what a superlative of no field ranks by: right after the
    model it ranks ("the largest *bakery* by staff", "the oldest bakery by opened year")."""
    sup = r.superlative
    if sup is None or r.superlative_field is not None or pos < 2:
        return False
    model = items[pos - 1]
    named = model.kind == "entry" and model.chosen is not None and model.chosen.kind == "model"
    return named and model.first == sup[2].last + 1 and items[pos].text.lower() == "by"


def passive_by(items: list[Item], pos: int) -> bool:
    """ "by" right after a past participle ("used by", "written by", "owned by")."""
    if items[pos].text.lower() != "by" or pos == 0:
        return False
    before = items[pos - 1].text.lower().split()[-1] if items[pos - 1].text else ""
    return before.endswith(("ed", "en")) or before in _IRREGULAR_PARTICIPLES


def amount_of(item: Item, last: Item | None, nxt: Item | None) -> bool:
    """ "the smallest amount of strength": the superlative's field, not a count or a sum."""
    return (
        item.text.lower().startswith("amount")
        and last is not None
        and last.kw == "sup"
        and nxt is not None
        and nxt.kind == "entry"
        and nxt.chosen is not None
        and nxt.chosen.kind == "field"
    )


def number_named(items: list[Item], pos: int) -> bool:
    """ "the docks number of the yard": the word "number" ends the name of the field right
    before it (``num_of_docks``), not a count of what follows."""
    before = items[pos - 1] if pos else None
    chosen = before.chosen if before is not None and before.kind == "entry" else None
    if chosen is None or chosen.kind != "field" or not items[pos].text.lower().startswith("number"):
        return False
    return bool({"num", "number", "no", "nr"} & set(identifier_words(str(chosen.name))))


def over_all(items: list[Item], pos: int) -> bool:
    """The "across" of "across all the products": over every row, not per row."""
    after = items[pos + 1 : pos + 2]
    return items[pos].text.lower() == "across" and bool(after) and after[0].text.lower() == "all"


def sort_by(items: list[Item], pos: int) -> bool:
    """The "by" of "sort the tracks by their length": what follows orders, not groups."""
    if items[pos].text.lower() != "by":
        return False
    return any(i.kind == "word" and i.text.lower() in SORT_VERBS for i in items[:pos])


#: Verbs that ask for an order, their "by" naming the field ("sort X by Y").
SORT_VERBS = _words("sort sorted order ordered rank ranked arrange arranged")

_IRREGULAR_PARTICIPLES = _words(
    "made done held led paid sold bought built taught won lost sung run hit set kept sent spent "
    "told found brought thought caught fought"
)


#: Words before a quoted text that ask for a part of a value, not the whole value.
LIKE_CUES = _words("substring contain contains containing include includes including letter word")


def like_cue(items: list[Item], pos: int) -> bool:
    return any(i.text.lower() in LIKE_CUES for i in items[max(0, pos - 3) : pos])


MONEY = _words("amount total price cost revenue sales value paid spent charge fee")


#: Verbs that only say how two things the question names are related ("teachers who teach
#: courses", "owners who own dogs"): accounted for by the join between them.
RELATION_VERBS = _words(
    """own owns owned owning produce produces produced producing make makes made teach teaches
    taught teaching play plays played playing write writes wrote written attend attends attended
    visit visits visited contain contains contained include includes included hold holds held
    receive receives received pay pays paid win wins won lose loses lost perform performs
    performed operate operates operated create creates created use uses used enroll enrolled
    enrolls participate participated participates involve involves involved join joined joins
    manage manages managed lead leads led serve serves served sing sings sang sung host hosts
    hosted appear appears appeared do does done go goes went gone support supports supported
    handle handles handled treat treats treated give gives gave giving score scores scored
    scoring borrow borrows borrowed borrowing lend lends lent lending"""
)

#: Words between a relation verb and the model it relates to ("went through any treatments").
_VERB_GAP = _words("a an the any some through ever at least one also")


def related_by_verb(items: list[Item], pos: int) -> bool:
    """Whether the model at ``pos`` is the object of a relation verb ("dogs that *received* a
    treatment", "students who *have* friends")."""
    passive = items[pos].text.lower().endswith("ed")
    for at in range(pos - 1, -1, -1):
        item = items[at]
        word = item.text.lower()
        if (item.kind == "word" and word in _VERB_GAP) or (item.kw == "group" and word == "by"):
            continue  # "beers used *by* any judge": the agent of the verb
        if word.split()[-1:] and word.split()[-1] in _BE and passive:
            return True  # "staff who are trusted": a row of the relation the verb names
        if word in _DO and not (at and items[at - 1].text.lower() in _RELATIVE):
            return False  # "how many cylinders *does* the car have": asking, not relating
        return item.kind == "word" and (word in RELATION_VERBS or word in _HAVE)
    return False


def passive_verb(items: list[Item], pos: int) -> bool:
    """Whether the model at ``pos`` is named by a participle after "is"/"are" ("who are
    *trusted*"): the question's rows are the relation's object, not its subject."""
    before = [i for i in items[:pos] if not (i.kind == "word" and i.text.lower() in _VERB_GAP)]
    last = before[-1] if before else None
    words = last.text.lower().split() if last is not None else []
    return bool(words) and words[-1] in _BE and items[pos].text.lower().endswith("ed")


def next_to_value(items: list[Item], field: Item, value: Item) -> bool:
    """Whether ``value`` comes right after ``field``, or after words that only say it is its
    value ("age is 30", "age either 30 or 41", "grade equal to 10", "age is not 30")."""
    between = [i for i in items if field.last < i.first < value.first]
    return all(
        (i.kind == "word" and i.text.lower() in _VALUE_GAP) or i.kw == "neg" for i in between
    )


def before_negation(items: list[Item], neg: Item) -> Item | None:
    """The item before a negation and the words that only say what follows is its value
    ("*age* is not 30")."""
    before = [
        i
        for i in items
        if i.last < neg.first and not (i.kind == "word" and i.text.lower() in _VALUE_GAP)
    ]
    return before[-1] if before else None


def conj_between(items: list[Item], first: Item, second: Item) -> bool:
    """Whether an "and" / "or" stands between two items: they are of two clauses."""
    return any(first.last < i.first < second.first and i.kw == "conj" for i in items)


def shared_count(items: list[Item], nxt: Item) -> Item | None:
    """The model counted by a comparison right after "and" ("fewer than 4 *vans*"), for the
    comparison before it to share; else None."""
    at = items.index(nxt)
    rest = [i for i in items[at : at + 3] if not (i.kind == "word" and i.text.lower() == "than")]
    if len(rest) >= 3 and rest[0].kw == "cmp" and rest[1].kind == "number":
        model = rest[2]
        if model.kind == "entry" and model.chosen is not None and model.chosen.kind == "model":
            return model
    return None


_VALUE_GAP = _words("is are was were either equal to exactly")
_HAVE = _words("have has had")
_BE = _words("is are was were been be")
_DO = _words("do does did")
_RELATIVE = _words("who that which whom")


def subject_of_verb(items: list[Item], pos: int) -> bool:
    """Whether the model at ``pos`` is the subject of a relation verb after it, in a question
    ("how many templates *do* all documents *use*"): the rows asked are those it relates to."""
    after = items[pos + 1 : pos + 2]
    if not after or after[0].kind != "word" or after[0].text.lower() not in RELATION_VERBS:
        return False
    for item in reversed(items[:pos]):
        word = item.text.lower()
        if item.kind == "word" and (word in _VERB_GAP or word == "all"):
            continue
        return item.kind == "word" and word in _DO
    return False


def or_more(item: Item) -> bool:
    return item.kw == "cmp" and item.text.lower() in ("or more", "or less", "or fewer")


def by_age(facts: ModelFacts, items: list[Item], base: str | None) -> bool:
    """Whether "oldest" means the highest age: the question names an age field, or the model
    it is about has an age field and no time column."""
    for item in items:
        chosen = item.chosen if item.kind == "entry" else None
        if chosen is not None and chosen.kind == "field" and _is_age(str(chosen.name)):
            return True
    if base is None:  # "who is the oldest *member*": the first model the question names
        base = next((e.model for i in items if (e := i.chosen) and e.kind == "model"), None)
    model = facts.index.get_model(base) if base else None
    if model is None or model.time_column:
        return False
    return any(_is_age(c.name) for c in model.columns)


def by_birth(
    facts: ModelFacts, item: Item, base: str | None, nxt: Item | None
) -> tuple[tuple[str, str | None], tuple[str, str] | None]:
    """ "the oldest employee" of a model with a birth date and no age: the earliest birth
    date (not the first hire date), "the youngest" the latest. Returns the superlative's
    (direction, concept) and the field it ranks by (None: unchanged)."""
    word = item.text.lower().split()[-1]
    if base is None and nxt is not None and nxt.chosen is not None and nxt.chosen.kind == "model":
        base = nxt.chosen.model  # "who is the oldest *employee*"
    model = facts.index.get_model(base) if base else None
    if word not in ("oldest", "youngest", "eldest") or model is None:
        return item.arg, None
    if any(_is_age(c.name) for c in model.columns):
        return item.arg, None
    for column in model.columns:
        words = set(identifier_words(column.name))
        if words & {"birth", "born", "dob", "birthday", "birthdate"}:
            direction = "desc" if word == "youngest" else "asc"
            return (direction, "time"), (model.name, column.name)
    return item.arg, None


def _is_age(name: str) -> bool:
    return "age" in identifier_words(name)


def text_field(facts: ModelFacts, item: Item) -> bool:
    """Whether ``item`` names a text field that is not a key."""
    return _plain_field(facts, item, "text")


def number_field(facts: ModelFacts, item: Item) -> bool:
    """Whether ``item`` names a number field that is not a key."""
    return _plain_field(facts, item, "number")


def _plain_field(facts: ModelFacts, item: Item, kind: str) -> bool:
    chosen = item.chosen if item.kind == "entry" else None
    if chosen is None or chosen.kind != "field":
        return False
    info = facts.lexicon.field(chosen.model, str(chosen.name))
    return info.kind == kind and not info.key


def time_item(facts: ModelFacts, item: Item | None) -> Item | None:
    """``item`` if it names a date or time field not used otherwise ("signed up")."""
    if item is None or item.kind != "entry" or item.chosen is None:
        return None
    if item.chosen.kind != "field" or item.role not in (None, "context"):
        return None
    info = facts.lexicon.field(item.chosen.model, str(item.chosen.name))
    if info.kind == "number" and item.chosen.via == "verb":
        return item  # "enrolled after 2020": a number column of years the verb names
    return item if info.kind == "time" else None


def counted_noun(items: list[Item], item: Item) -> bool:
    """A word that maps to nothing between a number and the numeric field it is a figure of
    ("more than 10 people injured")."""
    if item.kind != "word":
        return False
    after = items[items.index(item) + 1 : items.index(item) + 2]
    return (
        bool(after)
        and after[0].kind == "entry"
        and bool(after[0].chosen)
        and (after[0].chosen is not None and after[0].chosen.kind == "field")
    )


def per_different(r: Reading, items: list[Item], pos: int, nxt: Item | None) -> bool:
    """ "for different X" after an aggregate: one figure per X, not a count of them (the
    "number of" in "for different number of axles" names the field, a count itself)."""
    before = items[pos - 1].text.lower() if pos else ""
    if before not in ("for", "across") or (r.pending_agg is None and not r.measures):
        return False
    if nxt is not None and nxt.kw == "count":
        after = next_significant(items, items.index(nxt))
        if after is None or after.kind != "entry" or after.chosen is None:
            return False
        if after.chosen.kind != "field":
            return False
        nxt.kw, nxt.role = "words", "dimension"
    return True
