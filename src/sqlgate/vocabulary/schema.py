"""What a connection exposes: tables, views, columns and keys, and the catalog derived from them.

Engines read a :class:`DatabaseSchema` (``GET /v1/connections/{id}/schema``); the SQL analysis
looks names up in its :class:`Catalog` (unknown tables and columns, ``notNull``); the question
path retrieves tables from it. None of them needs an engine to speak of it, so it lives here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True)
class SchemaColumn:
    name: str
    type: str  # the engine's own type name, e.g. "character varying(160)", "INTEGER"
    nullable: bool
    comment: str | None = None


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    references_schema: str | None
    references_table: str
    references_columns: tuple[str, ...]
    name: str | None = None


@dataclass(frozen=True)
class SchemaTable:
    schema: str | None  # None where the engine has no schemas (SQLite's "main" is reported)
    name: str
    kind: str  # "table" or "view"
    columns: tuple[SchemaColumn, ...]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    comment: str | None = None


@dataclass(frozen=True, eq=False)
class DatabaseSchema:
    """What a connection exposes, read once and cached by the engine until refreshed.
    Tables are ordered: default schema first, then by schema and name."""

    tables: tuple[SchemaTable, ...]
    read_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def schemas(self) -> list[str]:
        seen: dict[str, None] = {}
        for table in self.tables:
            if table.schema is not None:
                seen.setdefault(table.schema, None)
        return list(seen)


@dataclass(frozen=True)
class CatalogColumn:
    name: str
    type: str
    not_null: bool


@dataclass(frozen=True, eq=False)
class Catalog:
    """Tables (and views) a connection exposes, keyed by lower-case name. Hashed by identity:
    a refreshed catalog is a new object, so caches keyed on it never serve stale answers."""

    tables: dict[str, dict[str, CatalogColumn]]

    @classmethod
    def from_schema(cls, schema: DatabaseSchema) -> Catalog:
        """Every table of the introspected schema; a name in several schemas keeps the first
        (engines list their default schema first)."""
        tables: dict[str, dict[str, CatalogColumn]] = {}
        for table in schema.tables:
            columns = {
                c.name.lower(): CatalogColumn(c.name, c.type, not c.nullable) for c in table.columns
            }
            tables.setdefault(table.name.lower(), columns)
            if table.schema:
                tables.setdefault(f"{table.schema}.{table.name}".lower(), columns)
        return cls(tables)

    def columns(self, table: str) -> dict[str, CatalogColumn] | None:
        return self.tables.get(table.lower())
