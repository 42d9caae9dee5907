"""Dashboard filters: their values, parsed and checked, become named parameters of the widget
queries that declare them. A value is only ever bound as a parameter, never written into SQL.

- ``number``: ``filter.min_total=10`` binds ``:min_total`` (or ``$min_total``) to 10.
- ``values``: ``filter.genre=Rock`` binds ``:genre``; with ``options``, only one of those.
- ``date_range``: ``filter.period=2024-01-01..2024-03-31`` binds ``:period_start`` and
  ``:period_end`` (ISO dates, either end may be left open only by the filter's default).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlgate.errors import ValidationError

FILTER_TYPES = ("date_range", "values", "number")


def parse_value(spec: Mapping[str, Any], raw: Any) -> dict[str, Any]:
    """The parameters one filter's value binds; a ValidationError names what is wrong."""
    name, kind = spec["name"], spec["type"]
    if kind == "number":
        return {name: _number(name, raw)}
    if kind == "values":
        return {name: _one_of(name, raw, spec.get("options"))}
    start, end = _range(name, raw)
    return {f"{name}_start": start, f"{name}_end": end}


def _number(name: str, raw: Any) -> int | float:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        try:
            return int(raw)
        except ValueError:
            try:
                value = float(raw)
            except ValueError:
                pass
            else:
                if value == value and value not in (float("inf"), float("-inf")):
                    return value
    raise ValidationError(f"filter {name!r} takes a number", field=f"filter.{name}")


def _one_of(name: str, raw: Any, options: Sequence[Any] | None) -> Any:
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        raise ValidationError(f"filter {name!r} takes one value", field=f"filter.{name}")
    if options is None:
        return raw
    for option in options:
        if str(option) == str(raw):
            return option
    raise ValidationError(
        f"filter {name!r} takes one of: " + ", ".join(str(o) for o in options),
        field=f"filter.{name}",
    )


def _range(name: str, raw: Any) -> tuple[str, str]:
    if isinstance(raw, dict) and set(raw) == {"start", "end"}:
        parts = [raw["start"], raw["end"]]
    elif isinstance(raw, str) and raw.count("..") == 1:
        parts = raw.split("..")
    else:
        parts = []
    try:
        start, end = (date.fromisoformat(p) for p in parts) if len(parts) == 2 else (None, None)
    except (TypeError, ValueError):
        start = end = None
    if start is None or end is None or start > end:
        raise ValidationError(
            f"filter {name!r} takes a date range: YYYY-MM-DD..YYYY-MM-DD (start before end)",
            field=f"filter.{name}",
        )
    return start.isoformat(), end.isoformat()


def bind(filters: Sequence[Mapping[str, Any]], given: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter the dashboard's filters provide: the value ``given`` for a filter, else
    its default. A value for a filter the dashboard does not have is a ValidationError."""
    names = {f["name"] for f in filters}
    unknown = sorted(set(given) - names)
    if unknown:
        raise ValidationError(
            "The dashboard has no filter " + ", ".join(repr(u) for u in unknown),
            field=f"filter.{unknown[0]}",
        )
    params: dict[str, Any] = {}
    for spec in filters:
        raw = given.get(spec["name"], spec.get("default"))
        if raw is not None:
            params.update(parse_value(spec, raw))
    return params


def for_query(params: Mapping[str, Any], declared: Sequence[str]) -> dict[str, Any]:
    """The filter parameters a query declares (``:name``, ``$name``, ``@name``)."""
    names = {p.lstrip("$:@") for p in declared}
    return {k: v for k, v in params.items() if k in names}
