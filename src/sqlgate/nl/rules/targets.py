"""What a word points at when it names no field itself: the number a bare aggregate or
comparison is about, the field a concept word means ("cost", "long", "old"), the time column of
a model, and seconds in a column's own unit."""

from __future__ import annotations

from sqlgate.nl.name_words import name_words
from sqlgate.nl.rules.building import TEXT_TYPE
from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import CannotAnswer, Item, Order, Reading
from sqlgate.nl.vocabulary import CONCEPT_FIELDS


def numeric_mention(
    facts: ModelFacts, r: Reading, subject: str | None, *, lone: bool = False
) -> tuple[str, str] | None:
    """The number field asked; with ``lone``, only when no field of another kind is asked with
    it ("the tonnage and rig of the ships": the rows, not a total)."""
    asked = [i.chosen for i in r.fields if i.chosen is not None and i.role in (None, "context")]
    if lone and any(
        e.kind == "field" and facts.lexicon.field(e.model, str(e.name)).kind != "number"
        for e in asked
    ):
        return None
    for item in r.fields:
        chosen = item.chosen
        if chosen is None or item.role not in (None, "context"):
            continue
        info = facts.lexicon.field(chosen.model, str(chosen.name))
        if info.kind == "number" and not info.key:
            if lone and _as_text(facts, chosen.model, str(chosen.name)):
                return None  # "the ISBN of War and Peace": digits stored as text, no total
            item.role = "measure"
            return chosen.model, str(chosen.name)
    return None


def _as_text(facts: ModelFacts, model: str, name: str) -> bool:
    """Whether the field is a column of text (holding numbers: codes, ISBNs, ages as text)."""
    found = facts.index.get_field(model, name)
    return bool(found is not None and TEXT_TYPE.search(getattr(found, "type", None) or ""))


def concept_target(
    facts: ModelFacts,
    concept: str | None,
    model: str | None,
    r: Reading,
    named: tuple[str, str] | None = None,
) -> tuple[str, str, str] | None:
    """("field", model, field) or ("metric", model, metric) that a concept word means;
    ``named`` is a field the question put right after the superlative."""
    if named is not None:
        return ("field", named[0], named[1])
    if model is None:
        return None
    if concept is None:
        numeric = numeric_mention(facts, r, model)
        if numeric:
            return ("field", numeric[0], numeric[1])
        default = facts.default_measure(model, named=True)  # "the largest bakery": no guess
        return ("field", default[0], default[1]) if default else None
    if concept == "time":
        time = time_field_of(facts, model, r) or _year_field(facts, model)
        return ("field", time[0], time[1]) if time else None
    if concept == "sales":
        metric = facts.metric_for("sales", model)
        if metric:
            return ("metric", metric[0], metric[1])
    for candidate in facts.nearby_models(model):
        found = facts.field_with_words(candidate, CONCEPT_FIELDS.get(concept, (concept,)))
        if found:
            return ("field", candidate, found)
    if concept == "size":  # "whose number of products is the largest": the number named
        numeric = numeric_mention(facts, r, model)
        default = numeric or facts.default_measure(model, named=True)
        return ("field", default[0], default[1]) if default else None
    return None


#: Words of a column's name that say it holds a duration.
_DURATION_WORDS = frozenset({"length", "duration", "runtime", "time", "seconds", "mins"})


def _year_field(facts: ModelFacts, model: str) -> tuple[str, str] | None:
    """The one number column of ``model`` named with "year" (``BuiltYear``, ``founded_yr``),
    that "the oldest" or "the newest" ranks by when the model has no date and no age."""
    m = facts.index.get_model(model)
    if m is None or any("age" in name_words(f.name) for f in m.columns):
        return None  # "the oldest chef": by age, never by a year of something else
    years = [
        f.name
        for f in m.columns
        if "year" in name_words(f.name)
        and facts.lexicon.field(m.name, f.name).kind == "number"
        and not facts.lexicon.field(m.name, f.name).key
    ]
    return (m.name, years[0]) if len(years) == 1 else None


def time_field_of(facts: ModelFacts, model: str, r: Reading) -> tuple[str, str] | None:
    for item in r.fields:
        chosen = item.chosen
        if (
            chosen is not None
            and facts.lexicon.field(chosen.model, str(chosen.name)).kind == "time"
        ):
            item.role = item.role or "filter"
            return chosen.model, str(chosen.name)
    for candidate in facts.to_one_models(model):
        m = facts.index.get_model(candidate)
        assert m is not None
        if m.time_column:
            return m.name, m.time_column
    m = facts.index.get_model(model)
    if m is not None:
        for f in m.columns:
            if facts.lexicon.field(m.name, f.name).kind == "time":
                return m.name, f.name
    return None


def _from_seconds(name: str, seconds: float) -> float:
    """``seconds`` in the unit the column's name says (``runtime_min``, ``LengthHrs``,
    ``Milliseconds``); in seconds when it says none. A first word "min" is a minimum. A column
    whose name says no duration is no answer."""
    words = name_words(name)
    if not set(words) & {*_PER_SECOND, *_DURATION_WORDS}:
        # "screenings shorter than 100 minutes" by their tickets sold: no duration to compare
        raise CannotAnswer("I found no column of durations to compare with.")
    for k, word in enumerate(words):
        if word in _PER_SECOND and (word != "min" or k > 0):
            return seconds * _PER_SECOND[word]
    return seconds


def concept_order(
    facts: ModelFacts, r: Reading, items: list[Item], direction: str, base: str
) -> Order | None:
    """The order a concept word gives ("sort the products by their price": the price field),
    else the first field asked ("the names in ascending order"), else None."""
    concepts = [i for i in items if i.kind == "concept"]
    asked = [i.chosen for i in r.fields if i.chosen and i.role in (None, "context")]
    if not concepts and asked:
        return (direction or "asc", "field_ref", (asked[0].model, str(asked[0].name)))
    if not concepts:
        return None
    found = concept_target(facts, str(concepts[0].arg), base, r)
    if found is None or found[0] != "field":
        raise CannotAnswer(f"I could not tell which field '{concepts[0].text}' orders by.")
    return (direction or "asc", "field_ref", (found[1], found[2]))


#: Units of a duration column's name, and how many of them a second is.
_PER_SECOND = {
    "milliseconds": 1000.0, "ms": 1000.0, "minutes": 1 / 60, "minute": 1 / 60, "min": 1 / 60,
    "hours": 1 / 3600, "hour": 1 / 3600,
}  # fmt: skip
