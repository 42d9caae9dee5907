"""Request and response shapes shared by several routers (field names follow the seed pages)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sqlgate.engines.base import Column, QueryResult
from sqlgate.results.jsonable import rows_as_arrays


class RequestModel(BaseModel):
    """Strict: wrong types and unknown fields are a 422, not silently coerced or ignored."""

    model_config = ConfigDict(strict=True, extra="forbid")


class ColumnOut(BaseModel):
    name: str = Field(description="Column name as the database reports it.")
    type: str = Field(description="Data type, e.g. VARCHAR, INTEGER, DECIMAL(10,2), TIMESTAMP.")
    notNull: bool = Field(description="Whether the column is known to disallow nulls.")


def column_out(column: Column) -> dict[str, Any]:
    return {"name": column.name, "type": column.type, "notNull": column.not_null}


class QueryBody(RequestModel):
    query: str = Field(description="The SQL to run: one read-only statement.")
    params: dict[str, Any] | None = Field(
        default=None,
        description="Values for named parameters in `query` (`$name` in DuckDB, `:name` in "
        "SQLite). Every placeholder needs a value; unknown names are refused.",
    )
    row_limit: int | None = Field(
        default=None, ge=1, description="Caps the rows returned. Default 1000, max 10000."
    )
    timeout: float | None = Field(
        default=None, gt=0, description="Seconds before the query is stopped. Default 30, max 120."
    )


class QueryOut(BaseModel):
    columns: list[ColumnOut] = Field(description="Result columns, in order.")
    rows: list[list[Any]] = Field(description="Result rows, each an array in column order.")
    row_count: int = Field(description="Number of rows returned.")
    truncated: bool = Field(description="True when the query had more rows than `row_limit`.")
    execution_time_ms: float = Field(description="Time spent running and fetching, in ms.")


def query_out(result: QueryResult) -> dict[str, Any]:
    return {
        "columns": [column_out(c) for c in result.columns],
        "rows": rows_as_arrays(result.table),
        "row_count": result.row_count,
        "truncated": result.truncated,
        "execution_time_ms": round(result.execution_time_ms, 3),
    }


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable error code, e.g. `validation_error`.")
    message: str = Field(description="What went wrong, in a sentence.")


class ErrorOut(BaseModel):
    error: ErrorDetail = Field(
        description="The error. Some codes add fields: `reason`, `query_type`, `position`, "
        "`line`, `column` (SQL), `field` and `details` (validation), `retry_after` (429)."
    )


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in {
        401: "`authentication_error`: missing or invalid API key",
        403: "`authorization_error`: the key lacks the required scope",
        404: "`not_found`: no such connection (or route)",
        413: "`payload_too_large`: the body is over the size limit",
        422: "`validation_error`, `sql_syntax_error`, `sql_not_allowed`: bad request or SQL",
        429: "`rate_limit_exceeded`; see the `Retry-After` header",
        502: "`connection_error`: the database could not be reached",
        503: "`service_unavailable`: the shared rate-limit store cannot be reached",
        504: "`timeout`: the query ran past its timeout and was stopped",
    }.items()
}
