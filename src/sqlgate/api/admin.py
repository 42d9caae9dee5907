"""Seeds 000 and 004: `POST /v1/{org}/admin/sql_query`."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from sqlgate.api.deps import AppServices, client_address, requires
from sqlgate.api.models import (
    IDEMPOTENCY_HEADER,
    JOB_RESPONSES,
    QUERY_ERRORS,
    AsyncFormat,
    RequestModel,
    job_response,
    raises,
)
from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Scope
from sqlgate.errors import NotFound
from sqlgate.jobs.service import JobSpec, idempotency_key
from sqlgate.results.formats import ASYNC_DEFAULT
from sqlgate.results.jsonable import dumps
from sqlgate.services.limits import ADMIN
from sqlgate.services.query import QueryRequest

router = APIRouter(prefix="/v1/{org}/admin", tags=["admin"], responses=raises(*QUERY_ERRORS))

Admin = Annotated[Principal, Depends(requires(Scope.ADMIN, group="admin_sql", per="member"))]
OrgPath = Annotated[str, Path(description="Organization id or slug; must be the key's.")]


class SqlQueryBody(RequestModel):
    sql_query: str = Field(min_length=1, description="The SQL query to execute (read-only).")
    async_query: bool = Field(
        description="If true, the query runs as a job (no 1000-row or 30 s limit) and the "
        "answer is a 202 with the job: `job_id`, `state`, `status_url`; once it succeeded, "
        "`GET status_url` gives signed URLs to download the result (docs/async.md). If false, "
        "at most 1000 rows, 30 s timeout."
    )
    connection_id: str | None = Field(
        default=None,
        description="sqlgate extension: connection id or name; default: the org's default.",
    )
    format: AsyncFormat = Field(
        default=ASYNC_DEFAULT,
        description="sqlgate extension, with `async_query: true`: the result file format.",
    )
    request_id: str | None = Field(
        default=None,
        description="sqlgate extension, with `async_query: true`: idempotency key (same as the "
        "`Idempotency-Key` header); a retry returns the first job instead of running again.",
    )


class SqlQueryColumn(BaseModel):
    name: str = Field(description="Column name.")
    type: str = Field(description="Column data type.")


class SqlQueryOut(BaseModel):
    execution_time_ms: float = Field(description="Time spent running the query, in ms.")
    result: list[list[Any]] = Field(description="Rows, each an array in column order.")
    truncated: bool = Field(description="True when more than 1000 rows were available.")
    columns: list[SqlQueryColumn] = Field(description="Result columns.")


@router.post(
    "/sql_query",
    response_model=SqlQueryOut,
    responses=JOB_RESPONSES,
    summary="Submit a SQL query",
)
async def sql_query(
    org: OrgPath,
    body: SqlQueryBody,
    principal: Admin,
    services: AppServices,
    request: Request,
    idempotency_header: Annotated[str | None, IDEMPOTENCY_HEADER] = None,
) -> Response:
    """Execute a read-only SQL query for the organization. Requires an admin or owner key.
    With `async_query: true` the answer is a 202 with the job (see `GET /v1/jobs/{job_id}`)."""
    if not principal.owns_org(org):
        raise NotFound(f"Organization {org!r} not found")
    if body.async_query:
        spec = JobSpec(
            sql=body.sql_query,
            format=body.format,
            idempotency_key=idempotency_key(idempotency_header, body.request_id),
            action="admin.sql_query.async",
            client=client_address(request),
        )
        submitted = await run_in_threadpool(
            services.jobs.submit, principal, body.connection_id, spec
        )
        return job_response(services.jobs, submitted.job, request, replayed=not submitted.created)
    ran = await run_in_threadpool(
        partial(
            services.queries.execute,
            surface=ADMIN,
            action="admin.sql_query",
            client=client_address(request),
        ),
        principal,
        body.connection_id,
        QueryRequest(body.sql_query),
    )
    result = ran.result
    payload = {
        "execution_time_ms": round(result.execution_time_ms, 3),
        "result": result.json_rows(),
        "truncated": result.truncated,
        "columns": [{"name": c.name, "type": c.type} for c in result.columns],
    }
    return Response(dumps(payload), media_type="application/json")
