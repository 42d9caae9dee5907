"""The vocabulary of a semantic model: every phrase that names a model, field, metric or value.

Phrases come from names (``InvoiceDate`` → "invoice date"), synonyms, model-qualified field
names ("customer country"), field names without their model's prefix (``InvoiceDate`` in
``Invoice`` → "date"), sampled values ("Germany", "small business") and boolean columns
("active", "inactive", "not active"). They are keyed by word stems, and matched greedily,
longest phrase first.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, replace

from rapidfuzz.distance import OSA

from sqlgate.nl.name_words import ABBREVIATIONS, name_words
from sqlgate.nl.sampled_kinds import dated_verb, dates_only
from sqlgate.nl.semantic import CalculatedField, Column, Model, SemanticIndex
from sqlgate.nl.spelling import acronym, english, lemma
from sqlgate.nl.text import identifier_words, phrase_key, stem
from sqlgate.nl.values import ValueIndex

_NUMERIC = re.compile(
    r"int|dec|num|float|double|real|money|serial|bigint|smallint|tinyint", re.IGNORECASE
)
_TEMPORAL = re.compile(r"date|time", re.IGNORECASE)
_BOOLEAN = re.compile(r"bool|bit\b", re.IGNORECASE)
MAX_PHRASE = 8


@dataclass(frozen=True)
class Entry:
    """What a phrase can mean."""

    kind: str  # "model", "field", "metric", "value"
    model: str  # the model (a metric's base model)
    name: str | None = None  # field or metric name
    value: str | None = None  # a sampled value, or "true"/"false" for boolean columns
    via: str = "name"  # name, synonym, qualified, short, value
    exact_case: str | None = None  # the value as stored, for case-sensitive agreement

    @property
    def part(self) -> str:
        if self.kind == "model":
            return self.model
        if self.kind == "value":
            return f"{self.model}.{self.name} = {self.value!r}"
        if self.kind == "metric":
            return str(self.name)
        return f"{self.model}.{self.name}"


@dataclass(frozen=True)
class FieldInfo:
    model: str
    name: str
    kind: str  # "number", "time", "boolean", "text"
    key: bool
    calculated: bool


class Lexicon:
    def __init__(self, index: SemanticIndex, values: ValueIndex | None = None) -> None:
        self.index = index
        self.phrases: dict[tuple[str, ...], list[Entry]] = defaultdict(list)
        self.fields: dict[tuple[str, str], FieldInfo] = {}
        #: the words of the model's names and synonyms, and their dictionary forms
        self.words: set[str] = set()
        #: one-word field names that read as initials ("mpg"), by those initials
        self.acronyms: dict[str, list[Entry]] = defaultdict(list)
        self._build(values)
        self._labelled_things()
        self._measured_things()
        self.words |= {lemma(w) for w in self.words}
        #: words of names that are no English word and may shorten one ("dest", "abbrev")
        self._cut = sorted(
            (w for w in self.words if len(w) >= 4 and w.isalpha() and not english(w)),
            key=len,
            reverse=True,
        )
        self._shortened: dict[str, str | None] = {}
        #: words of names that are a word's letters without its vowels ("mtr", "rdg", "acct")
        self._skeletons = [
            w
            for w in self.words
            if 3 <= len(w) <= 5
            and w.isalpha()
            and not english(w)
            and not set(w[1:]) & _VOWELS
            and w not in ABBREVIATIONS
        ]

    def add(self, key: tuple[str, ...], entry: Entry) -> None:
        if not key or len(key) > MAX_PHRASE:
            return
        entries = self.phrases[key]
        if entry not in entries:
            entries.append(entry)

    def _build(self, values: ValueIndex | None) -> None:
        index = self.index
        for model in index.model.models:
            model_words = identifier_words(model.name)
            model_phrases = [tuple(stem(w) for w in model_words)]
            model_phrases += [phrase_key(s) for s in model.synonyms]
            if model.table and model.table != model.name:
                model_phrases.append(tuple(stem(w) for w in identifier_words(model.table)))
            said = tuple(stem(w) for w in name_words(model.name))
            if said not in model_phrases:  # "department" for dept, "pupil" for pupils_tbl
                model_phrases.append(said)
            for key in model_phrases:
                self.add(key, Entry("model", model.name, via="name"))
            self._known(model.name, model.table or "", *model.synonyms)
            keys = {k.lower() for k in model.primary_key}
            fk_columns = {
                c.lower() for j in index.joins[model.name.lower()] for c in j.left_columns
            }
            fields: list[Column | CalculatedField] = [*model.columns, *model.calculated_fields]
            for f in fields:
                calculated = isinstance(f, CalculatedField)
                type_name = f.type or ""
                words = identifier_words(f.name)
                is_key = (
                    f.name.lower() in keys
                    or f.name.lower() in fk_columns
                    or (bool(words) and words[-1] == "id")
                )
                kind = _kind(type_name, words, calculated)
                if kind == "text" and not is_key and _numbers_only(values, model.name, f.name):
                    kind = "number"  # "age VARCHAR" holding 2, 5, 11: a number stored as text
                elif kind == "text" and not is_key and dates_only(values, model.name, f.name):
                    kind = "time"  # "opened_on TEXT" holding '2015-03-01'
                if kind == "number" and not is_key and _flag(words):
                    kind = "boolean"  # "is_active INTEGER" holding 0 and 1
                self.fields[(model.name.lower(), f.name.lower())] = FieldInfo(
                    model.name, f.name, kind, is_key, calculated
                )
                name_key = tuple(stem(w) for w in words)
                # a shortened name ("sal") is also the stem of other words ("sales"): the
                # words it shortens say the field first
                shortened = any(w in ABBREVIATIONS for w in words)
                self.add(name_key, Entry("field", model.name, f.name, via=_RAW[shortened]))
                self._known(f.name, *f.synonyms)
                if len(words) == 1 and acronym(words[0]):
                    self.acronyms[words[0]].append(
                        Entry("field", model.name, f.name, via="synonym")
                    )
                self._said(model.name, f, name_key, model_phrases)
                self._reordered(name_key, Entry("field", model.name, f.name, via="synonym"))
                for nominal in _nominals(words):
                    # "arrival date", "date of departure" for date_arrived, date_departed
                    self.add(nominal, Entry("field", model.name, f.name, via="synonym"))
                    self._reordered(nominal, Entry("field", model.name, f.name, via="synonym"))
                if kind == "time" and dated_verb(words):  # "held" for held_on
                    self.add(name_key[:1], Entry("field", model.name, f.name, via="short"))
                if len(words) == 2 and name_words(f.name)[-1] in _GENERIC_SUFFIXES and not is_key:
                    # "role" for role_code, "email" for email_address
                    self.add(name_key[:1], Entry("field", model.name, f.name, via="short"))
                for synonym in f.synonyms:
                    self.add(phrase_key(synonym), Entry("field", model.name, f.name, via="synonym"))
                self._model_words(model.name, f, name_key, model_phrases)
                if kind == "boolean":
                    self._boolean(model.name, f.name, name_key)
                    if len(name_key) > 1 and name_key[0] in ("is", "has"):  # is_open: "open"
                        self._boolean(model.name, f.name, name_key[1:])
            self._label_phrases(model, model_phrases)
        for metric in index.model.metrics:
            entry = Entry("metric", metric.model, metric.name)
            self.add(tuple(stem(w) for w in identifier_words(metric.name)), entry)
            for synonym in metric.synonyms:
                self.add(
                    phrase_key(synonym), Entry("metric", metric.model, metric.name, via="synonym")
                )
        if values is not None:
            self._values(values)

    def _values(self, values: ValueIndex) -> None:
        """The sampled values, with their words spelled out or said otherwise."""
        index = self.index
        for (model_name, column), stored in values.values.items():
            if index.get_field(model_name, column) is None:
                continue
            for value in stored:
                key = phrase_key(value.replace("_", " "))
                if key and not all(k.isdigit() for k in key):
                    entry = Entry("value", model_name, column, value, via="value", exact_case=value)
                    self.add(key, entry)
                    for other in _spelled_out(value):  # "Art Department" for Art Dept.
                        self.add(other, replace(entry, via="alias"))
                    for other in _sex_words(column, value):  # "female" for 'F'
                        self.add(other, replace(entry, via="sex"))

    def _labelled_things(self) -> None:
        """ "the song" for a ``song_name`` column: a thing a model's rows hold only by its name
        or title, when no other name is that word and only one column is so named."""
        found: dict[str, list[FieldInfo]] = defaultdict(list)
        for info in self.fields.values():
            words = list(name_words(info.name))  # holder_nm: "holder name"
            if len(words) == 2 and words[1] in ("name", "title") and not info.key:
                found[stem(words[0])].append(info)
        for word, infos in found.items():
            if len(infos) == 1 and (word,) not in self.phrases:
                self.add((word,), Entry("field", infos[0].model, infos[0].name, via="short"))
        # "the release year of the song" for ``song_release_year``
        for info in list(self.fields.values()):
            key = tuple(stem(w) for w in identifier_words(info.name))
            if len(key) < 3 or info.key or (key[0],) not in self.phrases:
                continue
            entry = Entry("field", info.model, info.name, via="synonym")
            for variant in ((*key[1:], "of", key[0]), (*key[1:], "of", "the", key[0])):
                if variant not in self.phrases:
                    self.add(variant, entry)

    def _measured_things(self) -> None:
        """ "height" for a ``height_cm`` column, "budget" for ``budget_amt``, "tonnage" for
        ``TonnageGT``, "tickets" for ``tickets_sold``: a number column's name without its last
        word when that word only says the unit, that it is an amount, or what was done to it;
        when the rest names nothing else and no other column of the model says it."""
        found: dict[tuple[str, tuple[str, ...]], list[FieldInfo]] = defaultdict(list)
        for info in self.fields.values():
            words = name_words(info.name)
            if info.key or info.kind != "number" or len(words) < 2:
                continue
            head = _measured(words)  # area_sq_ft: "area"
            if head != words and head and head[-1].isalpha():
                found[(info.model.lower(), tuple(stem(w) for w in head))].append(info)
        # "capacity" for ``stadium_capacity``: the last word of one number column's name only
        ends: dict[tuple[str, ...], list[FieldInfo]] = defaultdict(list)
        for info in self.fields.values():  # every column a word is in ("cost", cost_of_care)
            for word in {stem(w) for w in name_words(info.name)}:
                ends[(word,)].append(info)
        for key, infos in ends.items():
            words = _measured(name_words(infos[0].name))  # monthly_rent_usd: "rent"
            if (
                len(infos) == 1
                and infos[0].kind == "number"
                and not infos[0].key
                and len(words) == 2
                and (stem(words[-1]),) == key
                and words[-1] not in _VAGUE_FIGURES  # "the size", "the total": of what?
                and len(words[-1]) > 3
                and words[-1].isalpha()
            ):
                found[(infos[0].model.lower(), key)] = infos
        for (_model, key), infos in found.items():
            if len(infos) == 1 and key not in self.phrases:
                self.add(key, Entry("field", infos[0].model, infos[0].name, via="short"))

    def shortened(self, word: str) -> str | None:
        """The stem of the name word that ``word`` is a shortening of ("dest" for "destination",
        "abbrev" for "abbreviation"): an English word that starts with a name word which is no
        English word, at least two letters longer; ``None`` when there is none."""
        if word not in self._shortened:
            found = None
            if len(word) >= 5 and english(word) and word not in self.words:
                found = next(
                    (w for w in self._cut if word.startswith(w) and len(word) > len(w) + 1), None
                )
            if found is None and len(word) >= 4 and english(word) and word not in self.words:
                # "meters" for ``mtr``, "readings" for ``rdg``: its letters without vowels
                forms = {word, lemma(word)}  # "reading", whose lemma is "read"
                kept = {w for w in self._skeletons if any(_skeleton_of(w, f) for f in forms)}
                found = kept.pop() if len(kept) == 1 else None
            self._shortened[word] = stem(found) if found else None
        return self._shortened[word]

    def respelled(self, word: str) -> str | None:
        """The stem of the name word that misspells ``word`` ("adress" for "address", "prce"
        for "price"): a name word no English word, one slip (a letter missing, added, changed
        or two swapped) from the question's English word; ``None`` when none is, or several."""
        if len(word) < 5 or not english(word) or word in self.words:
            return None
        forms = {word, lemma(word)}  # "addresses": the name word misspells "address"
        close = {
            stem(w)
            for w in self._cut
            if not any(f in w or w in f for f in forms)  # "names" is no slip of ``fname``
            and any(OSA.distance(w, f, score_cutoff=1) <= 1 for f in forms)
        }
        return close.pop() if len(close) == 1 and stem(word) not in close else None

    def variant(self, word: str) -> str | None:
        """The stem of the name word that spells ``word`` the British or the American way
        ("colour" for "color", "centre" for "center", "enrolment" for "enrollment"); ``None``
        when none does, or several."""
        if len(word) < 4 or word in self.words or not word.isalpha():
            return None
        found = {stem(w) for w in _variants(word) if w in self.words}
        return found.pop() if len(found) == 1 else None

    def derived(self, word: str) -> str | None:
        """The stem of the name word a question's noun is made from with an ending ("enrolment"
        for ``enrol_yr``, "singer" for ``sing_date``); ``None`` when none is, or several."""
        if len(word) < 6 or word in self.words:
            return None
        found = set()
        for ending in _DERIVING:
            if word.endswith(ending) and len(word) - len(ending) >= 3:
                base = word[: -len(ending)]
                for form in (base, base + "e", base[:-1] if base[-1:] == base[-2:-1] else base):
                    if form in self.words:
                        found.add(stem(form))
        return found.pop() if len(found) == 1 else None

    def _said(
        self,
        model: str,
        f: Column | CalculatedField,
        name_key: tuple[str, ...],
        model_phrases: list[tuple[str, ...]],
    ) -> None:
        """The field's name as a question says it: "flight number" for FlightNo, "quantity" for
        qty, "pupil name" for pupilname, and without the model's words ("name" in pupil) or a
        first word that shortens the model's name ("last name" for tut_lname in tutor)."""
        words = name_words(f.name)
        said = tuple(stem(w) for w in words)
        owner = identifier_words(model)[:1]
        if len(words) > 1 and owner and _shortens(words[0], owner[0]):
            self.add(said[1:], Entry("field", model, f.name, via="short"))
        if said == name_key:
            return
        self.add(said, Entry("field", model, f.name, via="synonym"))
        self._known(" ".join(name_words(f.name)))
        if not {"number", "count"} & set(said):  # "the number of flights" counts them
            self._model_words(model, f, said, model_phrases)

    def _known(self, *names: str) -> None:
        for name in names:
            self.words.update(w for part in name.split() for w in identifier_words(part))

    def _boolean(self, model: str, name: str, key: tuple[str, ...]) -> None:
        self.add(key, Entry("value", model, name, "true", via="boolean"))
        if len(key) == 1:
            word = key[0]
            for prefix in ("in", "un", "non"):
                self.add(
                    (stem(prefix + word),), Entry("value", model, name, "false", via="boolean")
                )
        self.add(("not", *key), Entry("value", model, name, "false", via="boolean"))
        self.add(("non", *key), Entry("value", model, name, "false", via="boolean"))

    def _reordered(self, key: tuple[str, ...], entry: Entry) -> None:
        """A two-word name the other way round, without its little words or with "of":
        "membership level" for ``Level_of_membership``, "date of renewal" for a renewal date."""
        content = tuple(w for w in key if w not in _LITTLE_WORDS)
        if len(content) == 2:
            first, second = content
            # and "date of renewal" for a "renewal date"
            for variant in (content, content[::-1], (second, "of", first), (first, "of", second)):
                if variant != key and variant not in self.phrases:
                    self.add(variant, entry)

    def _model_words(
        self,
        model: str,
        f: Column | CalculatedField,
        name_key: tuple[str, ...],
        model_phrases: list[tuple[str, ...]],
    ) -> None:
        """A field's name with its model's words: without them ("date" for InvoiceDate in
        Invoice, for date_of_treatment in Treatments) and with them ("customer country")."""
        # "InvoiceDate" in Invoice is also "date"; "customer country" is qualified
        for prefix in model_phrases:
            tail = ("of", *prefix)
            if len(name_key) > len(tail) and name_key[-len(tail) :] == tail:
                # "date" for date_of_treatment in Treatments
                short = name_key[: -len(tail)]
                self.add(short, Entry("field", model, f.name, via="short"))
            if len(name_key) > len(prefix) and name_key[: len(prefix)] == prefix:
                self.add(name_key[len(prefix) :], Entry("field", model, f.name, via="short"))
            elif name_key[: len(prefix)] != prefix:
                self.add(prefix + name_key, Entry("field", model, f.name, via="qualified"))
                for synonym in f.synonyms:
                    self.add(
                        prefix + phrase_key(synonym),
                        Entry("field", model, f.name, via="qualified"),
                    )

    def _label_phrases(self, model: Model, model_phrases: list[tuple[str, ...]]) -> None:
        """The model's label column ("the continent name") and key ("the continent id")."""
        named: list[tuple[str, str]] = []
        if len(model.label_columns) == 1:
            named += [("name", model.label_columns[0]), ("title", model.label_columns[0])]
        if len(model.primary_key) == 1:
            named.append(("id", model.primary_key[0]))  # "the continent id" for ContId
        for prefix in model_phrases:
            for word, column in named:
                key = (*prefix, stem(word))
                if key not in self.phrases:
                    self.add(key, Entry("field", model.name, column, via="qualified"))

    def field(self, model: str, name: str) -> FieldInfo:
        return self.fields[(model.lower(), name.lower())]


