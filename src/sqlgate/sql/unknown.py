"""Columns a query names that its tables do not have: advice for ``validate``'s warning.

sqlglot resolves every column against the catalog (aliases, CTEs, subqueries and lateral joins
included). Advice only: anything sqlglot cannot resolve for other reasons yields no warning.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import sqlglot
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer.qualify import qualify

_UNRESOLVED = re.compile(r"Column '([^']+)' could not be resolved|Unknown column: (\S+)")
#: sqlglot stops at the first unknown column; each round assumes it exists and looks again.
_MAX_ROUNDS = 20


def unknown_columns(sql: str, dialect: str, tables: Mapping[str, Sequence[str]]) -> list[str]:
    """Every column of ``sql`` none of ``tables`` (name → column names) defines, in the order
    sqlglot meets them."""
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except (SqlglotError, ValueError, KeyError):
        return []
    schema = {table: dict.fromkeys(columns, "text") for table, columns in tables.items()}
    found: list[str] = []
    everywhere: set[str] = set()
    for _ in range(_MAX_ROUNDS):
        column = _first_unknown(tree, dialect, schema)
        if column is None or not schema:
            break
        if column in everywhere:
            break
        if column in found:
            # Already assumed in the first table: a qualified reference to another one.
            everywhere.add(column)
            for columns in schema.values():
                columns[column] = "text"
            continue
        found.append(column)
        next(iter(schema.values()))[column] = "text"
    return found


def _first_unknown(
    tree: sqlglot.Expr, dialect: str, schema: dict[str, dict[str, str]]
) -> str | None:
    try:
        qualify(tree.copy(), schema=schema, dialect=dialect, validate_qualify_columns=True)
    except OptimizeError as exc:
        match = _UNRESOLVED.search(str(exc))
        return (match.group(1) or match.group(2)) if match else None
    except (SqlglotError, ValueError, KeyError):
        return None
    return None
