"""The question words the embedded engine knows that are not in any model: how to count,
aggregate, group, compare, rank and negate, and which words ask to change data."""

from __future__ import annotations

from typing import Any


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# (words...) -> (class, argument). Matched on lower-case words, longest first.
KEYWORDS: dict[tuple[str, ...], tuple[str, Any]] = {}


def _add(cls: str, arg: Any, *phrases: str) -> None:
    for phrase in phrases:
        KEYWORDS[tuple(phrase.split())] = (cls, arg)


_add("count", None, "how many", "number of", "count of", "count", "total number of", "num of",
     "amount of", "counts", "numbers of")  # fmt: skip
_add("agg", "sum", "sum of", "sum", "total", "how much", "overall", "combined")
_add("agg", "avg", "average", "avg", "mean", "typical", "average of")
_add("agg", "min", "minimum", "min")
_add("agg", "max", "maximum", "max")
# superlatives: (direction, concept); also MIN/MAX when nothing is ranked
_add("sup", ("desc", None), "most", "highest", "greatest", "top most", "the most")
_add("sup", ("asc", None), "least", "fewest", "lowest", "the least", "the fewest")
_add("sup", ("desc", "size"), "largest", "biggest")
_add("sup", ("asc", "size"), "smallest")
_add("sup", ("desc", "length"), "longest")
_add("sup", ("asc", "length"), "shortest")
_add("sup", ("desc", "price"), "most expensive", "priciest", "costliest")
_add("sup", ("asc", "price"), "cheapest", "least expensive")
_add("sup", ("desc", "time"), "latest", "newest", "most recent", "last")
_add("sup", ("asc", "time"), "earliest", "oldest", "first")
_add("sup", ("asc", "age"), "youngest")
_add("sup", ("desc", "height"), "tallest")
_add("sup", ("desc", "weight"), "heaviest")
_add("sup", ("asc", "weight"), "lightest")
_add("sup", ("desc", "frequency"), "most common", "most frequent", "most commonly",
     "most frequently", "most often", "the most common", "the most frequent")  # fmt: skip
_add("sup", ("asc", "frequency"), "least common", "least frequent", "rarest", "least commonly",
     "the least common", "the rarest")  # fmt: skip
_add("sup", ("desc", "time"), "most recently", "the most recent", "the most recently")
_add("sup", ("asc", "time"), "least recent", "least recently", "the least recent")
_add("sup", ("desc", "sales"), "best selling", "top selling", "best sellers", "bestselling")
_add("sup", ("asc", "sales"), "worst selling")
_add("top", "desc", "top", "best")
_add("top", "asc", "bottom", "worst")
_add("distinct", None, "different", "distinct", "unique")
_add("group", None, "by", "per", "for each", "each", "for every", "every", "in each",
     "across", "grouped by", "broken down by", "split by", "breakdown by")  # fmt: skip
_add("cmp", (">", None), "more than", "greater than", "over", "above", "exceeding", ">",
     "higher than", "bigger than", "larger than", "in excess of", "later than")  # fmt: skip
_add("cmp", (">=", None), "at least", ">=", "or more", "no less than")
_add("cmp", ("<", None), "less than", "fewer than", "under", "below", "<", "lower than",
     "smaller than", "earlier than")  # fmt: skip
_add("cmp", ("<=", None), "at most", "<=", "or less", "or fewer", "no more than",
     "up to")  # fmt: skip
_add("cmp", ("=", None), "equal to", "equals", "exactly", "=")
_add("cmp", ("between", None), "between")
_add("cmp", (">", "length"), "longer than")
_add("cmp", ("<", "length"), "shorter than")
_add("cmp", (">", "age"), "older than")
_add("cmp", ("<", "age"), "younger than")
_add("cmp", (">", "weight"), "heavier than")
_add("cmp", ("<", "weight"), "lighter than")
_add("cmp", (">", "height"), "taller than")
_add("cmp", (">", "price"), "more expensive than", "costing more than", "cost more than",
     "costs more than", "priced above", "priced over")  # fmt: skip
_add("cmp", ("<", "price"), "cheaper than", "costing less than", "cost less than",
     "costs less than", "priced below", "priced under")  # fmt: skip
