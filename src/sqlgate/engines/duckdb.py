"""DuckDB engine: a read-only database instance, one fresh cursor (session) per query."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from sqlgate.engines.base import Engine, Query, Started, columns_from_schema
from sqlgate.errors import ConnectionFailed, QueryError, SqlNotAllowed
from sqlgate.vocabulary.schema import DatabaseSchema, ForeignKey, SchemaColumn, SchemaTable

if TYPE_CHECKING:
    from sqlgate.engines.base import ConnectionSpec
    from sqlgate.settings import Settings

# The only statement kinds DuckDB's own parser may report for a query we run. This check is the
# engine's (not sqlglot's) view of the text, so it holds even with the SQL guard switched off.
_READ_STATEMENTS = frozenset({duckdb.StatementType.SELECT})

# Introspection of the attached database only (not DuckDB's built-in `system` and `temp`).
_OWN = "database_name = current_database()"
_TABLES = f"""
    SELECT schema_name, table_name, 'table', comment FROM duckdb_tables()
    WHERE NOT internal AND {_OWN}
    UNION ALL
    SELECT schema_name, view_name, 'view', comment FROM duckdb_views()
    WHERE NOT internal AND {_OWN}
    ORDER BY schema_name <> current_schema(), schema_name, table_name
"""
_COLUMNS = f"""
    SELECT schema_name, table_name, column_name, data_type, is_nullable, comment
    FROM duckdb_columns() WHERE NOT internal AND {_OWN}
    ORDER BY schema_name, table_name, column_index
"""
_CONSTRAINTS = f"""
    SELECT schema_name, table_name, constraint_type, constraint_column_names, constraint_name,
        referenced_table, referenced_column_names
    FROM duckdb_constraints()
    WHERE constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY') AND {_OWN}
    ORDER BY constraint_index
