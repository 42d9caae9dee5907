"""DuckDB engine: a read-only database instance, one fresh cursor (session) per query."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from sqlgate.engines._stream import primed
from sqlgate.engines.base import (
    BATCH_ROWS,
    Catalog,
    Deadline,
    Engine,
    ResultStream,
    columns_from_schema,
)
from sqlgate.errors import ConnectionFailed, QueryError, SqlNotAllowed

# The only statement kinds DuckDB's own parser may report for a query we run. This check is the
# engine's (not sqlglot's) view of the text, so it holds even with the SQL guard switched off.
_READ_STATEMENTS = frozenset({duckdb.StatementType.SELECT})


class DuckDBEngine(Engine):
    type = "duckdb"
    dialect = "duckdb"
    parameter_style = "$name"

    def __init__(self, path: str | Path, *, memory_limit: str = "2GB", threads: int = 2) -> None:
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
                    "memory_limit": memory_limit,
                    "threads": threads,
                    # Last: once locked, no query can change any of the above.
                    "lock_configuration": True,
                },
            )
        except duckdb.Error as exc:
            raise ConnectionFailed(
                f"Could not open the DuckDB database: {_first_line(exc)}"
            ) from exc

    def stream(
        self,
        sql: str,
        params: Mapping[str, Any] | None,
        *,
        timeout: float,
        row_limit: int | None,
        batch_rows: int = BATCH_ROWS,
    ) -> ResultStream:
        cursor = self._db.cursor()
        deadline = Deadline(timeout, cursor.interrupt)

        def close() -> None:
            deadline.cancel()
            cursor.close()

        try:
            _refuse_non_select(cursor, sql)
            relation = cursor.sql(sql, params=dict(params) if params else None)
            reader = relation.to_arrow_reader(batch_rows)
            engine_types = [str(t) for t in relation.types]
            batches = primed(_read(reader, deadline))
        except BaseException as exc:
            close()
            raise _translate(exc, deadline) from exc
        return ResultStream(
            columns=columns_from_schema(reader.schema, engine_types),
            schema=reader.schema,
            _batches=batches,
            _close=close,
            row_limit=row_limit,
        )

    def _read_catalog(self) -> Catalog:
        cursor = self._db.cursor()
        try:
            rows = cursor.sql(
                "SELECT table_name, column_name, data_type, NOT is_nullable FROM duckdb_columns() "
                "WHERE NOT internal AND database_name = current_database() "
                "ORDER BY table_name, column_index"
            ).fetchall()
        finally:
            cursor.close()
        return Catalog.from_rows(rows)

    def close(self) -> None:
        self._db.close()


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


def _read(reader: pa.RecordBatchReader, deadline: Deadline) -> Iterator[pa.RecordBatch]:
    try:
        yield from reader
    except BaseException as exc:
        raise _translate(exc, deadline) from exc


def _translate(exc: BaseException, deadline: Deadline) -> BaseException:
    if deadline.expired:
        return deadline.error()
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
