"""Table names as the engine reads them: sqlgate's own catalog of a connection, by dialect rules.

A reference in a query or a policy (``orders``, ``"Orders"``, ``main.orders``) resolves to at
most one table of the introspected schema (:class:`~sqlgate.vocabulary.schema.DatabaseSchema`):
PostgreSQL folds unquoted names to lower case and compares exactly; DuckDB and SQLite compare
without case; other dialects compare exactly. A one-part name means the dialect's default schema
(``public``, ``main``; else the schema listed first). Three-part names (another catalog or
attached database) resolve to nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp
from sqlglot.errors import SqlglotError

from sqlgate.vocabulary.schema import DatabaseSchema, SchemaTable

_DEFAULT_SCHEMAS = {"postgres": "public", "duckdb": "main", "sqlite": "main"}
_CASE_INSENSITIVE = frozenset({"duckdb", "sqlite"})


@dataclass(frozen=True, order=True)
class TableKey:
    """A table of the connection: its schema (or None) and name, exactly as introspected."""

    schema: str | None
    name: str

    def display(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


class SchemaIndex:
    """Look up tables of one schema read by the dialect's rules."""

    def __init__(self, schema: DatabaseSchema, dialect: str) -> None:
        self.dialect = dialect
        self._fold = dialect in _CASE_INSENSITIVE
        self._tables: dict[tuple[str, str], tuple[TableKey, SchemaTable]] = {}
        for table in schema.tables:
            entry = (TableKey(table.schema, table.name), table)
            self._tables.setdefault((self._norm(table.schema or ""), self._norm(table.name)), entry)
        default = _DEFAULT_SCHEMAS.get(dialect)
        if default is None:
            default = schema.tables[0].schema or "" if schema.tables else ""
        self.default_schema = self._norm(default)

    def _norm(self, name: str) -> str:
        return name.lower() if self._fold else name

    def _key(self, identifier: exp.Expr) -> str:
        name = identifier.name
        if self.dialect == "postgres" and not identifier.args.get("quoted"):
            return name.lower()
        return self._norm(name)

    def lookup(self, table: exp.Table) -> tuple[TableKey, SchemaTable] | None:
        """The one table a (plain, at most two-part) reference reads, or None."""
        if table.args.get("catalog") is not None or not isinstance(table.this, exp.Identifier):
            return None
        db = table.args.get("db")
        if db is not None and not isinstance(db, exp.Identifier):
            return None
        schema = self._key(db) if db is not None else self.default_schema
        return self._tables.get((schema, self._key(table.this)))

    def lookup_name(self, name: str) -> tuple[TableKey, SchemaTable] | None:
        """A table named in a policy document (``orders``, ``sales.orders``, ``"Orders"``)."""
        try:
            table = exp.to_table(name, dialect=self.dialect)
        except (SqlglotError, ValueError):
            return None
        return self.lookup(table)
