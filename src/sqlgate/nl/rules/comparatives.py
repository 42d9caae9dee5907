"""A comparative split around the field it compares: "a greater height than 5", "more
girth than the average" say the field between the comparative and "than". The words are put in
the order the reader knows ("height greater than 5", "girth more than the average"): the
field first, then the comparison. Only when the words between name a number field of the model,
so "more trees than" (a count of rows) is left as it is."""

from __future__ import annotations

from sqlgate.nl.lexicon import Lexicon
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
