"""Words a question writes differently from the model: other inflections, typing slips, initials.

* :func:`lemma`: the dictionary form of an English word ("aged" → "age", "built" → "build"), from
  simplemma's bundled English dictionary (no download), for the forms the suffix stripper of
  :func:`sqlgate.nl.text.stem` cannot reduce. The dictionary is read in its compact form
  (``low_memory``: about 2 MB resident instead of 20 MB, the same answers, a few dozen
  microseconds more for a word not seen before).
* :func:`respell`: a word that is neither English nor anything the model or the question words
  know, one typing slip (a letter missing, added, changed or two swapped) away from exactly one
  word they know, is read as that word ("alphaetical" → "alphabetical", "airilne" → "airline").
  Proper nouns (capitalised inside the sentence), quoted text and short words are left alone.
* :func:`initials`: a short column name written as its initials ("mpg" for "miles per gallon").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import replace
from functools import lru_cache

import simplemma
from rapidfuzz import process
from rapidfuzz.distance import OSA

from sqlgate.nl.text import Token, stem

#: Shortest word :func:`respell` corrects: shorter ones have too many neighbours.
MIN_TYPO = 5
_VOWELS = frozenset("aeiouy")
_TRIPLED = re.compile(r"([a-z])\1\1+")
#: Little words an expansion of initials may have inside ("miles per gallon").
_INNER = frozenset({"per", "of", "and", "to", "in", "on", "for", "the", "a"})


@lru_cache(maxsize=8192)
def lemma(word: str) -> str:
    """The dictionary form of an English word, lower case (the word itself when unknown)."""
    return str(simplemma.lemmatize(word.lower(), lang="en", low_memory=True)).lower()


@lru_cache(maxsize=8192)
def english(word: str) -> bool:
    """Whether ``word`` is in the bundled English dictionary."""
    return bool(simplemma.is_known(word.lower(), lang="en", low_memory=True))


def respell(
    tokens: list[Token], known: Collection[str], has_key: Callable[[str], bool]
) -> list[Token]:
    """``tokens`` with each typing slip read as the one known word it is close to.

    ``known`` are the words the model and the question vocabulary use; ``has_key(stem)`` tells
    whether the model's vocabulary has a one-word phrase of that stem (then the word is not a slip).
    """
    out = []
    for k, token in enumerate(tokens):
        fixed = _fix(token, k, known, has_key)
        out.append(
            token if fixed is None else replace(token, text=fixed, norm=fixed, stem=stem(fixed))
        )
    return out


def _fix(
    token: Token, position: int, known: Collection[str], has_key: Callable[[str], bool]
) -> str | None:
    word = token.norm
    if token.kind != "word" or len(word) < MIN_TYPO or not word.isalpha():
        return None
    if position and token.text[:1].isupper():
        return None  # a proper noun: a name, a place, a value not sampled
    tripled = _TRIPLED.sub(r"\1\1", word)  # no English word has a letter three times in a row
    if tripled != word and (tripled in known or english(tripled)):
        return tripled
    if word in known or english(word) or has_key(token.stem):
        return None
    return _closest(tripled, known)


def _closest(word: str, known: Collection[str]) -> str | None:
    """The one known word one slip from ``word`` (or from its stem or singular, the ending kept:
    "trakcs" → "tracks", "invocies" → "invoices"), if there is exactly one."""
    singular = word[:-1] if word.endswith("s") else word
    for form in dict.fromkeys((word, stem(word), singular)):
        found = process.extract(form, known, scorer=OSA.distance, score_cutoff=1, limit=4)
        choices = {choice for choice, _, _ in found if len(choice) >= MIN_TYPO - 1}
        if len({stem(c) for c in choices}) > 1:
            return None  # several words as close: no guess
        if choices:
            return min(choices) + word[len(form) :]
    return None


def acronym(word: str) -> bool:
    """Whether a word of a column name reads as initials: 3 to 5 letters, and either no vowel
    ("mpg") or not an English word ("gdp")."""
    return 3 <= len(word) <= 5 and word.isalpha() and (not set(word) & _VOWELS or not english(word))


def initials(words: list[str]) -> str | None:
    """The initials of a run of words that could spell out an abbreviation ("miles per gallon"
    → "mpg"): it starts and ends with a content word, and has at most one little word inside."""
    if len(words) < 3 or words[0] in _INNER or words[-1] in _INNER:
        return None
    if sum(1 for w in words if w in _INNER) > 1 or not all(w.isalpha() for w in words):
        return None
    return "".join(w[0] for w in words)