_add("neg", None, "not", "no", "except", "excluding", "other than", "without", "non", "no longer",
     "isn't", "aren't", "wasn't", "weren't", "never")  # fmt: skip
_add("list", None, "list", "show", "show me", "display", "give me", "find", "which", "what are",
     "who are", "return")  # fmt: skip
_add("sort", None, "sorted by", "order by", "ordered by", "sort by", "ranked by", "rank by",
     "order the results by", "sort the results by", "order results by",
     "sort results by", "in order of", "in the order of")  # fmt: skip
_add("dir", "asc", "ascending", "asc", "in ascending order")
_add("dir", "desc", "descending", "desc", "in descending order")
# the direction as a span: "from high to low" is descending, "from low to high" ascending
_SPANS = (("high", "low"), ("highest", "lowest"), ("large", "small"), ("largest", "smallest"),
          ("big", "small"), ("biggest", "smallest"), ("most", "least"), ("more", "less"),
          ("old", "young"), ("oldest", "youngest"), ("new", "old"), ("newest", "oldest"),
          ("latest", "earliest"))  # fmt: skip
_add("dir", "desc", *(f"from {a} to {b}" for a, b in _SPANS))
_add("dir", "asc", *(f"from {b} to {a}" for a, b in _SPANS))
_add("when", None, "when", "what date", "which date", "what day")
_add("conj", None, "and", "or", "nor", "as well as", "plus")

#: Verbs that ask to change data or schema: such a question is refused, never translated.
WRITE_VERBS = _words(
    """delete drop update insert truncate alter create remove grant revoke modify erase wipe
    destroy upsert merge rename purge overwrite add replace change set kill shutdown"""
)

#: Words that carry no meaning for the translation (not counted as "not understood").
STOPWORDS = _words(
    """a an the of in on at to for from with and or is are was were be been being do does did
    done have has had we our us i me my you your there that this these those what which who
    whom whose how it its s t please can could would should will shall may might get got all
    any some their they them much as into than so about just also make made give tell want
    need like know let see look ever each per by whole entire currently now here up out via
    within thing things one ones data database table tables record records row rows info
    information value values kind kinds type types list show display find return come came
    live lives living work works working belong belongs belonging exist exists existing
    currently yet still ever had having placed place bring brought happen happened take took
    were did been sold sell sells selling buy bought look after"""
)

#: Unknown words that point at a kind of column (comparisons and rankings).
CONCEPT_WORDS: dict[str, str] = {
    "cost": "price", "costs": "price", "costing": "price", "expensive": "price",
    "cheap": "price", "priced": "price", "pricey": "price",
    "long": "length", "short": "length", "lasting": "length",
    "big": "size", "large": "size", "small": "size", "spent": "sales", "spend": "sales",
    "spending": "sales", "money": "sales", "revenue": "sales", "revenues": "sales",
    "sales": "sales", "weigh": "weight", "weighs": "weight", "weighed": "weight",
    "weighing": "weight", "weighted": "weight", "earn": "pay", "earns": "pay", "earned": "pay",
    "earning": "pay",
}  # fmt: skip

#: Words each concept looks for in a field's name and synonyms.
CONCEPT_FIELDS: dict[str, tuple[str, ...]] = {
    "price": ("price", "cost"),
    "length": ("length", "duration", "milliseconds", "seconds", "minutes"),
    "size": ("size", "bytes", "amount", "total", "value"),
    "sales": ("sales", "revenue"),
    "age": ("age",),
    "weight": ("weight",),
    "height": ("height", "stature"),
    "pay": ("salary", "wage", "wages", "pay", "income", "earnings"),
}

#: Time units after a number ("10 minutes") and their length in seconds.
DURATION_UNITS: dict[str, float] = {
    "ms": 0.001, "millisecond": 0.001, "milliseconds": 0.001, "second": 1, "seconds": 1,
    "sec": 1, "secs": 1, "minute": 60, "minutes": 60, "min": 60, "mins": 60, "hour": 3600,
    "hours": 3600,
}  # fmt: skip

MAX_KEYWORD = max(len(k) for k in KEYWORDS)
