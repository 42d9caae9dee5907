"""Seed 003: execute, validate and export SQL against a registered connection."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from sqlgate.api.deps import AppServices, client_address, requires
from sqlgate.api.errors import ExportAborted
from sqlgate.api.models import (
    IDEMPOTENCY_HEADER,
    JOB_RESPONSES,
    QUERY_ERRORS,
    QueryBody,
    QueryOut,
    RequestModel,
    job_response,
    query_out,
    raises,
)
from sqlgate.api.streaming import AheadStreamingResponse
from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Scope
from sqlgate.container import Services
from sqlgate.errors import SqlgateError
from sqlgate.jobs.model import JobState
from sqlgate.jobs.service import MAX_WAIT_SECONDS, JobSpec, idempotency_key, job_error
from sqlgate.results.endings import prefetch
from sqlgate.results.formats import EXPORT_DEFAULT, FORMATS, get_format
from sqlgate.results.jsonable import dumps, json_rows
from sqlgate.services.limits import EXPORT
from sqlgate.services.query import QueryRequest

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/query", tags=["query"], responses=raises(*QUERY_ERRORS))

#: What execute needs of a key (api/fastpath.py applies the same).
EXECUTE_SCOPES = (Scope.QUERY_EXECUTE,)
EXECUTE_GROUP = "query"
Executor = Annotated[Principal, Depends(requires(*EXECUTE_SCOPES, group=EXECUTE_GROUP))]
Validator = Annotated[
    Principal, Depends(requires(Scope.QUERY_VALIDATE, Scope.QUERY_EXECUTE, group="query"))
]


def query_request(body: QueryBody) -> QueryRequest:
    """The body as the query service takes it (which applies the surface's limits)."""
    return QueryRequest(body.query, body.params, body.row_limit, body.timeout)


class ExecuteBody(QueryBody):
    wait_timeout: float | None = Field(
        default=None,
        ge=0,
        le=MAX_WAIT_SECONDS,
        description="sqlgate extension, hybrid wait (max 50 s): run the query as an async job "
        "(async row and time limits) and wait this long. Finished in time with at most 10000 "
        "rows: the usual 200 answer. Otherwise a 202 with the job (`job_id`, `status_url`; "
        "see docs/async.md).",
    )
    request_id: str | None = Field(
        default=None,
        description="With `wait_timeout`: idempotency key (same as the `Idempotency-Key` "
        "header); a retry returns the first job instead of running the query again.",
    )


@router.post(
    "/{connection_id}",
    response_model=QueryOut,
    responses=JOB_RESPONSES,
    summary="Execute SQL",
)
async def execute(
    connection_id: str,
    body: ExecuteBody,
    principal: Executor,
    services: AppServices,
    request: Request,
    idempotency_header: Annotated[str | None, IDEMPOTENCY_HEADER] = None,
) -> Response:
    """Run one read-only statement and return up to `row_limit` rows; with `wait_timeout`,
    as an async job answered inline when it finishes in time."""
    if body.wait_timeout is not None:
        return await _hybrid(connection_id, body, principal, services, request, idempotency_header)
    return await run_in_threadpool(_execute, connection_id, body, principal, services, request)


def _execute(
    connection_id: str,
    body: QueryBody,
    principal: Principal,
    services: AppServices,
    request: Request,
) -> Response:
    return execute_response(services, principal, connection_id, body, client_address(request))


def execute_response(
    services: Services,
    principal: Principal,
    connection_id: str,
    body: QueryBody,
    client: str | None,
) -> Response:
    """Run the query of an execute request and render its JSON answer (also called by the
    route's fast path, api/fastpath.py)."""
    ran = services.queries.execute(principal, connection_id, query_request(body), client=client)
    return Response(dumps(query_out(ran.result)), media_type="application/json")


async def _hybrid(
    connection_id: str,
    body: ExecuteBody,
    principal: Principal,
    services: AppServices,
    request: Request,
    idempotency_header: str | None,
) -> Response:
    spec = JobSpec(
        sql=body.query,
        params=body.params,
        row_limit=body.row_limit,
        timeout=body.timeout,
        idempotency_key=idempotency_key(idempotency_header, body.request_id),
        client=client_address(request),
    )
    submitted = await run_in_threadpool(services.jobs.submit, principal, connection_id, spec)
    job = await services.jobs.wait(principal, submitted.job, body.wait_timeout or 0)
    if job.state is JobState.FAILED:
        raise job_error(job)
    table = await run_in_threadpool(services.jobs.inline_table, job)
    if table is None or job.manifest is None:
        return job_response(services.jobs, job, request, replayed=not submitted.created)
    elapsed = 0.0
    if job.started_at and job.finished_at:
        elapsed = (job.finished_at - job.started_at).total_seconds() * 1000
    payload = {
        "columns": [{**c, "notNull": False} for c in job.manifest.columns],
        "rows": json_rows(table),
        "row_count": table.num_rows,
        "truncated": job.truncated,
        "execution_time_ms": round(elapsed, 3),
    }
    return Response(dumps(payload), media_type="application/json")


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


if TYPE_CHECKING:
    ExportFormat = str
else:
    #: ``?format=`` of an export: every format declared in results/formats.py.
    ExportFormat = StrEnum("ExportFormat", {name: name for name in FORMATS})


#: Response headers of an export: the row limit it ran with, always; whether it was cut at
#: that limit, when known before the first byte (the whole body fit in the prefetch, or the
#: format is spooled whole: Excel).
ROW_LIMIT_HEADER = "X-Sqlgate-Row-Limit"
TRUNCATED_HEADER = "X-Sqlgate-Truncated"


def _aborting(body: Iterable[bytes | memoryview]) -> Iterator[bytes | memoryview]:
    """The body; if its query fails after the response started, ExportAborted ends it."""
    try:
        yield from body
    except SqlgateError as exc:
        log.warning("export stopped part-way, transfer aborted: %s: %s", exc.code, exc.message)
        raise ExportAborted(f"export stopped part-way: {exc.code}") from None


@router.post(
    "/{connection_id}/export",
    summary="Export a result as a file",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The file, streamed. A result cut at the row limit ends with a "
            "marker in ndjson, json and parquet; a query that fails part-way (a timeout) ends "
            "the transfer without its final chunk, so the client sees an error. See the README, "
            '"Cut and stopped results".',
            "content": {f.content_type: {} for f in FORMATS.values()},
            "headers": {
                ROW_LIMIT_HEADER: {
                    "description": "The row limit the export ran with.",
                    "schema": {"type": "integer"},
                },
                TRUNCATED_HEADER: {
                    "description": "`true` when the result was cut at the row limit, `false` "
                    "when it was not; sent only when known before the first byte (small "
                    "results, and Excel, which is spooled whole).",
                    "schema": {"type": "string", "enum": ["true", "false"]},
                },
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
    format: Annotated[ExportFormat, Query(description="File format.")] = ExportFormat(
        EXPORT_DEFAULT
    ),
) -> StreamingResponse:
    """Same body as execute; the whole result (up to the export row limit, not `row_limit`'s
    10000 maximum; Excel up to its sheet's 1,048,575 rows) streams back as a file. Spreadsheet
    formula prefixes are neutralised in CSV and Excel."""
    output = get_format(format)
    stream = await run_in_threadpool(
        partial(
            services.queries.export,
            surface=EXPORT,
            client=client_address(request),
            output=output,
        ),
        principal,
        connection_id,
        query_request(body),
    )
    ended: list[bool] = []
    stream.on_close(lambda: ended.append(True))
    file = await run_in_threadpool(prefetch, stream.body(), lambda: bool(ended))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    filename = f"{connection_id}-{stamp}.{output.extension}"
    safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in filename)
    headers = {
        "Content-Disposition": f'attachment; filename="{safe_name}"',
        ROW_LIMIT_HEADER: str(stream.row_limit),
    }
    if file.ended:
        headers[TRUNCATED_HEADER] = "true" if stream.truncated else "false"
    if stream.text:
        # The engine's own CSV text: its reader thread already reads ahead (PostgreSQL's COPY),
        # and pulling ahead of it as well measured slower, not faster.
        return StreamingResponse(
            _aborting(file), media_type=output.media_type, headers=headers, background=None
        )
    # The next chunk is written while this one is sent (see AheadStreamingResponse).
    return AheadStreamingResponse(_aborting(file), media_type=output.media_type, headers=headers)
