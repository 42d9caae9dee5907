"""A widget's rows in the shape its type draws, following its field ``mapping``.

- ``metric``: ``value`` (the ``mapping.value`` column, default the first, of the last row) and,
  with a ``comparison``, the ``previous_period`` (the row before the last) or the ``target``,
  with ``change`` and ``change_pct``.
- ``table``: the ``mapping.columns`` (default all), in that order.
- ``line``, ``bar``, ``area``, ``scatter``: ``series``, each ``{"name", "points": [[x, y], ...]}``:
  one per value of the ``mapping.series`` column, else one per ``mapping.y`` column.
- ``pie``: ``slices``, each ``{"label": x, "value": y}``.

A mapping that names a column the result does not have is the widget's ``validation_error``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlgate.errors import ValidationError


def shape(widget: dict[str, Any], columns: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    kind = widget.get("type")
    mapping = widget.get("mapping") or {}
    if kind == "metric":
        return _metric(mapping, widget.get("comparison"), columns, rows)
    if kind == "table":
        return _table(mapping, columns, rows)
    if kind == "pie":
        x, y = _index(columns, mapping, "x"), _index(columns, mapping, "y")
        return {"slices": [{"label": r[x], "value": r[y]} for r in rows]}
    if kind in ("line", "bar", "area", "scatter"):
        return {"series": _series(mapping, columns, rows)}
    return {}


def _index(columns: list[str], mapping: dict[str, Any], key: str, name: str | None = None) -> int:
    column = name if name is not None else mapping[key]
    if column not in columns:
        raise ValidationError(
            f"mapping.{key}: the result has no column {column!r} (it has: "
            + ", ".join(columns)
            + ")",
            field=f"mapping.{key}",
        )
    return columns.index(column)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | Decimal):
        return float(value)
    return None


def _metric(
    mapping: dict[str, Any],
    comparison: dict[str, Any] | None,
    columns: list[str],
    rows: list[list[Any]],
) -> dict[str, Any]:
    if not columns:
        raise ValidationError("A metric needs a result with a column", field="mapping.value")
    at = _index(columns, mapping, "value", mapping.get("value", columns[0]))
    value = rows[-1][at] if rows else None
    out: dict[str, Any] = {"value": value}
    if "x" in mapping and rows:
        out["period"] = rows[-1][_index(columns, mapping, "x")]
    if not comparison:
        return out
    if comparison["type"] == "target":
        other = comparison["value"]
    else:
        other = rows[-2][at] if len(rows) >= 2 else None
    now, then = _number(value), _number(other)
    change = None if now is None or then is None else now - then
    pct = None if change is None or not then else round(change / abs(then) * 100, 4)
    compared: dict[str, Any] = {
        "type": comparison["type"],
        "value": other,
        "change": change,
        "change_pct": pct,
    }
    if comparison.get("label"):
        compared["label"] = comparison["label"]
    if comparison["type"] == "previous_period" and "x" in mapping and len(rows) >= 2:
        compared["period"] = rows[-2][_index(columns, mapping, "x")]
    out["comparison"] = compared
    return out


def _table(mapping: dict[str, Any], columns: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    wanted = mapping.get("columns")
    if not wanted:
        return {}
    if isinstance(wanted, str):
        wanted = [wanted]
    at = [_index(columns, mapping, "columns", name) for name in wanted]
    return {"columns": list(wanted), "rows": [[r[i] for i in at] for r in rows]}


def _series(
    mapping: dict[str, Any], columns: list[str], rows: list[list[Any]]
) -> list[dict[str, Any]]:
    x = _index(columns, mapping, "x")
    ys = mapping["y"] if isinstance(mapping["y"], list) else [mapping["y"]]
    y_at = [_index(columns, mapping, "y", name) for name in ys]
    if mapping.get("series"):
        if len(y_at) != 1:
            raise ValidationError(
                "mapping.series splits one y column; give y as one column", field="mapping.y"
            )
        s = _index(columns, mapping, "series")
        groups: dict[Any, list[list[Any]]] = {}
        for r in rows:
            groups.setdefault(r[s], []).append([r[x], r[y_at[0]]])
        return [{"name": name, "points": points} for name, points in groups.items()]
    return [
        {"name": name, "points": [[r[x], r[i]] for r in rows]}
        for name, i in zip(ys, y_at, strict=True)
    ]
