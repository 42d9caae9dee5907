"""Seed 003: execute, validate and export SQL against a registered connection."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from sqlgate.api.deps import AppServices, client_address, requires
from sqlgate.api.models import ERROR_RESPONSES, QueryBody, QueryOut, RequestModel, query_out
from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Scope
from sqlgate.errors import ValidationError
from sqlgate.results.formats import get_format
from sqlgate.results.jsonable import dumps
from sqlgate.services.query import QueryRequest
from sqlgate.settings import Settings

router = APIRouter(prefix="/api/v1/query", tags=["query"], responses=ERROR_RESPONSES)

Executor = Annotated[Principal, Depends(requires(Scope.QUERY_EXECUTE, group="query"))]
Validator = Annotated[
    Principal, Depends(requires(Scope.QUERY_VALIDATE, Scope.QUERY_EXECUTE, group="query"))
]


def checked_request(body: QueryBody, settings: Settings, *, export: bool = False) -> QueryRequest:
    """Apply the documented maxima (from settings) to a request body."""
    max_rows = settings.export_row_limit if export else settings.row_limit_max
    if body.row_limit is not None and body.row_limit > max_rows:
        raise ValidationError(f"row_limit must be at most {max_rows}", field="row_limit")
    if body.timeout is not None and body.timeout > settings.timeout_max:
        raise ValidationError(f"timeout must be at most {settings.timeout_max}", field="timeout")
    return QueryRequest(body.query, body.params, body.row_limit, body.timeout)


@router.post("/{connection_id}", response_model=QueryOut, summary="Execute SQL")
def execute(
    connection_id: str,
    body: QueryBody,
    principal: Executor,
    services: AppServices,
    request: Request,
) -> Response:
    """Run one read-only statement and return up to `row_limit` rows."""
    ran = services.queries.execute(
        principal,
        connection_id,
        checked_request(body, services.settings),
        client=client_address(request),
    )
    return Response(dumps(query_out(ran.result)), media_type="application/json")


class ValidateBody(RequestModel):
    query: str = Field(description="The SQL to check.")


class ValidateOut(BaseModel):
    is_valid: bool = Field(description="Whether the SQL may run.")
    query_type: str | None = Field(default=None, description="Statement kind, e.g. `select`.")
    tables: list[str] | None = Field(default=None, description="Tables the SQL reads.")
    columns: list[str] | None = Field(default=None, description="Columns the SQL references.")
    warning: str | None = Field(default=None, description="Advice that does not block running.")
    error: str | None = Field(default=None, description="Why the SQL may not run.")
    position: int | None = Field(default=None, description="0-based offset of the problem.")
    line: int | None = Field(default=None, description="1-based line of the problem.")
    column: int | None = Field(default=None, description="1-based column of the problem.")


@router.post("/{connection_id}/validate", response_model=ValidateOut, summary="Validate SQL")
async def validate(
    connection_id: str, body: ValidateBody, principal: Validator, services: AppServices
) -> dict[str, Any]:
    """Parse the SQL and report whether it is safe to run, without running it. Always 200 for
    any SQL; the body says whether it passed."""
    a = await run_in_threadpool(services.queries.validate, principal, connection_id, body.query)
    if a.is_valid:
        return {
            "is_valid": True,
            "query_type": a.query_type,
            "tables": a.tables,
            "columns": a.columns,
            "warning": a.warning,
        }
    return {
        "is_valid": False,
        "error": a.error,
        "query_type": a.query_type,
        "position": a.position,
        "line": a.line,
        "column": a.column,
    }


class ExportFormat(StrEnum):
    csv = "csv"
    json = "json"
    excel = "excel"
    parquet = "parquet"
    ndjson = "ndjson"


@router.post(
    "/{connection_id}/export",
    summary="Export a result as a file",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The file, streamed.",
            "content": {
                "text/csv": {},
                "application/json": {},
                "application/x-ndjson": {},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
                "application/vnd.apache.parquet": {},
            },
        }
    },
)
async def export(
    connection_id: str,
    body: QueryBody,
    principal: Executor,
    services: AppServices,
    request: Request,
    format: Annotated[ExportFormat, Query(description="File format.")] = ExportFormat.csv,
) -> StreamingResponse:
    """Same body as execute; the whole result (up to the export row limit, not `row_limit`'s
    10000 maximum) streams back as a file. Spreadsheet formula prefixes are neutralised in CSV
    and Excel."""
    output = get_format(format.value)
    stream = await run_in_threadpool(
        partial(services.queries.export, client=client_address(request)),
        principal,
        connection_id,
        checked_request(body, services.settings, export=True),
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    filename = f"{connection_id}-{stamp}.{output.extension}"
    safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in filename)
    return StreamingResponse(
        output.write(stream.schema, stream),
        media_type=output.media_type,
        headers={"Content-Disposition": f'attachment; filename="{safe_name}"'},
        background=None,
    )
