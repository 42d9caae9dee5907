"""Async queries: submit, poll, cancel, fresh links (`/v1/jobs`), and signed downloads
(`/v1/results/...`, no API key: the signature is the credential). See docs/async.md."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from sqlgate.api.deps import AppServices, client_address, requires
from sqlgate.api.models import (
    IDEMPOTENCY_HEADER,
    JOB_RESPONSES,
    QUERY_ERRORS,
    AsyncFormat,
    JobOut,
    LinksOut,
    RequestModel,
    chunk_out,
    job_out,
    job_response,
    raises,
)
from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Scope
from sqlgate.errors import AuthorizationError, Conflict, Gone
from sqlgate.jobs.service import MAX_WAIT_SECONDS, JobSpec, idempotency_key
from sqlgate.results.formats import ASYNC_DEFAULT, ASYNC_FORMATS, get_format
from sqlgate.results.jsonable import dumps

router = APIRouter(
    prefix="/v1/jobs", tags=["async queries"], responses=raises(*QUERY_ERRORS, Conflict, Gone)
)
#: Public: the signed link is the credential (listed as ``x-public`` in the OpenAPI document).
downloads = APIRouter(prefix="/v1/results", tags=["async queries"])

Executor = Annotated[Principal, Depends(requires(Scope.QUERY_EXECUTE, group="query"))]
JobId = Annotated[str, Path(description="The job id (`job_...`).")]


# --- routes ------------------------------------------------------------------------------------


class JobBody(RequestModel):
    query: str = Field(min_length=1, description="The SQL to run: one read-only statement.")
    connection_id: str | None = Field(
        default=None, description="Connection id or name; default: the org's default."
    )
    params: dict[str, Any] | None = Field(
        default=None, description="Values for named parameters, as in `POST /api/v1/query`."
    )
    format: AsyncFormat = Field(default=ASYNC_DEFAULT, description="Result file format.")
    row_limit: int | None = Field(
        default=None,
        ge=1,
        description="Most rows the result keeps (default and maximum: "
        "`SQLGATE_ASYNC_ROW_LIMIT`, 100,000,000); more makes it `truncated`.",
    )
    timeout: float | None = Field(
        default=None,
        gt=0,
        description="Seconds before the query is stopped on the engine (default 3600, max "
        "`SQLGATE_ASYNC_TIMEOUT_MAX`, 21600).",
    )
    request_id: str | None = Field(
        default=None,
        description="Idempotency key (same as the `Idempotency-Key` header): a retry with the "
        "same value returns the first job instead of running the query again.",
    )
    wait_timeout: float | None = Field(
        default=None,
        ge=0,
        le=MAX_WAIT_SECONDS,
        description="Seconds to wait for the job to finish before answering (max 50).",
    )


@router.post(
    "",
    status_code=202,
    response_model=JobOut,
    responses=JOB_RESPONSES,
    summary="Submit an async query",
)
async def create_job(
    body: JobBody,
    principal: Executor,
    services: AppServices,
    request: Request,
    idempotency_header: Annotated[str | None, IDEMPOTENCY_HEADER] = None,
) -> Response:
    """Queue a query whose whole result (far beyond the synchronous limits) is written to
    files; poll the job, then download with its signed URLs."""
    spec = JobSpec(
        sql=body.query,
        params=body.params,
        format=body.format,
        row_limit=body.row_limit,
        timeout=body.timeout,
        idempotency_key=idempotency_key(idempotency_header, body.request_id),
        client=client_address(request),
    )
    submitted = await run_in_threadpool(services.jobs.submit, principal, body.connection_id, spec)
    job = submitted.job
    if body.wait_timeout:
        job = await services.jobs.wait(principal, job, body.wait_timeout)
    return job_response(services.jobs, job, request, replayed=not submitted.created)


@router.get("/{job_id}", response_model=JobOut, summary="Get an async query")
async def get_job(
    job_id: JobId,
    principal: Executor,
    services: AppServices,
    request: Request,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=MAX_WAIT_SECONDS,
            description="Long-poll: seconds to wait for the job "
            "to finish before answering (max 50).",
        ),
    ] = 0,
) -> Response:
    """State, progress (rows and bytes so far), error, and once succeeded the result's files
    with fresh signed URLs. Jobs of other members are visible to `admin` keys only; other
    organizations' jobs are a 404."""
    job = await run_in_threadpool(services.jobs.get, principal, job_id)
    if wait:
        job = await services.jobs.wait(principal, job, wait)
    payload = await run_in_threadpool(job_out, services.jobs, job, request)
    return Response(dumps(payload), media_type="application/json")


@router.post("/{job_id}/cancel", response_model=JobOut, summary="Cancel an async query")
async def cancel_job(
    job_id: JobId, principal: Executor, services: AppServices, request: Request
) -> Response:
    """Cancel: a queued job at once; a running one is stopped on the engine within about a
    second (poll until `state` is `canceled`). Finished jobs are left as they are."""
    job = await run_in_threadpool(services.jobs.cancel, principal, job_id)
    return Response(dumps(job_out(services.jobs, job, request)), media_type="application/json")


class LinksBody(RequestModel):
    expires_in: int | None = Field(
        default=None,
        ge=1,
        le=7 * 24 * 3600,
        description="Seconds the links work (default `SQLGATE_ASYNC_LINK_SECONDS`, 900); never "
        "past the result's retention.",
    )


@router.post(
    "/{job_id}/links",
    response_model=LinksOut,
    responses={k: v for k, v in JOB_RESPONSES.items() if k != 202},
    summary="Fresh signed links to a result",
)
async def job_links(
    job_id: JobId,
    principal: Executor,
    services: AppServices,
    request: Request,
    body: LinksBody | None = None,
) -> Response:
    """New signed URLs for every file of a succeeded job's result (409 before it succeeded,
    410 past retention)."""
    job = await run_in_threadpool(services.jobs.get, principal, job_id)
    seconds = body.expires_in if body else None
    links = await run_in_threadpool(partial(services.jobs.links, seconds=seconds), job)
    base = str(request.base_url).rstrip("/")
    payload = {"job_id": job.id, "chunks": [chunk_out(link, base) for link in links]}
    return Response(dumps(payload), media_type="application/json")


@downloads.get(
    "/{job_id}/{file}",
    summary="Download a result file (signed URL)",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The file.",
            "content": {get_format(name).content_type: {} for name in ASYNC_FORMATS},
        },
        **raises(AuthorizationError, Gone),
    },
)
async def download(
    job_id: JobId,
    file: Annotated[str, Path(description="File name from the job's `result.chunks`.")],
    services: AppServices,
    expires: Annotated[
        str | None, Query(description="Unix time the link expires (part of the signature).")
    ] = None,
    signature: Annotated[str | None, Query(description="The link's HMAC signature.")] = None,
) -> FileResponse:
    """No API key: the signature, bound to this job, this file and the expiry, is the
    credential. Expired or altered links are a 403; results past retention a 410."""
    expiry = int(expires) if expires is not None and expires.isdigit() else None
    found = await run_in_threadpool(services.jobs.download, job_id, file, expiry, signature)
    return FileResponse(
        found.path,
        media_type=found.media_type,
        filename=found.filename,
        headers={"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"},
    )
