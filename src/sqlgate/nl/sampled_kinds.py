"""What a text column holds, read from its sampled values when its type says only "text".

SQLite schemas often keep dates as text (``opened_on TEXT`` holding '2015-03-01'): a question's
"after 2015" or "first" dates such a column as it would a DATE column.
"""

from __future__ import annotations

import re

from sqlgate.nl.values import ValueIndex

#: An ISO date, with or without a time of day after it.
_ISO_DATE = re.compile(r"(1[89]|20)\d\d-[01]\d-[0-3]\d([ T][0-2]\d:[0-5]\d(:[0-5]\d(\.\d+)?)?)?")


def dates_only(values: ValueIndex | None, model: str, name: str) -> bool:
    """Whether every sampled value of a text column is an ISO date (at least two of them)."""
    sampled = values.values.get((model, name)) if values is not None else None
    if not sampled or len(sampled) < 2:
        return False
    return all(_ISO_DATE.fullmatch(str(value).strip()) for value in sampled)


#: Last words of a column's name that say only that it holds when something was done.
_WHEN_WORDS = frozenset({"on", "at", "date", "dt", "time"})
#: Past forms that do not end in "-ed" ("held", "built").
_IRREGULAR_DONE = frozenset({"held", "built", "begun", "made", "sent", "paid", "sold", "won"})


def dated_verb(words: list[str]) -> bool:
    """Whether a date column is named for when its row was done (``held_on``, ``shipped_at``):
    the verb alone then names it too ("when was it held")."""
    if len(words) != 2 or words[1] not in _WHEN_WORDS:
        return False
    if words[0] in _IRREGULAR_DONE or (words[0].endswith("ed") and len(words[0]) > 4):
        return True
    return words[0] in _STARTS_ENDS  # "when did it start" for start_date


#: Verbs of a start or an end, whose bare form names a date of them (``start_date``).
_STARTS_ENDS = frozenset({"start", "end", "begin", "finish", "open", "close"})
