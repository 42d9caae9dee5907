"""Words of questions and of model names, reduced to comparable stems.

Questions and model vocabulary (names, synonyms, sampled values) go through the same
:func:`tokenize` and :func:`stem`, so "Countries", "country" and ``Country`` meet, as do
"signed up" and ``signup_date``'s synonym "sign up". The stemmer is a small suffix stripper,
not a linguistic one: it only has to map a word and its own inflections to one key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})"
    r"|(?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"|(?P<word>[^\W\d_]+(?:\d+[^\W\d_]*)*|[^\W_]*\d[^\W_]*)"
    r"|(?P<op>[<>]=?|=|!=|<>)"
)
_QUOTED = re.compile(r"\"([^\"]{1,200})\"|“([^”]{1,200})”|(?<![\w'])'([^']{1,200})'(?![\w])")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")

_IRREGULAR = {
    "people": "person",
    "children": "child",
    "men": "man",
    "women": "woman",
    "indices": "index",
    "data": "data",
    "media": "media",
    "series": "series",
    "news": "news",
}

NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "fifty": 50,
    "hundred": 100,
}  # fmt: skip


@dataclass(frozen=True)
class Token:
    text: str  # as written
    norm: str  # lower case
    stem: str
    start: int
    end: int
    kind: str = "word"  # word, number, date, op, quoted
    number: float | None = None


def stem(word: str) -> str:
    """A comparable key for an English word and its inflections (plural, -ing, -ed)."""
    w = word.lower()
    if w in _IRREGULAR:
        return _IRREGULAR[w]
    if len(w) <= 3 or not w.isalpha():
        return w
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses") or w.endswith(("ches", "shes", "xes", "zes")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if w.endswith("ing") and len(w) > 5:
        w = w[:-3]
    elif w.endswith("ed") and len(w) > 4:
        w = w[:-2]
    if len(w) > 3 and w[-1] == w[-2] and w[-1] in "lnprt":
        w = w[:-1]  # cancelled → cancel, shipped → ship
    if w.endswith("e") and len(w) > 3:
        w = w[:-1]
    return w


def tokenize(text: str) -> list[Token]:
    """Words, numbers, ISO dates and comparison operators of ``text``; a quoted phrase is one
    token (``kind="quoted"``), matched only as a whole."""
    tokens: list[Token] = []
    pos = 0
    for quoted in _QUOTED.finditer(text):
        tokens.extend(_plain_tokens(text, pos, quoted.start()))
        inner = next(g for g in quoted.groups() if g is not None)
        tokens.append(
            Token(inner, inner.lower(), inner.lower(), quoted.start(), quoted.end(), "quoted")
        )
        pos = quoted.end()
    tokens.extend(_plain_tokens(text, pos, len(text)))
    return tokens


def _plain_tokens(text: str, start: int, end: int) -> list[Token]:
    out = []
    for m in _TOKEN.finditer(text, start, end):
        raw = m.group(0)
        if m.lastgroup == "number":
            value = float(raw.replace(",", ""))
            out.append(Token(raw, raw, raw, m.start(), m.end(), "number", value))
        elif m.lastgroup == "date":
            out.append(Token(raw, raw, raw, m.start(), m.end(), "date"))
        elif m.lastgroup == "op":
            out.append(Token(raw, raw, raw, m.start(), m.end(), "op"))
        else:
            norm = raw.lower()
            number = NUMBER_WORDS.get(norm)
            if number is not None:
                out.append(Token(raw, norm, norm, m.start(), m.end(), "number", float(number)))
            else:
                out.append(Token(raw, norm, stem(norm), m.start(), m.end()))
    return out


def identifier_words(name: str) -> list[str]:
    """``InvoiceDate`` → ``["invoice", "date"]``; ``total_amount`` → ``["total", "amount"]``."""
    words: list[str] = []
    for part in re.split(r"[^A-Za-z0-9]+", name):
        words.extend(w.lower() for w in _CAMEL.findall(part))
    return words


def phrase_key(text: str) -> tuple[str, ...]:
    """The stems of a phrase, as the lexicon indexes it."""
    return tuple(t.stem for t in tokenize(text) if t.kind != "op")
