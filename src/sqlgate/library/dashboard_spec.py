"""What a dashboard body may say, checked whole: every problem is reported with its path
(``widgets.1.position.w``) in one 422, and nothing is written unless all of it is valid.

A dashboard is a name, a description, ``widgets`` on a 12-column grid, ``filters`` whose values
reach the widget queries as named parameters, and a ``refresh_interval`` (seconds a widget's
result is reused). This module only reads plain data; what a ``query_id`` or ``connection_id``
names is asked of the caller through :class:`Lookups`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlgate.errors import ValidationError
from sqlgate.library.dashboard_filters import FILTER_TYPES, parse_value

GRID_COLUMNS = 12
MAX_WIDGETS = 50
MAX_FILTERS = 20
MAX_ROWS = 1000  # grid rows: a bound on y + h
DEFAULT_REFRESH = 300
MAX_REFRESH = 7 * 24 * 3600

CHART_TYPES = ("line", "bar", "area", "pie", "scatter")
QUERY_TYPES = ("metric", "table", *CHART_TYPES)
WIDGET_TYPES = (*QUERY_TYPES, "text")
COMPARISONS = ("previous_period", "target")

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_WIDGET_ID = re.compile(r"^w_[A-Za-z0-9_-]{1,40}$")
#: A widget's fields, in the order they are stored and shown.
_WIDGET_ORDER = (
    "widget_id",
    "type",
    "title",
    "query_id",
    "sql",
    "connection_id",
    "position",
    "mapping",
    "comparison",
    "text",
    "refresh_interval",
    "row_limit",
    "timeout",
)
_WIDGET_KEYS = set(_WIDGET_ORDER)
_TOP_KEYS = {"name", "description", "widgets", "filters", "refresh_interval"}


@dataclass(frozen=True)
class Lookups:
    """Questions about the organization, answered by the caller. Each returns None when all is
    well, or what is wrong (a message)."""

    saved_query: Callable[[str], str | None]
    connection: Callable[[str | None], str | None]
    sql: Callable[[str, str | None], str | None]


@dataclass
class _Problems:
    items: list[dict[str, str]] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.items.append({"field": path, "message": message})

    def raise_any(self) -> None:
        if self.items:
            n = len(self.items)
            raise ValidationError(
                f"Invalid dashboard: {n} problem{'s' if n > 1 else ''}", details=self.items
            )


def new_widget_id() -> str:
    return f"w_{secrets.token_hex(6)}"


def validate(
    body: Any, lookups: Lookups, *, current: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The dashboard ``body`` describes (for a PATCH, ``current`` merged with it), as stored:
    ``{"name", "description", "document": {"widgets", "filters", "refresh_interval"}}``.
    Raises one ValidationError listing every problem."""
    problems = _Problems()
    if not isinstance(body, dict):
        problems.add("body", "must be a JSON object")
        problems.raise_any()
    for key in sorted(set(body) - _TOP_KEYS):
        problems.add(key, "unknown field")
    base = current or {"name": None, "description": None, "document": {}}
    doc = base["document"]
    name = body.get("name", base["name"])
    if ("name" in body or current is None) and (
        not isinstance(name, str) or not name.strip() or len(name) > 200
    ):
        problems.add("name", "required: a non-empty string of at most 200 characters")
    description = body.get("description", base["description"])
    if description is not None and (not isinstance(description, str) or len(description) > 5000):
        problems.add("description", "must be a string of at most 5000 characters, or null")
    refresh = body.get("refresh_interval", doc.get("refresh_interval", DEFAULT_REFRESH))
    _interval(problems, "refresh_interval", refresh)
    filters = body.get("filters", doc.get("filters", []))
    if "filters" in body:
        filters = _filters(problems, filters)
    widgets = body.get("widgets", doc.get("widgets", []))
    if "widgets" in body:
        widgets = _widgets(problems, widgets, lookups)
    problems.raise_any()
    return {
        "name": name.strip(),
        "description": description,
        "document": {"widgets": widgets, "filters": filters, "refresh_interval": refresh},
    }


