"""Relationships a draft semantic model infers from names where the schema declares none.

Many databases leave foreign keys undeclared. A column is taken to point at another table when
its name is that table's name, singular or plural, with or without ``_id`` (``flights.airline``
→ ``airlines``, ``orders.customer_id`` → ``customers``), the table has a primary key of one
integer column, and the column holds integers too. Nothing else is guessed: a text column named
like a table (``country`` next to a ``country`` table) may hold names where the key holds codes,
so it is left alone. Declared foreign keys always win; an editor of the draft sees the inferred
ones in the YAML.
"""

from __future__ import annotations

import re

from sqlgate.nl.text import identifier_words, stem
from sqlgate.vocabulary.schema import SchemaColumn, SchemaTable

_INTEGER = re.compile(r"int", re.IGNORECASE)


def implied_foreign_keys(
    tables: tuple[SchemaTable, ...] | list[SchemaTable],
) -> list[tuple[SchemaTable, str, SchemaTable, str]]:
    """(table, column, referenced table, its key column) for every link the names imply."""
    targets: dict[tuple[str, ...], list[SchemaTable]] = {}
    for table in tables:
        key = _integer_key(table)
        if key is not None:
            targets.setdefault(_stems(table.name), []).append(table)
    out = []
    for table in tables:
        declared = {c.lower() for fk in table.foreign_keys for c in fk.columns}
        own_key = [k.lower() for k in table.primary_key]
        for column in table.columns:
            if column.name.lower() in declared or own_key == [column.name.lower()]:
                continue
            if not _INTEGER.search(column.type or ""):
                continue
            words = _stems(column.name)
            if words and words[-1] == "id":
                words = words[:-1]
            found = [t for t in targets.get(words, []) if t is not table] if words else []
            if len(found) == 1:
                key = _integer_key(found[0])
                assert key is not None
                out.append((table, column.name, found[0], key.name))
    return out


def _integer_key(table: SchemaTable) -> SchemaColumn | None:
    if len(table.primary_key) != 1:
        return None
    for column in table.columns:
        if column.name.lower() == table.primary_key[0].lower():
            return column if _INTEGER.search(column.type or "") else None
    return None


def _stems(name: str) -> tuple[str, ...]:
    return tuple(stem(w) for w in identifier_words(name))
