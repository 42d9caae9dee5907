"""The words of schema retrieval: how identifiers and questions become comparable stems.

Small on purpose: a stop-word list, a few abbreviations and synonyms common in schemas and
questions, and a light English stemmer. Callers add their own synonyms (a semantic model's) to
:class:`sqlgate.nl.retrieval.SchemaIndex`.
"""

from __future__ import annotations

import re


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOP_WORDS = _word_set(
    """a about above after all also am an and any are as at be been being below between both
    but by can could did do does doing done during each either else ever every few find for
    from get give had has have having he her here hers him his how i if in into is it its
    list me more most much my need no nor not of off on once only or other our out over own
    please provide return same say see shall she should show so some such tell than that the
    their them then there these they this those through to too under until up us very was we
    were what whats when where whether which while who whom whose why will with would you
    your ordered sorted sort alphabetical alphabetically lexicographical lexicographically
    reverse reversed descending ascending decreasing increasing respectively distinct
    different unique"""
)
_SORTING_WORDS = _word_set(
    """alphabetical lexicographical reverse reversed descending ascending decreasing increasing
    sorted chronological"""
)

OPERATOR_WEIGHT = 0.3

# Words that usually ask for an aggregate rather than name a table or column; they still match
# (``number_of_products``), at a lower weight.
OPERATOR_WORDS = _word_set(
    """number count total average mean sum maximum minimum max min many much largest smallest
    highest lowest biggest greatest top"""
)

# Spelled-out forms of abbreviations common in column names.
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "fname": ("first", "name"),
    "lname": ("last", "name"),
    "dob": ("birth", "date"),
    "qty": ("quantity",),
    "amt": ("amount",),
    "num": ("number",),
    "no": ("number",),
    "nbr": ("number",),
    "cnt": ("count",),
    "desc": ("description",),
    "descr": ("description",),
    "dept": ("department",),
    "emp": ("employee",),
    "cust": ("customer",),
    "addr": ("address",),
    "stu": ("student",),
    "prof": ("professor",),
    "org": ("organization",),
    "cat": ("category",),
    "yr": ("year",),
    "dt": ("date",),
    "ts": ("timestamp",),
    "pct": ("percent",),
    "avg": ("average",),
    "max": ("maximum",),
    "min": ("minimum",),
    "tel": ("phone",),
    "loc": ("location",),
    "info": ("information",),
}

# Question words and the schema words they may stand for (both sides stemmed when used).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "store": ("shop",),
    "shop": ("store",),
    "people": ("person", "population"),
    "populous": ("population",),
    "populace": ("population",),
    "inhabitant": ("population",),
    "speak": ("language",),
    "spoken": ("language",),
    "win": ("winner",),
    "live": ("address",),
    "light": ("weight",),
    "lighter": ("weight",),
    "heavier": ("weight",),
    "person": ("people",),
    "kid": ("child",),
    "nation": ("country",),
    "nationality": ("country",),
    "movie": ("film",),
    "film": ("movie",),
    "song": ("track",),
    "staff": ("employee",),
    "worker": ("employee",),
    "employee": ("staff",),
    "manufacturer": ("maker",),
    "maker": ("manufacturer",),
    "teacher": ("instructor",),
    "instructor": ("teacher",),
    "town": ("city",),
    "client": ("customer",),
    "customer": ("client",),
    "buyer": ("customer",),
    "salary": ("wage",),
    "price": ("cost",),
    "cost": ("price",),
    "begin": ("start",),
    "started": ("start",),
    "purchase": ("order",),
    "old": ("age",),
    "oldest": ("age",),
    "youngest": ("age",),
    "older": ("age",),
    "younger": ("age",),
    "born": ("birth",),
    "tall": ("height",),
    "tallest": ("height",),
    "heavy": ("weight",),
    "email": ("mail",),
}

# Irregular plurals a suffix-stripping stemmer cannot handle.
_IRREGULAR = {
    "people": "person",
    "children": "child",
    "men": "man",
    "women": "woman",
    "feet": "foot",
    "mice": "mouse",
    "data": "datum",
    "indices": "index",
    "criteria": "criterion",
    "analyses": "analysis",
    "won": "win",
}

_CAMEL = re.compile(r"[a-z][A-Z]")
_DOUBLED = re.compile(r"([a-z])\1")
# Words in identifiers: an upper-case run before a capitalised word (``HTTPServer``), an
# upper-case plural (``IDs``), a capitalised or lower-case word, an upper-case run, a number.
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]{2,}s(?![a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def split_identifier(name: str) -> list[str]:
    """``OrderLineItems`` / ``order_line_items`` / ``ORDER LINE 2`` -> ``order line items``."""
    return [w.lower() for w in _WORD.findall(name)]


def stem(word: str) -> str:
    """A small English stemmer: plurals, ``-ing``/``-ed``/``-ment`` forms, a few irregular
    nouns, and doubled letters counted once so spelling variants meet (``enrollments``,
    ``enrolment`` and ``enrolled`` all become ``enrol``).

    Deliberately light (no Porter rules): schema words are nouns, and over-stemming makes
    unrelated names collide (``organ`` and ``organization``).
    """
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix, replacement in (("ies", "y"), ("sses", "ss"), ("xes", "x"), ("ches", "ch")):
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            word = word[: -len(suffix)] + replacement
            break
    else:
        if word.endswith("ing") and len(word) > 5:
            word = word[:-3]
        elif word.endswith("ed") and len(word) > 4 and not word.endswith("eed"):
            word = word[:-2]
        elif word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
            word = word[:-1]
    if word.endswith("ment") and len(word) >= 8:
        word = word[:-4]
    return _DOUBLED.sub(r"\1", word)


def question_words(question: str) -> list[str]:
    """Lower-case content words of a question; identifiers in it are split. ``order`` in a
    sorting phrase (``in alphabetical order``, ``order by``) is not a content word."""
    raw = re.findall(r"[A-Za-z][A-Za-z0-9_]*|\d+", question)
    words: list[str] = []
    for n, token in enumerate(raw):
        lower = token.lower()
        if lower == "order" and (
            (n > 0 and raw[n - 1].lower() in _SORTING_WORDS)
            or (n + 1 < len(raw) and raw[n + 1].lower() == "by")
        ):
            continue
        is_identifier = "_" in token or _CAMEL.search(token) is not None
        parts = split_identifier(token) if is_identifier else [lower]
        words.extend(w for w in parts if w not in STOP_WORDS and not w.isdigit())
    return words