def _interval(problems: _Problems, path: str, value: Any) -> None:
    if not _is_int(value) or not 0 <= value <= MAX_REFRESH:
        problems.add(path, f"must be an integer number of seconds from 0 to {MAX_REFRESH}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- filters -------------------------------------------------------------------------------------


def _filters(problems: _Problems, filters: Any) -> list[dict[str, Any]]:
    if not isinstance(filters, list) or len(filters) > MAX_FILTERS:
        problems.add("filters", f"must be a list of at most {MAX_FILTERS} filters")
        return []
    seen: set[str] = set()
    out = []
    for i, spec in enumerate(filters):
        path = f"filters.{i}"
        if not isinstance(spec, dict):
            problems.add(path, "must be an object")
            continue
        for key in sorted(set(spec) - {"name", "type", "label", "default", "options"}):
            problems.add(f"{path}.{key}", "unknown field")
        name, kind = spec.get("name"), spec.get("type")
        if not isinstance(name, str) or not _NAME.match(name):
            problems.add(f"{path}.name", "required: letters, digits and _, not starting a digit")
        elif name in seen:
            problems.add(f"{path}.name", f"another filter is already named {name!r}")
        else:
            seen.add(name)
        if kind not in FILTER_TYPES:
            problems.add(f"{path}.type", "must be one of " + ", ".join(FILTER_TYPES))
        options = spec.get("options")
        if options is not None and (
            kind != "values"
            or not isinstance(options, list)
            or not all(isinstance(o, str | int | float) for o in options)
        ):
            problems.add(f"{path}.options", "only for `values` filters: a list of values")
        label = spec.get("label")
        if label is not None and not isinstance(label, str):
            problems.add(f"{path}.label", "must be a string")
        default = spec.get("default")
        if default is not None and kind in FILTER_TYPES and isinstance(name, str):
            try:
                parse_value(spec, default)
            except ValidationError as exc:
                problems.add(f"{path}.default", exc.message)
        keys = ("name", "type", "label", "default", "options")
        out.append({k: spec[k] for k in keys if spec.get(k) is not None})
    return out


# --- widgets -------------------------------------------------------------------------------------


def _widgets(problems: _Problems, widgets: Any, lookups: Lookups) -> list[dict[str, Any]]:
    if not isinstance(widgets, list) or len(widgets) > MAX_WIDGETS:
        problems.add("widgets", f"must be a list of at most {MAX_WIDGETS} widgets")
        return []
    out: list[dict[str, Any]] = []
    placed: list[tuple[int, tuple[int, int, int, int]]] = []
    ids: set[str] = set()
    for i, spec in enumerate(widgets):
        path = f"widgets.{i}"
        if not isinstance(spec, dict):
            problems.add(path, "must be an object")
            continue
        widget = _widget(problems, path, spec, lookups)
        wid = widget["widget_id"]
        if wid in ids:
            problems.add(f"{path}.widget_id", f"{wid!r} is used by another widget")
        ids.add(wid)
        box = _position(problems, f"{path}.position", spec.get("position"))
        if box is not None:
            for j, other in placed:
                if _overlap(box, other):
                    problems.add(f"{path}.position", f"overlaps widgets.{j}")
                    break
            placed.append((i, box))
        out.append(widget)
    return out


def _widget(
    problems: _Problems, path: str, spec: dict[str, Any], lookups: Lookups
) -> dict[str, Any]:
    for key in sorted(set(spec) - _WIDGET_KEYS):
        problems.add(f"{path}.{key}", "unknown field")
    kind = spec.get("type")
    wid = spec.get("widget_id")
    if wid is None:
        wid = new_widget_id()
    elif not isinstance(wid, str) or not _WIDGET_ID.match(wid):
        problems.add(f"{path}.widget_id", "must look like w_<letters and digits>")
    if kind not in WIDGET_TYPES:
        problems.add(f"{path}.type", "must be one of " + ", ".join(WIDGET_TYPES))
    title = spec.get("title")
    if title is not None and (not isinstance(title, str) or len(title) > 200):
        problems.add(f"{path}.title", "must be a string of at most 200 characters")
    if kind == "text":
        _text_widget(problems, path, spec)
    elif kind in QUERY_TYPES:
        _query_source(problems, path, spec, lookups)
        _mapping(problems, f"{path}.mapping", kind, spec.get("mapping"))
        if spec.get("comparison") is not None:
            if kind != "metric":
                problems.add(f"{path}.comparison", "only `metric` widgets have a comparison")
            else:
                _comparison(problems, f"{path}.comparison", spec["comparison"])
    if spec.get("refresh_interval") is not None:
        _interval(problems, f"{path}.refresh_interval", spec["refresh_interval"])
    row_limit, timeout = spec.get("row_limit"), spec.get("timeout")
    if row_limit is not None and (not _is_int(row_limit) or row_limit < 1):
        problems.add(f"{path}.row_limit", "must be a positive integer")
    if timeout is not None and (not _is_number(timeout) or timeout <= 0):
        problems.add(f"{path}.timeout", "must be a positive number of seconds")
    spec = {**spec, "widget_id": wid}
    return {k: spec[k] for k in _WIDGET_ORDER if spec.get(k) is not None}


def _text_widget(problems: _Problems, path: str, spec: dict[str, Any]) -> None:
    text = spec.get("text")
    if not isinstance(text, str) or len(text) > 20_000:
        problems.add(f"{path}.text", "required for `text` widgets: markdown, at most 20000 chars")
    for key in ("query_id", "sql", "connection_id", "mapping", "comparison"):
        if spec.get(key) is not None:
            problems.add(f"{path}.{key}", "a `text` widget runs no query")


def _query_source(problems: _Problems, path: str, spec: dict[str, Any], lookups: Lookups) -> None:
    query_id, sql, conn = spec.get("query_id"), spec.get("sql"), spec.get("connection_id")
    if spec.get("text") is not None:
        problems.add(f"{path}.text", "only `text` widgets have text")
    if (query_id is None) == (sql is None):
        problems.add(path, "needs exactly one of `query_id` (a saved query) or `sql`")
        return
    if query_id is not None:
        if conn is not None:
            problems.add(f"{path}.connection_id", "comes from the saved query; give it with `sql`")
        if not isinstance(query_id, str) or len(query_id) > 40:
            problems.add(f"{path}.query_id", "must be a saved query id (`q_...`)")
        elif (wrong := lookups.saved_query(query_id)) is not None:
            problems.add(f"{path}.query_id", wrong)
        return
    if conn is not None and (not isinstance(conn, str) or len(conn) > 200):
        problems.add(f"{path}.connection_id", "must be a connection id or name")
        return
    if (wrong := lookups.connection(conn)) is not None:
        problems.add(f"{path}.connection_id", wrong)
        return
    if not isinstance(sql, str) or not sql.strip():
        problems.add(f"{path}.sql", "must be one read-only SQL statement")
    elif (wrong := lookups.sql(sql, conn)) is not None:
        problems.add(f"{path}.sql", wrong)


def _position(problems: _Problems, path: str, pos: Any) -> tuple[int, int, int, int] | None:
    if not isinstance(pos, dict):
        problems.add(path, "required: {x, y, w, h} on a 12-column grid")
        return None
    for key in sorted(set(pos) - {"x", "y", "w", "h"}):
        problems.add(f"{path}.{key}", "unknown field")
    x, y, w, h = (pos.get(k) for k in ("x", "y", "w", "h"))
    ok = True
    for key, value, low in (("x", x, 0), ("y", y, 0), ("w", w, 1), ("h", h, 1)):
        if not _is_int(value) or value < low:
            problems.add(f"{path}.{key}", f"must be an integer >= {low}")
            ok = False
    if not ok:
        return None
    if x + w > GRID_COLUMNS:
        problems.add(path, f"x + w is {x + w}: the grid has {GRID_COLUMNS} columns")
        return None
    if y + h > MAX_ROWS:
        problems.add(path, f"y + h must be at most {MAX_ROWS}")
        return None
    return x, y, w, h


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


#: Which mapping keys each widget type takes, and which it needs.
MAPPING_KEYS: dict[str, tuple[set[str], set[str]]] = {
    "metric": ({"value", "x"}, set()),
    "table": ({"columns"}, set()),
    "line": ({"x", "y", "series"}, {"x", "y"}),
    "bar": ({"x", "y", "series"}, {"x", "y"}),
    "area": ({"x", "y", "series"}, {"x", "y"}),
    "scatter": ({"x", "y", "series"}, {"x", "y"}),
    "pie": ({"x", "y"}, {"x", "y"}),
}


def _mapping(problems: _Problems, path: str, kind: str, mapping: Any) -> None:
    allowed, needed = MAPPING_KEYS[kind]
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, dict):
        problems.add(path, "must be an object of result column names")
        return
    for key in sorted(set(mapping) - allowed):
        problems.add(f"{path}.{key}", f"not a field of a `{kind}` widget")
    for key in sorted(needed - set(mapping)):
        problems.add(f"{path}.{key}", f"required for a `{kind}` widget: a result column")
    for key, value in mapping.items():
        if key not in allowed:
            continue
        many = key == "columns" or (key == "y" and kind in ("line", "bar", "area"))
        if isinstance(value, str) and value:
            continue
        if many and isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            continue
        problems.add(f"{path}.{key}", "must be a column name" + (" or a list" if many else ""))


def _comparison(problems: _Problems, path: str, comparison: Any) -> None:
    if not isinstance(comparison, dict):
        problems.add(path, "must be {type: previous_period} or {type: target, value: N}")
        return
    for key in sorted(set(comparison) - {"type", "value", "label"}):
        problems.add(f"{path}.{key}", "unknown field")
    kind = comparison.get("type")
    if kind not in COMPARISONS:
        problems.add(f"{path}.type", "must be one of " + ", ".join(COMPARISONS))
    elif kind == "target" and not _is_number(comparison.get("value")):
        problems.add(f"{path}.value", "required for a target: a number")
    elif kind == "previous_period" and comparison.get("value") is not None:
        problems.add(f"{path}.value", "a previous period compares with the row before")