#: How a field's name as written is marked: plainly, or as "short" when it shortens words.
_RAW = {False: "name", True: "short"}
_GENERIC_SUFFIXES = frozenset({"code", "address", "number", "text", "value"})
#: Last words of a number column's name that say its unit, that it is an amount, or what was
#: done to what it counts: the rest of the name says what it measures.
_MEASURE_ENDS = frozenset(
    {"cm", "mm", "km", "kg", "kgs", "lb", "lbs", "gt", "usd", "eur", "gbp", "min", "minutes",
     "sec", "seconds", "hours", "ms", "percent", "amount", "sold", "paid", "spent", "earned",
     "received", "used", "won", "lost", "sq", "ft", "metres", "meters", "m", "km2", "mi",
     "sqm", "sqft", "m2", "ha", "acres", "hectares", "ml", "litres", "liters", "g", "mph"}
)  # fmt: skip
_LITTLE_WORDS = frozenset({"of", "the", "a", "an", "for", "in", "on", "by", "to", "and"})


#: Endings that make a noun of a verb or adjective: enrolment, singer, production, arrival.
_DERIVING = ("ment", "ation", "ion", "er", "or", "al", "ance", "ence", "ity", "ness")

#: Endings that make a noun of a verb: arrive → arrival, depart → departure, pay → payment.
_NOMINAL = ("al", "ure", "ion", "tion", "ment", "ance", "ence")


