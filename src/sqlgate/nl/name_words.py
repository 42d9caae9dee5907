"""The words a schema's name says, when it shortens, glues or misspells them.

:func:`sqlgate.nl.text.identifier_words` splits a name where it says so (``InvoiceDate``,
``total_amount``). Schemas also write names the way a question never does:

* shortened: ``dept``, ``qty``, ``amt``, ``yr``, ``desc``, ``dob`` (:data:`ABBREVIATIONS`, the
  usual ones of column and table names, each with one reading only);
* glued: ``studentname``, ``makeid``, ``staffno`` (:func:`split_glued`): a word no English
  dictionary knows that is two words it knows, one way only; a glued ``id`` or ``no`` ends it;
* misspelled: ``adress``, ``unit_prce`` (:func:`sqlgate.nl.lexicon.Lexicon.respelled`, at
  question time, against the question's correctly spelled word).

:func:`name_words` is the name as a question says it; the lexicon indexes it beside the name's
own words, so both meet the question. The dictionary is simplemma's bundled English one, the one
the rest of the offline reader uses (no download, no second word list): a maintained splitter
such as wordninja or wordsegment would split every string, known word or not, by corpus
frequency, where a name must stay whole unless one reading is clear.
"""

from __future__ import annotations

from functools import lru_cache

from sqlgate.nl.text import identifier_words

#: Shortenings of schema names and the words a question uses for them. Not "max" and "min":
#: "the minimum salary" must stay an aggregate of ``salary`` beside a ``min_salary`` column.
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "no": ("number",), "num": ("number",), "nbr": ("number",), "qty": ("quantity",),
    "amt": ("amount",), "desc": ("description",), "descr": ("description",), "addr": ("address",),
    "dept": ("department",), "yr": ("year",), "dt": ("date",), "cnt": ("count",),
    "pct": ("percent",), "avg": ("average",), "tel": ("telephone",),
    "dob": ("date", "of", "birth"), "mgr": ("manager",), "emp": ("employee",), "qtr": ("quarter",),
    "cust": ("customer",), "loc": ("location",), "bldg": ("building",), "org": ("organization",),
    "univ": ("university",), "yrs": ("years",), "hrs": ("hours",), "mins": ("minutes",),
    "secs": ("seconds",), "fname": ("first", "name"), "lname": ("last", "name"),
    "mname": ("middle", "name"), "stu": ("student",), "prof": ("professor",), "crs": ("course",),
    "tot": ("total",), "cred": ("credit",), "hr": ("hour",), "lat": ("latitude",),
    "lng": ("longitude",), "lon": ("longitude",), "pop": ("population",), "wt": ("weight",),
    "ht": ("height",), "ref": ("reference",), "msg": ("message",), "img": ("image",),
    "doc": ("document",), "txt": ("text",), "src": ("source",), "acct": ("account",),
    "mfr": ("manufacturer",), "elev": ("elevation",), "dur": ("duration",), "len": ("length",),
    "vol": ("volume",), "pts": ("points",), "asst": ("assistant",), "ctry": ("country",),
    "prov": ("province",), "appt": ("appointment",), "sal": ("salary",), "nm": ("name",),
    "sched": ("schedule",), "mgmt": ("management",), "svc": ("service",), "grp": ("group",),
    "bal": ("balance",), "pmt": ("payment",), "txn": ("transaction",), "wk": ("week",),
    "empl": ("employee",), "proj": ("project",), "phn": ("phone",), "prod": ("product",),
    "prc": ("price",), "prep": ("preparation",),
}  # fmt: skip

#: Short words a glued name may end with ("makeid", "staffno").
_GLUED_ENDS = frozenset({"id", "no", "num", "nbr", "code", "name", "date", "year", "type"})
#: Shortest part of a glued name read as a word of its own.
_MIN_PART = 3
#: Little words that do not make a part of a glued name ("theme" is no "the" + "me").
_LITTLE = frozenset({"the", "and", "for", "are", "was", "not", "but", "all", "any", "its"})


@lru_cache(maxsize=4096)
def name_words(name: str) -> tuple[str, ...]:
    """The words of a name as a question says them: ``dept_name`` → department name,
    ``studentname`` → student name, ``dob`` → date of birth; the name's own words when it
    shortens and glues nothing."""
    out: list[str] = []
    for word in identifier_words(name):
        for part in split_glued(word):
            out.extend(ABBREVIATIONS.get(part, _plural_shortening(part)))
    return tuple(out)


def _plural_shortening(part: str) -> tuple[str, ...]:
    """A shortening made plural with an "s" (``txns``: transactions, ``depts``: departments),
    of three letters or more before it; the part itself otherwise."""
    words = ABBREVIATIONS.get(part[:-1]) if len(part) > 3 and part.endswith("s") else None
    if not words or _english(part):
        return (part,)
    last = words[-1]
    plural = last[:-1] + "ies" if last.endswith("y") and last[-2] not in "aeiou" else last + "s"
    return (*words[:-1], plural)


@lru_cache(maxsize=4096)
def split_glued(word: str) -> tuple[str, ...]:
    """``studentname`` → (student, name), ``makeid`` → (make, id), ``dateofbirth`` → (date,
    of, birth); the word alone when it is an English word itself, or no two words, or two ways
    of two words ("goalscorer": goal scorer or goals corer), unless only one ends with a word
    names often end with (``hiredate``: hire date, not hired ate)."""
    if len(word) < 5 or not word.isalpha() or _english(word):
        return (word,)
    found: list[tuple[str, ...]] = []
    for cut in range(2, len(word) - 1):
        head, tail = word[:cut], word[cut:]
        if head in _LITTLE or tail in _LITTLE or not _part(head):
            continue
        if tail in _GLUED_ENDS or (len(tail) >= _MIN_PART and _part(tail)):
            found.append((head, tail))
        elif tail.startswith("of") and _part(tail[2:]):  # "dateofbirth"
            found.append((head, "of", tail[2:]))
    if len(found) > 1:
        found = [parts for parts in found if parts[-1] in _GLUED_ENDS]
    return found[0] if len(found) == 1 else (word,)


def _part(word: str) -> bool:
    return word in ABBREVIATIONS or (len(word) >= _MIN_PART and _english(word))


def _english(word: str) -> bool:
    """Whether ``word`` is an English word. The dictionary behind it is imported by the first
    question, not by the draft model that a server builds as it starts."""
    from sqlgate.nl.spelling import english

    return english(word)
