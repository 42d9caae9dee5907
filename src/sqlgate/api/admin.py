"""Seeds 000 and 004: `POST /v1/{org}/admin/sql_query`."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from sqlgate.api.deps import AppServices, client_address, requires
from sqlgate.api.models import ERROR_RESPONSES, RequestModel
from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Scope
from sqlgate.errors import NotFound, ValidationError
from sqlgate.results.jsonable import dumps, rows_as_arrays
from sqlgate.services.query import QueryRequest

router = APIRouter(prefix="/v1/{org}/admin", tags=["admin"], responses=ERROR_RESPONSES)

# Seed 000: at most 1000 rows and 30 seconds, 6 requests per minute per user.
SYNC_ROW_LIMIT = 1000
SYNC_TIMEOUT = 30

Admin = Annotated[Principal, Depends(requires(Scope.ADMIN, group="admin_sql", per="member"))]
OrgPath = Annotated[str, Path(description="Organization id or slug; must be the key's.")]


class SqlQueryBody(RequestModel):
    sql_query: str = Field(min_length=1, description="The SQL query to execute (read-only).")
    async_query: bool = Field(
        description="If true, run asynchronously and return a signed URL to download results "
        "(not available yet: answers 422). If false, at most 1000 rows, 30 s timeout."
    )
    connection_id: str | None = Field(
        default=None,
        description="sqlgate extension: connection id or name; default: the org's default.",
    )


class SqlQueryColumn(BaseModel):
    name: str = Field(description="Column name.")
    type: str = Field(description="Column data type.")


class SqlQueryOut(BaseModel):
    execution_time_ms: float = Field(description="Time spent running the query, in ms.")
    result: list[list[Any]] = Field(description="Rows, each an array in column order.")
    truncated: bool = Field(description="True when more than 1000 rows were available.")
    columns: list[SqlQueryColumn] = Field(description="Result columns.")


@router.post("/sql_query", response_model=SqlQueryOut, summary="Submit a SQL query")
async def sql_query(
    org: OrgPath, body: SqlQueryBody, principal: Admin, services: AppServices, request: Request
) -> Response:
    """Execute a read-only SQL query for the organization. Requires an admin or owner key."""
    if not principal.owns_org(org):
        raise NotFound(f"Organization {org!r} not found")
    if body.async_query:
        raise ValidationError(
            "async_query: true is not supported yet; send async_query: false (at most 1000 "
            "rows, 30 s)",
            field="async_query",
        )
    ran = await run_in_threadpool(
        partial(services.queries.execute, action="admin.sql_query", client=client_address(request)),
        principal,
        body.connection_id,
        QueryRequest(body.sql_query, None, SYNC_ROW_LIMIT, SYNC_TIMEOUT),
    )
    result = ran.result
    payload = {
        "execution_time_ms": round(result.execution_time_ms, 3),
        "result": rows_as_arrays(result.table),
        "truncated": result.truncated,
        "columns": [{"name": c.name, "type": c.type} for c in result.columns],
    }
    return Response(dumps(payload), media_type="application/json")