#: Spellings of one word in British and American English: colour/color, centre/center.
_SPELLINGS = (
    ("our", "or"), ("tre", "ter"), ("ise", "ize"), ("isation", "ization"), ("ogue", "og"),
    ("mme", "m"), ("ence", "ense"), ("ll", "l"), ("ey", "ay"),
)  # fmt: skip


def _variants(word: str) -> set[str]:
    """``word`` with one of its spellings in the other English ("color" → colour)."""
    out = set()
    for a, b in _SPELLINGS:
        for old, new in ((a, b), (b, a)):
            start = word.find(old)
            while start >= 0:
                out.add(word[:start] + new + word[start + len(old) :])
                start = word.find(old, start + 1)
    out.discard(word)
    return out


_VOWELS = frozenset("aeiouy")


def _measured(words: tuple[str, ...]) -> tuple[str, ...]:
    """A number column's name words without the words after what it measures (its unit, "sq
    ft", "amount", "sold")."""
    while len(words) > 1 and words[-1].lower() in _MEASURE_ENDS:
        words = words[:-1]
    return words


def _skeleton_of(short: str, word: str) -> bool:
    """Whether ``short`` is ``word`` without its vowels and at most two more of its letters,
    its first and last consonants kept ("mtr" of "meter", "rdg" of "reading", "acct" of
    "account"; not "rdg" of "regarding")."""
    letters = word[0] + "".join(c for c in word[1:] if c not in _VOWELS)
    if short[0] != word[0] or short[-1] != letters[-1] or len(letters) - len(short) > 2:
        return False
    rest = iter(letters)
    return all(c in rest for c in short)


