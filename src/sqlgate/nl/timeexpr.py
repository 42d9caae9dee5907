"""Dates in questions ("in 2023", "last month", "since March 2024") and time grains ("by
month", "weekly"), and the SQL for both in each dialect.

Ranges are half-open ``[start, end)`` dates resolved against a given ``today``, so the SQL has
literal dates (explainable, and the same on every engine). "last month" is the previous calendar
month, "this year" the current calendar year, "the last 7 days" the 7 days ending today.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlglot
from sqlglot import exp

from sqlgate.nl.text import Token

GRAINS = ("year", "quarter", "month", "week", "day")

_MONTHS = {
    name: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for name in names
}
_UNITS = {
    "day": "day", "days": "day", "week": "week", "weeks": "week", "month": "month",
    "months": "month", "quarter": "quarter", "quarters": "quarter", "year": "year",
    "years": "year",
}  # fmt: skip
_GRAIN_WORDS = {
    "yearly": "year", "annual": "year", "annually": "year", "quarterly": "quarter",
    "monthly": "month", "weekly": "week", "daily": "day",
}  # fmt: skip
_GRAIN_MARKERS = {"by", "per", "each", "every"}
_SINCE = {"since", "after", "from"}
_BEFORE = {"before", "until", "till", "prior"}


@dataclass(frozen=True)
class DateRange:
    start: date | None
    end: date | None  # exclusive
    text: str

    def describe(self) -> str:
        if self.start and self.end:
            last = self.end - timedelta(days=1)
            return f"{self.start.isoformat()} to {last.isoformat()}"
        if self.start:
            return f"from {self.start.isoformat()}"
        assert self.end is not None
        return f"before {self.end.isoformat()}"


@dataclass(frozen=True)
class TimeHit:
    """Tokens ``first..last`` (inclusive) of the question say a range or a grain."""

    first: int
    last: int
    range: DateRange | None = None
    grain: str | None = None


def find_time(tokens: list[Token], today: date) -> list[TimeHit]:
    hits: list[TimeHit] = []
    i = 0
    while i < len(tokens):
        hit = _at(tokens, i, today)
        if hit is None:
            i += 1
            continue
        hits.append(hit)
        i = hit.last + 1
    return hits


def _norm(tokens: list[Token], i: int) -> str:
    return tokens[i].norm if 0 <= i < len(tokens) else ""


def _year(token: Token | None) -> int | None:
    if token is None or token.kind != "number" or token.number is None:
        return None
    value = token.number
    if value.is_integer() and 1900 <= value <= 2100 and "." not in token.text:
        return int(value)
    return None


def _text(tokens: list[Token], first: int, last: int) -> str:
    return " ".join(t.text for t in tokens[first : last + 1])


def _at(tokens: list[Token], i: int, today: date) -> TimeHit | None:
    word = _norm(tokens, i)
    nxt = _norm(tokens, i + 1)
    # grains: "monthly", "by month", "per year", "each week", "over time"
    if word in _GRAIN_WORDS:
        return TimeHit(i, i, grain=_GRAIN_WORDS[word])
    if word in _GRAIN_MARKERS and _UNITS.get(nxt) and _norm(tokens, i + 2) not in ("of", "to"):
        return TimeHit(i, i + 1, grain=_UNITS[nxt])
    if word == "for" and nxt in ("each", "every") and _UNITS.get(_norm(tokens, i + 2)):
        return TimeHit(i, i + 2, grain=_UNITS[_norm(tokens, i + 2)])
    if word == "over" and nxt == "time":
        return TimeHit(i, i + 1, grain="month")
    # relative ranges
    if word in ("today", "yesterday"):
        day = today if word == "today" else today - timedelta(days=1)
        return TimeHit(i, i, DateRange(day, day + timedelta(days=1), word))
    if word in ("ytd",) or (word == "year" and nxt == "to" and _norm(tokens, i + 2) == "date"):
        last = i if word == "ytd" else i + 2
        start = date(today.year, 1, 1)
        return TimeHit(i, last, DateRange(start, today + timedelta(days=1), "year to date"))
    if word in ("this", "current") and _UNITS.get(nxt) and not nxt.endswith("s"):
        start, end = _period(today, _UNITS[nxt], 0)
        return TimeHit(i, i + 1, DateRange(start, end, _text(tokens, i, i + 1)))
    if word in ("last", "previous", "past", "prior") or (word == "the" and nxt in ("last", "past")):
        j = i + 1 if word == "the" else i
        unit_at = j + 1
        count = 1
        rolling = False
        number = tokens[unit_at] if unit_at < len(tokens) else None
        if number is not None and number.kind == "number" and number.number is not None:
            count = int(number.number)
            unit_at += 1
            rolling = True
        unit = _UNITS.get(_norm(tokens, unit_at))
        if unit is None or count < 1 or count > 1000:
            return None
        if _norm(tokens, unit_at).endswith("s") and not rolling:
            rolling = True  # "the last months" - unusual; treat as one rolling period
        if rolling:
            start = _shift(today, unit, -count) + timedelta(days=1)
            end = today + timedelta(days=1)
        else:
            start, end = _period(today, unit, -1)
        return TimeHit(i, unit_at, DateRange(start, end, _text(tokens, i, unit_at)))
    # "between 2022 and 2024", "from 2022 to 2023"
    if word in ("between", "from"):
        a = _point(tokens, i + 1, today)
        if a is not None and _norm(tokens, a[2] + 1) in ("and", "to", "until", "through"):
            b = _point(tokens, a[2] + 2, today)
            if b is not None:
                last = b[2]
                return TimeHit(i, last, DateRange(a[0], b[1], _text(tokens, i, last)))
    if word in _SINCE or word in _BEFORE:
        point = _point(tokens, i + 1, today)
        if point is not None:
            start, end, last = point
            text = _text(tokens, i, last)
            if word in _BEFORE:
                return TimeHit(i, last, DateRange(None, start, text))
            if word == "after":
                return TimeHit(i, last, DateRange(end, None, text))
            return TimeHit(i, last, DateRange(start, None, text))
    if word in ("later", "earlier") and _norm(tokens, i + 1) == "than":
        # "later than 2010", "earlier than March 2024": after the period, before its start
        point = _point(tokens, i + 2, today, compared=True)
        if point is not None:
            start, end, last = point
            text = _text(tokens, i, last)
            if word == "later":
                return TimeHit(i, last, DateRange(end, None, text))
            return TimeHit(i, last, DateRange(None, start, text))
    first = i + 1 if word in ("in", "during", "for", "of", "on") else i
    point = _point(tokens, first, today)
    if point is not None:
        start, end, last = point
        return TimeHit(i, last, DateRange(start, end, _text(tokens, i, last)))
    return None


def _point(
    tokens: list[Token], i: int, today: date, *, compared: bool = False
) -> tuple[date, date, int] | None:
    """A year, month (+ year), quarter (+ year) or ISO date at token ``i``: start, end and
    the last token used (``compared``: a year right after "than" too, "later than 2010")."""
    if i >= len(tokens):
        return None
    token = tokens[i]
    if token.kind == "date":
        try:
            day = date.fromisoformat(token.text)
        except ValueError:
            return None
        return day, day + timedelta(days=1), i
    year = _year(token)
    if year is not None:
        after = tokens[i - 1].norm if i > 0 else ""
        if not compared and after in ("top", "than", "over", "under", "above", "below"):
            return None
        return date(year, 1, 1), date(year + 1, 1, 1), i
    word = token.norm
    if word in _MONTHS and (word != "may" or _year(_at_index(tokens, i + 1))):
        month = _MONTHS[word]
        year = _year(_at_index(tokens, i + 1))
        last = i + 1 if year is not None else i
        year = year or today.year
        start = date(year, month, 1)
        return start, _shift(start, "month", 1), last
    if len(word) == 2 and word[0] == "q" and word[1] in "1234":
        quarter = int(word[1])
        year = _year(_at_index(tokens, i + 1))
        last = i + 1 if year is not None else i
        start = date(year or today.year, 3 * quarter - 2, 1)
        return start, _shift(start, "month", 3), last
    return None


def _at_index(tokens: list[Token], i: int) -> Token | None:
    return tokens[i] if 0 <= i < len(tokens) else None


def _period(today: date, unit: str, offset: int) -> tuple[date, date]:
    """The calendar ``unit`` containing today, moved by ``offset`` units."""
    if unit == "day":
        start = today
    elif unit == "week":
        start = today - timedelta(days=today.weekday())
    elif unit == "month":
        start = today.replace(day=1)
    elif unit == "quarter":
        start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    else:
        start = date(today.year, 1, 1)
    start = _shift(start, unit, offset)
    return start, _shift(start, unit, 1)


def _shift(day: date, unit: str, n: int) -> date:
    if unit == "day":
        return day + timedelta(days=n)
    if unit == "week":
        return day + timedelta(weeks=n)
    months = {"month": 1, "quarter": 3, "year": 12}[unit] * n
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last_day = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last_day))


# --- SQL ----------------------------------------------------------------------------------------


def bucket(column: exp.Expr, grain: str, dialect: str) -> exp.Expr:
    """``column`` truncated to ``grain``: the year as a number, other grains as the first day."""
    placeholder = "__sqlgate_time__"
    template = _BUCKETS.get(dialect, _BUCKETS["duckdb"])[grain]
    tree = sqlglot.parse_one(template.replace("x", placeholder), read=dialect)
    for node in list(tree.find_all(exp.Column)):
        if node.name == placeholder:
            if node is tree:
                return column.copy()
            node.replace(column.copy())
    return tree


_BUCKETS: dict[str, dict[str, str]] = {
    "duckdb": {
        "year": "EXTRACT(YEAR FROM x)",
        "quarter": "DATE_TRUNC('quarter', x)",
        "month": "DATE_TRUNC('month', x)",
        "week": "DATE_TRUNC('week', x)",
        "day": "CAST(x AS DATE)",
    },
    "postgres": {
        "year": "EXTRACT(YEAR FROM x)",
        "quarter": "CAST(DATE_TRUNC('quarter', x) AS DATE)",
        "month": "CAST(DATE_TRUNC('month', x) AS DATE)",
        "week": "CAST(DATE_TRUNC('week', x) AS DATE)",
        "day": "CAST(x AS DATE)",
    },
    "sqlite": {
        "year": "CAST(STRFTIME('%Y', x) AS INTEGER)",
        "quarter": "DATE(x, 'start of month', PRINTF('-%d months', "
        "(CAST(STRFTIME('%m', x) AS INTEGER) - 1) % 3))",
        "month": "DATE(x, 'start of month')",
        "week": "DATE(x, 'weekday 0', '-6 days')",
        "day": "DATE(x)",
    },
    "mysql": {
        "year": "YEAR(x)",
        "quarter": "MAKEDATE(YEAR(x), 1) + INTERVAL (QUARTER(x) - 1) QUARTER",
        "month": "CAST(DATE_FORMAT(x, '%Y-%m-01') AS DATE)",
        "week": "DATE_SUB(DATE(x), INTERVAL WEEKDAY(x) DAY)",
        "day": "DATE(x)",
    },
}
