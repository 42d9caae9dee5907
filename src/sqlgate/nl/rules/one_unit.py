"""A length of time said with "a", "an" or "half an" after a comparison: "shorter than an
hour" is shorter than 1 hour, "under half an hour" under 0.5 hours, as if written in digits.
Without this the unit was left over and the question declined."""

from __future__ import annotations

from sqlgate.nl.text import Token
from sqlgate.nl.vocabulary import DURATION_UNITS

#: Words a length of time is compared after.
_COMPARING = frozenset({"than", "under", "over", "least", "most", "within", "exceeding"})


def one_unit(tokens: list[Token]) -> list[Token]:
    """``tokens`` with "a"/"an" (or "half an") before a unit of time made a number, right after
    a comparison word; left as it is anywhere else ("5 dollars an hour")."""
    out = list(tokens)
    for k in range(len(out) - 2, 0, -1):
        if out[k].norm not in ("a", "an") or out[k + 1].norm not in DURATION_UNITS:
            continue
        half = out[k - 1].norm == "half" and k >= 2
        at = k - 1 if half else k
        if at < 1 or out[at - 1].norm not in _COMPARING:
            continue
        value = 0.5 if half else 1.0
        text = "0.5" if half else "1"
        out[at : k + 1] = [Token(text, text, text, out[at].start, out[k].end, "number", value)]
    return out