def _shortens(word: str, name: str) -> bool:
    """Whether ``word`` begins ``name`` and is shorter ("tut" of "tutor", "cust" of
    "customers")."""
    return 3 <= len(word) < len(name) and name.startswith(word)


def _spelled_out(value: str) -> list[tuple[str, ...]]:
    """The keys of a value of several words with its shortened words spelled out ("art
    department" for ``Art Dept.``), or its words shortened ("art dept" for ``Art
    Department``); none when it has no such word."""
    words = value.replace("_", " ").split()
    if len(words) < 2:
        return []
    out: list[tuple[str, ...]] = []
    for table in (_SPELLED, _SHORTENED):
        said = [table.get(w.rstrip(".").lower(), w) for w in words]
        if said != words:
            out.append(phrase_key(" ".join(said)))
    return out


#: Shortened words of values, spelled out ("dept" → department), and the other way round.
_SPELLED = {k: " ".join(v) for k, v in ABBREVIATIONS.items() if len(k) >= 3 and len(v) == 1}
_SHORTENED: dict[str, str] = {}
for _short, _full in _SPELLED.items():
    if _full not in ("number", "year", "date", "count"):
        _SHORTENED.setdefault(_full, _short)


#: The words a question says for the one-letter codes of a column of sex or gender.
_SEXES = {
    "f": ("female", "females", "woman", "women", "girl", "girls"),
    "m": ("male", "males", "man", "men", "boy", "boys"),
}


