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


def unknown_column(sql: str, dialect: str, tables: Mapping[str, Sequence[str]]) -> str | None:
    """The first column of ``sql`` none of ``tables`` (name → column names) defines, if any."""
    schema: dict[str, object] = {
        table: {column: "text" for column in columns} for table, columns in tables.items()
    }
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
        qualify(tree, schema=schema, dialect=dialect, validate_qualify_columns=True)
    except OptimizeError as exc:
        match = _UNRESOLVED.search(str(exc))
        return (match.group(1) or match.group(2)) if match else None
    except (SqlglotError, ValueError, KeyError):
        return None
    return None
