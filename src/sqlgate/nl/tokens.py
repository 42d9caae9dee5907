"""A tokenizer-free estimate of how many tokens a text costs in an LLM prompt.

No model's tokenizer ships with sqlgate (nothing may download at run time, and each model family
has its own), so prompt budgets use an estimate: every run of letters costs one token per started
six letters, every run of digits one per started three digits, and every other non-space character
(punctuation, ``_``, ``(``, ``,``) one token. Spaces and newlines are free (BPE tokenizers merge a
leading space into the next word). Schema text is dense in short identifiers and punctuation, where
the well-known "characters / 4" rule undercounts; this count follows the pieces instead, and tends
to land a little above what BPE tokenizers of current chat models report, so a budget computed with
it is rarely overrun.
"""

from __future__ import annotations

import re

_PIECES = re.compile(r"[^\W\d_]+|\d+|[^\w\s]|_")


def estimate_tokens(text: str) -> int:
    """Estimated prompt tokens of ``text`` (see the module docstring for the rule)."""
    count = 0
    for piece in _PIECES.findall(text):
        first = piece[0]
        if first.isdigit():
            count += -(-len(piece) // 3)
        elif first.isalpha():
            count += -(-len(piece) // 6)
        else:
            count += 1
    return count