def _sex_words(column: str, value: str) -> list[tuple[str, ...]]:
    """ "female", "women" for the value 'F' of a ``gender`` or ``sex`` column; "male", "men"
    for 'M'."""
    if not {"gender", "sex"} & set(identifier_words(column)):
        return []
    return [phrase_key(w) for w in _SEXES.get(value.strip().lower(), ())]


def _nominals(words: list[str]) -> list[tuple[str, ...]]:
    """The name's key with a past participle in it made a noun ("arrival" for "arrived")."""
    out = []
    for k, word in enumerate(words):
        if not (word.endswith("ed") and len(word) > 4):
            continue
        base = stem(lemma(word))
        key = [stem(w) for w in words]
        for ending in _NOMINAL:
            key[k] = stem(base + ending)
            out.append(tuple(key))
    return out


def _numbers_only(values: ValueIndex | None, model: str, name: str) -> bool:
    """Whether every sampled value of a text column reads as a number."""
    sampled = values.values.get((model, name)) if values is not None else None
    if not sampled:
        return False
    numbers = 0
    for value in sampled:
        if str(value).strip().lower() in _MISSING:
            continue  # "null", "n/a": a number not known, not a word
        try:
            float(value)
        except ValueError:
            return False
        numbers += 1
    return numbers > 0


