"""A comparative split around the field it compares: "a greater height than 5", "more
girth than the average" say the field between the comparative and "than". The words are put in
the order the reader knows ("height greater than 5", "girth more than the average"): the
field first, then the comparison. Only when the words between name a number field of the model,
so "more trees than" (a count of rows) is left as it is."""

from __future__ import annotations

from dataclasses import replace

from sqlgate.nl.lexicon import Lexicon
from sqlgate.nl.rules.cues import RELATION_VERBS
from sqlgate.nl.text import Token

#: Comparatives that, with "than", the vocabulary reads as a comparison ("larger than").
_COMPARATIVES = frozenset(
    {"more", "greater", "larger", "bigger", "higher", "less", "fewer", "smaller", "lower"}
)
_LONGEST = 3  # words of the field between the comparative and "than"


def comparatives_joined(lexicon: Lexicon, tokens: list[Token]) -> list[Token]:
    """``tokens`` with every "<comparative> <number field> than" turned into "<number field>
    <comparative> than"."""
    out = list(tokens)
    k = 0
    while k < len(out):
        if out[k].norm in _COMPARATIVES:
            for n in range(_LONGEST, 0, -1):
                end = k + 1 + n
                if end >= len(out) or out[end].norm != "than":
                    continue
                window = out[k + 1 : end]
                if _number_field(lexicon, tuple(t.stem for t in window)):
                    out[k:end] = [*window, out[k]]
                    k = end
                    break
        k += 1
    return out


def _number_field(lexicon: Lexicon, key: tuple[str, ...]) -> bool:
    entries = lexicon.phrases.get(key, [])
    fields = [e for e in entries if e.kind == "field"]
    if not fields or len(fields) != len(entries):
        return False
    return all(
        lexicon.field(e.model, str(e.name)).kind == "number"
        and not lexicon.field(e.model, str(e.name)).key
        for e in fields
    )


#: Words right before "a single" that make it a count of one ("more than a single document").
_COUNTING = frozenset({"than", "least", "most"})
#: Words right before "a single" that make it "any" ("not a single car maker").
_DENYING = frozenset({"not", "no", "never", "without", "nor"})
#: Verbs between the negation and "a single" ("does not *have* a single", "there is not").
_VERBS = RELATION_VERBS | {"have", "has", "had", "is", "are", "was", "were", "in", "on", "at", "to"}


def a_single(tokens: list[Token]) -> list[Token]:
    """``tokens`` with "a single" read as the number 1 after a comparison ("used in more than
    a single document") and as "any" after a negation ("not a single car maker", "there is
    not a single"); left as it is anywhere else."""
    out = list(tokens)
    for k in range(len(out) - 2, 0, -1):
        if out[k].norm != "a" or out[k + 1].norm != "single":
            continue
        before, single = out[k - 1].norm, out[k + 1]
        if before in _COUNTING:
            one = Token(single.text, "1", "1", out[k].start, single.end, "number", 1.0)
            out[k : k + 2] = [one]
        elif _denied(out[max(0, k - 3) : k]):
            out[k : k + 2] = [replace(single, text="any", norm="any", stem="any")]
    return out


def _denied(before: list[Token]) -> bool:
    """Whether the words before "a single" end in a negation, then verbs of having, being or
    relating and their prepositions ("not *in* a single club"); "not just a single" is not."""
    for k in range(len(before) - 1, -1, -1):
        if before[k].norm in _DENYING:
            return True
        if before[k].norm not in _VERBS:
            return False
    return False