"""


class DuckDBEngine(Engine):
    type = "duckdb"
    summary = "a DuckDB file"
    dialect = "duckdb"
    location = "file"
    parameter_style = "$name"

    @classmethod
    def from_spec(cls, spec: ConnectionSpec, settings: Settings) -> DuckDBEngine:
        return cls(
            spec.database or "",
            memory_limit=settings.duckdb_memory_limit,
            max_temp_directory_size=settings.duckdb_max_temp_directory_size,
            threads=settings.duckdb_threads,
        )

    def __init__(
        self,
        path: str | Path,
        *,
        memory_limit: str = "2GB",
        max_temp_directory_size: str = "1GB",
        threads: int = 2,
    ) -> None:
        super().__init__()
        try:
            self._db = duckdb.connect(
                str(path),
                read_only=True,
                config={
                    # No files, no network, no extension downloads, no Python-object scans.
                    "enable_external_access": False,
                    "autoinstall_known_extensions": False,
                    "autoload_known_extensions": False,
                    "allow_community_extensions": False,
                    "python_enable_replacements": False,
                    # Memory of all its queries together, and disk to spill to. A value a
                    # function builds in one piece (a constant repeat()) escapes the memory
                    # limit: the guard refuses those, the deadline keeps the rest short.
                    "memory_limit": memory_limit,
                    "max_temp_directory_size": max_temp_directory_size,
                    "threads": threads,
                    # Last: once locked, no query can change any of the above.
                    "lock_configuration": True,
                },
            )
        except duckdb.Error as exc:
            raise ConnectionFailed(
                f"Could not open the DuckDB database: {_first_line(exc)}"
            ) from exc

    def _start(self, query: Query) -> Started:
        cursor = self._db.cursor()
        readers: list[pa.RecordBatchReader] = []

        def release() -> None:
            # A result not read to its end (the row limit stopped it) would otherwise be
            # computed to its end when the reader is dropped: a recursive CTE for seconds.
            cursor.interrupt()
            for reader in readers:
                reader.close()
            cursor.close()

        query.hold(interrupt=cursor.interrupt, release=release, translate=_translate)
        _refuse_non_select(cursor, query.sql)
        relation = cursor.sql(query.sql, params=dict(query.params) if query.params else None)
        reader = relation.to_arrow_reader(query.batch_rows)
        readers.append(reader)
        engine_types = [str(t) for t in relation.types]
        return Started(columns_from_schema(reader.schema, engine_types), reader.schema, reader)

    def _read_schema(self) -> DatabaseSchema:
        cursor = self._db.cursor()
        try:
            tables = cursor.sql(_TABLES).fetchall()
            columns = cursor.sql(_COLUMNS).fetchall()
            constraints = cursor.sql(_CONSTRAINTS).fetchall()
        finally:
            cursor.close()
        return _schema(tables, columns, constraints)

    def version(self) -> str:
        return f"DuckDB {duckdb.__version__}"

    def close(self) -> None:
        self._db.close()


def _schema(
    tables: list[tuple[Any, ...]],
    columns: list[tuple[Any, ...]],
    constraints: list[tuple[Any, ...]],
) -> DatabaseSchema:
    """Assemble the three introspection results (each in its final order) into tables."""
    cols: dict[tuple[str, str], list[SchemaColumn]] = {}
    for schema, table, name, data_type, nullable, comment in columns:
        cols.setdefault((schema, table), []).append(
            SchemaColumn(name, data_type, bool(nullable), comment or None)
        )
    pks: dict[tuple[str, str], tuple[str, ...]] = {}
    fks: dict[tuple[str, str], list[ForeignKey]] = {}
    for schema, table, kind, names, constraint, ref_table, ref_names in constraints:
        if kind == "PRIMARY KEY":
            pks[(schema, table)] = tuple(names)
        else:
            # DuckDB has no foreign keys across schemas: the referenced table is a sibling.
            fks.setdefault((schema, table), []).append(
                ForeignKey(tuple(names), schema, ref_table, tuple(ref_names), constraint)
            )
    return DatabaseSchema(
        tuple(
            SchemaTable(
                schema=schema,
                name=name,
                kind=kind,
                columns=tuple(cols.get((schema, name), ())),
                primary_key=pks.get((schema, name), ()),
                foreign_keys=tuple(fks.get((schema, name), ())),
                comment=comment or None,
            )
            for schema, name, kind, comment in tables
        )
    )


def _refuse_non_select(cursor: duckdb.DuckDBPyConnection, sql: str) -> None:
    statements = cursor.extract_statements(sql)
    if len(statements) != 1:
        raise SqlNotAllowed(
            f"Exactly one statement is allowed; DuckDB found {len(statements)}",
            reason="multiple_statements" if statements else "empty",
        )
    if statements[0].type not in _READ_STATEMENTS:
        kind = statements[0].type.name.lower()
        raise SqlNotAllowed(
            f"Only read-only queries are allowed; DuckDB parsed a {kind.upper()} statement",
            reason="not_read_only",
            query_type=kind,
        )


def _translate(exc: BaseException) -> BaseException:
    if isinstance(exc, duckdb.OutOfMemoryException):
        return QueryError(
            "The query needs more memory or temporary disk than this connection allows "
            "(SQLGATE_DUCKDB_MEMORY_LIMIT, SQLGATE_DUCKDB_MAX_TEMP_DIRECTORY_SIZE): "
            + _first_line(exc)
        )
    if isinstance(exc, duckdb.PermissionException):
        return SqlNotAllowed(
            f"Refused by the read-only session: {_first_line(exc)}", reason="engine_refused"
        )
    if isinstance(exc, duckdb.Error | pa.ArrowException | OSError):
        message, line, column = _locate(str(exc))
        return QueryError(message, line=line, column=column)
    return exc


_LINE = re.compile(r"^LINE (\d+): ?")


def _locate(text: str) -> tuple[str, int | None, int | None]:
    """Split DuckDB's error text into a one-paragraph message and the 1-based line and column
    its caret points at (DuckDB prints ``LINE n: <sql>`` and a ``^`` under the spot)."""
    lines = text.strip().splitlines()
    line = column = None
    kept = []
    for i, raw in enumerate(lines):
        match = _LINE.match(raw)
        if match:
            line = int(match.group(1))
            caret = lines[i + 1] if i + 1 < len(lines) else ""
            if caret.strip().startswith("^"):
                column = caret.index("^") - match.end() + 1
            break
        if raw.strip():
            kept.append(raw.strip())
    return " ".join(kept) or "The query failed", line, column


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
