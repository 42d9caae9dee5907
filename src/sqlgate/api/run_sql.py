"""Seed 001: `POST /api/v1/run_sql`."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from sqlgate.api.deps import AppServices, client_address, requires
from sqlgate.api.models import QUERY_ERRORS, ColumnOut, RequestModel, raises, thread_id_field
from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Scope
from sqlgate.container import Services
from sqlgate.results.jsonable import dumps, rows_as_objects
from sqlgate.services.limits import RUN_SQL
from sqlgate.services.query import QueryRequest

router = APIRouter(prefix="/api/v1", tags=["sql"], responses=raises(*QUERY_ERRORS))

Executor = Annotated[Principal, Depends(requires(Scope.QUERY_EXECUTE, group="query"))]


class RunSqlBody(RequestModel):
    sql: str = Field(min_length=1, description="SQL query to execute: one read-only statement.")
    threadId: str | None = thread_id_field()
    limit: int = Field(default=1000, ge=1, description="Maximum rows to return. Default: 1000")
    connection_id: str | None = Field(
        default=None,
        description="sqlgate extension: the connection (id or name) to run on. Default: the "
        "organization's default connection (the first one registered, unless changed).",
    )


class RunSqlColumn(ColumnOut):
    properties: dict[str, Any] = Field(description="Additional column properties.")


class RunSqlOut(BaseModel):
    id: str = Field(description="Unique response identifier.")
    records: list[dict[str, Any]] = Field(description="Array of row objects.")
    columns: list[RunSqlColumn] = Field(description="Column metadata.")
    threadId: str = Field(description="Thread ID (existing or newly created).")
    totalRows: int = Field(
        description="Total rows returned: the number of `records` in this response (the "
        "query's full row count is not computed). When `truncated` is true the query had more "
        "rows than `limit` and `totalRows` equals `limit`."
    )
    truncated: bool = Field(
        description="sqlgate extension: true when the query had more rows than `limit` and "
        "`records` holds only the first `limit` of them (raise `limit`, up to 10000, or export "
        "the result for more)."
    )


@router.post("/run_sql", response_model=RunSqlOut, summary="Run SQL")
async def run_sql(
    body: RunSqlBody, principal: Executor, services: AppServices, request: Request
) -> Response:
    """Execute a SQL query against a connected data source and return structured results."""
    query = QueryRequest(body.sql, None, body.limit, None)
    client = client_address(request)
    return Response(
        await run_in_threadpool(_run, services, principal, body, query, client),
        media_type="application/json",
    )


def _run(
    services: Services,
    principal: Principal,
    body: RunSqlBody,
    query: QueryRequest,
    client: str | None,
) -> bytes:
    ran = services.queries.execute(
        principal, body.connection_id, query, surface=RUN_SQL, action="sql.run", client=client
    )
    thread = services.threads.open(principal, ran.connection.id, body.threadId)
    result = ran.result
    payload = {
        "id": str(uuid.uuid4()),
        "records": rows_as_objects(result.table),
        "columns": [
            {"name": c.name, "type": c.type, "notNull": c.not_null, "properties": {}}
            for c in result.columns
        ],
        "threadId": thread.key,
        "totalRows": result.row_count,
        "truncated": result.truncated,
    }
    return dumps(payload)