def _flag(words: list[str]) -> bool:
    """Whether a number column is a yes/no flag by its name (``is_active``, ``HasGarden``)."""
    return len(words) == 2 and words[0] in ("is", "has") and len(words[1]) > 3


_MISSING = frozenset({"", "null", "none", "na", "n/a", "nan", "-"})


def _kind(type_name: str, words: list[str], calculated: bool) -> str:
    if _BOOLEAN.search(type_name):
        return "boolean"
    if _TEMPORAL.search(type_name) and not _NUMERIC.search(type_name.replace("datetime", "")):
        return "time"
    if _NUMERIC.search(type_name):
        return "number"
    if not type_name:
        if words and words[-1] in ("date", "time", "at", "day", "timestamp"):
            return "time"
        if calculated or (words and words[-1] in _NUMBER_WORDS):
            return "number"
    return "text"


#: Last words of a column's name too vague to name it alone.
_VAGUE_FIGURES = frozenset(
    {"size", "total", "amount", "value", "number", "count", "length", "duration", "sum", "level"}
)

_NUMBER_WORDS = {
    "amount", "total", "price", "quantity", "count", "cost", "revenue", "value", "discount",
    "milliseconds", "bytes", "size", "length", "duration", "number", "qty", "weight", "score",
}  # fmt: skip
