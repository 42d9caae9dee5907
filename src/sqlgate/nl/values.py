"""Distinct values of low-cardinality text columns, so "customers in Germany" finds
``customers.country = 'Germany'``.

Values are read through the engine's read-only query path (``Engine.execute``: a read-only
session with a deadline and a row limit), each statement first checked by the SQL guard. A
column is kept only when it has at most ``max_distinct`` values among its first ``scan_rows``
rows; longer texts (names, addresses) are not useful as filters and are skipped. The result is
plain data (:meth:`ValueIndex.to_dict`), to be cached with the deployed model.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from sqlgate.engines.base import Engine
from sqlgate.errors import SqlgateError
from sqlgate.nl.expand import check_native, quoted_if_needed
from sqlgate.nl.semantic import Model, SemanticModel

log = logging.getLogger(__name__)

_TEXT_TYPES = re.compile(r"char|text|string|enum|clob|varchar|name|citext", re.IGNORECASE)
_MAX_VALUE_CHARS = 80


@dataclass
class ValueIndex:
    """Sampled values by ``(model, column)``, both semantic names."""

    values: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, dict[str, list[str]]]:
        out: dict[str, dict[str, list[str]]] = {}
        for (model, column), values in self.values.items():
            out.setdefault(model, {})[column] = list(values)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, list[str]]]) -> ValueIndex:
        return cls(
            {
                (model, column): tuple(str(v) for v in values)
                for model, columns in data.items()
                for column, values in columns.items()
            }
        )


def text_columns(model: Model, types: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """``(semantic, physical)`` names of the model's text columns, a key of several columns
    left out (a text key of one column is a code people name: "the airport with code 'AKO'")."""
    keys = {k.lower() for k in model.primary_key} if len(model.primary_key) > 1 else set()
    out = []
    for column in model.columns:
        type_name = column.type or (types or {}).get(column.physical.lower(), "")
        if column.name.lower() in keys or not _TEXT_TYPES.search(type_name or ""):
            continue
        out.append((column.name, column.physical))
    return out


def sample_values(
    engine: Engine,
    model: SemanticModel,
    dialect: str,
    *,
    max_distinct: int = 400,
    scan_rows: int = 200_000,
    timeout: float = 5.0,
    budget_seconds: float = 30.0,
) -> ValueIndex:
    """Sample the distinct values of every low-cardinality text column of ``model``."""
    index = ValueIndex()
    deadline = time.monotonic() + budget_seconds
    try:
        schema_types = _schema_types(engine)
    except SqlgateError:
        schema_types = {}
    for m in model.models:
        types = schema_types.get(m.physical.lower(), {})
        for semantic, physical in text_columns(m, types):
            if time.monotonic() > deadline:
                log.info("value sampling stopped at its time budget")
                return index
            sql = _distinct_sql(m, physical, dialect, max_distinct, scan_rows)
            try:
                check_native(sql, dialect)
                result = engine.execute(sql, None, timeout=timeout, row_limit=max_distinct)
            except SqlgateError as exc:
                log.info("could not sample %s.%s: %s", m.name, semantic, exc.message)
                continue
            if result.truncated:
                continue
            values = [
                str(v)
                for v in result.table.column(0).to_pylist()
                if v is not None and 0 < len(str(v)) <= _MAX_VALUE_CHARS
            ]
            if values:
                index.values[(m.name, semantic)] = tuple(sorted(set(values)))
    return index


def _schema_types(engine: Engine) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for table in engine.schema().tables:
        out.setdefault(table.name.lower(), {c.name.lower(): c.type for c in table.columns})
    return out


def _distinct_sql(model: Model, column: str, dialect: str, limit: int, scan: int) -> str:
    table = exp.Table(
        this=quoted_if_needed(model.physical),
        db=quoted_if_needed(model.table_schema) if model.table_schema else None,
    )
    inner = exp.select(exp.column(quoted_if_needed(column))).from_(table).limit(scan)
    outer = (
        exp.select(exp.column(quoted_if_needed(column)))
        .distinct()
        .from_(inner.subquery("s"))
        .limit(limit + 1)
    )
    return outer.sql(dialect=dialect)


def values_for(index: ValueIndex | None, model: str, column: str) -> tuple[str, ...]:
    if index is None:
        return ()
    return index.values.get((model, column), ())


def describe(index: ValueIndex) -> dict[str, Any]:
    return {f"{m}.{c}": len(v) for (m, c), v in index.values.items()}
