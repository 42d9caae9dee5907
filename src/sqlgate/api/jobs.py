"""Async queries: submit, poll, cancel, fresh links (`/v1/jobs`), and signed downloads
(`/v1/results/...`, no API key: the signature is the credential). See docs/async.md."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from sqlgate.api.deps import AppServices, client_address, requires
from sqlgate.api.models import ERROR_RESPONSES, ErrorOut, RequestModel
from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Scope
from sqlgate.errors import Gone, ValidationError
from sqlgate.jobs.model import JobView
from sqlgate.jobs.service import JobSpec, Submitted
from sqlgate.results.jsonable import dumps
from sqlgate.services.container import Services

router = APIRouter(prefix="/v1/jobs", tags=["async queries"], responses=ERROR_RESPONSES)
#: Public: the signed link is the credential (listed as ``x-public`` in the OpenAPI document).
downloads = APIRouter(prefix="/v1/results", tags=["async queries"])

Executor = Annotated[Principal, Depends(requires(Scope.QUERY_EXECUTE, group="query"))]
JobId = Annotated[str, Path(description="The job id (`job_...`).")]
MAX_WAIT_SECONDS = 50

IDEMPOTENCY_HEADER = Header(
    alias="Idempotency-Key",
    description="A client-chosen id for this submission (1-200 characters). A retry with the "
    "same key returns the job the first request made instead of running the query again; "
    "the same key with a different request is a 409. Same as the body's `request_id`.",
)


AsyncFormat = Literal["parquet", "csv", "json", "ndjson"]


# --- response shapes ---------------------------------------------------------------------------


class JobErrorOut(BaseModel):
    code: str = Field(
        description="Error code, as in the error table (e.g. `query_error`, "
        "`timeout`, `canceled`, `job_interrupted`)."
    )
    message: str = Field(description="What went wrong.")


class ResultColumnOut(BaseModel):
    name: str = Field(description="Column name.")
    type: str = Field(description="Column data type as the engine reports it.")


class ChunkOut(BaseModel):
    index: int = Field(description="0-based position of this file in the result.")
    file: str = Field(description="File name, e.g. `part-00000.parquet`.")
    row_count: int = Field(description="Rows in this file.")
    byte_count: int = Field(description="Size of this file in bytes.")
    url: str = Field(
        description="Signed download URL: works without an API key until "
        "`url_expires_at`, for this file only. Do not log or share it."
    )
    url_expires_at: datetime = Field(
        description="When `url` stops working (request a fresh "
        "one with `POST /v1/jobs/{id}/links`)."
    )


class ResultOut(BaseModel):
    format: str = Field(description="`parquet`, `csv`, `json` (an array per file) or `ndjson`.")
    media_type: str = Field(description="Content type of every file.")
    row_count: int = Field(description="Rows in all files together.")
    byte_count: int = Field(description="Bytes in all files together.")
    truncated: bool = Field(
        description="True when the query had more rows than the result holds (see `truncated_by`)."
    )
    truncated_by: str | None = Field(description="`row_limit` or `byte_limit` when truncated.")
    columns: list[ResultColumnOut] = Field(description="Result columns, in order.")
    expires_at: datetime = Field(
        description="When the files are deleted (retention); links then answer 410."
    )
    chunks: list[ChunkOut] = Field(
        description="The files, in order; concatenated they are the "
        "result (each file is complete on its own)."
    )


class JobOut(BaseModel):
    job_id: str = Field(description="The job id.")
    state: str = Field(description="`queued`, `running`, `succeeded`, `failed` or `canceled`.")
    connection_id: str = Field(description="The connection the query runs on.")
    format: str = Field(description="Result file format.")
    row_count: int = Field(description="Rows written so far (progress), or in the result.")
    byte_count: int = Field(description="Bytes written so far, or in the result.")
    truncated: bool = Field(description="True when the result stopped at a limit.")
    cancel_requested: bool = Field(description="Whether a cancel was asked for.")
    error: JobErrorOut | None = Field(description="Why the job failed or was canceled.")
    created_at: datetime = Field(description="When it was submitted.")
    started_at: datetime | None = Field(description="When a worker started it.")
    finished_at: datetime | None = Field(description="When it finished.")
    status_url: str = Field(
        description="`GET` it to poll this job (`?wait=` seconds to long-poll)."
    )
    cancel_url: str = Field(description="`POST` to cancel.")
    links_url: str = Field(description="`POST` for fresh signed links once succeeded.")
    result: ResultOut | None = Field(
        description="Once succeeded (and while retained): the files with signed URLs."
    )


class LinksOut(BaseModel):
    job_id: str = Field(description="The job id.")
    chunks: list[ChunkOut] = Field(description="Fresh signed URLs, one per file.")


JOB_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {
        "model": JobOut,
        "description": "The job: not finished yet, or finished with its result's signed URLs.",
    },
    409: {
        "model": ErrorOut,
        "description": "`conflict`: idempotency key reused for another "
        "request, or no result (yet).",
    },
    410: {"model": ErrorOut, "description": "`gone`: the result is past its retention."},
}


# --- helpers shared with admin.py and query.py ------------------------------------------------


def job_out(services: Services, job: JobView, request: Request) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    error = None
    if job.error_code:
        error = {"code": job.error_code, "message": job.error_message or ""}
    result = None
    if job.manifest is not None and job.result_expires_at is not None:
        try:
            links = services.jobs.links(job)
        except Gone:
            links = None
        if links is not None:
            m = job.manifest
            result = {
                "format": m.format,
                "media_type": m.media_type,
                "row_count": m.row_count,
                "byte_count": m.byte_count,
                "truncated": m.truncated,
                "truncated_by": m.truncated_by,
                "columns": m.columns,
                "expires_at": job.result_expires_at,
                "chunks": [_chunk_out(link, base) for link in links],
            }
    path = f"{base}/v1/jobs/{job.id}"
    return {
        "job_id": job.id,
        "state": job.state.value,
        "connection_id": job.connection_id,
        "format": job.format,
        "row_count": job.row_count,
        "byte_count": job.byte_count,
        "truncated": job.truncated,
        "cancel_requested": job.cancel_requested,
        "error": error,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "status_url": path,
        "cancel_url": f"{path}/cancel",
        "links_url": f"{path}/links",
        "result": result,
    }


def _chunk_out(link: Any, base: str) -> dict[str, Any]:
    return {
        "index": link.index,
        "file": link.file,
        "row_count": link.row_count,
        "byte_count": link.byte_count,
        "url": base + link.url,
        "url_expires_at": link.expires_at,
    }


def job_response(
    services: Services, job: JobView, request: Request, *, replayed: bool = False
) -> Response:
    headers = {"Location": f"/v1/jobs/{job.id}", "Cache-Control": "no-store"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        dumps(job_out(services, job, request)),
        status_code=202,
        media_type="application/json",
        headers=headers,
    )


def idempotency_key(header: str | None, body: str | None) -> str | None:
    if header is not None and body is not None and header != body:
        raise ValidationError(
            "The Idempotency-Key header and the body's request_id differ; send one",
            field="request_id",
        )
    return header if header is not None else body


async def wait_for(
    services: Services, principal: Principal, job: JobView, seconds: float
) -> JobView:
    """Poll the job until it finishes or ``seconds`` pass (the runner may be another process,
    so the store is the one place to look)."""
    until = time.monotonic() + seconds
    pause = 0.02
    while not job.finished:
        left = until - time.monotonic()
        if left <= 0:
            break
        await asyncio.sleep(min(pause, left))
        pause = min(pause * 1.5, 0.1)
        job = await run_in_threadpool(services.jobs.get, principal, job.id)
    return job


async def submit(
    services: Services,
    principal: Principal,
    connection_ref: str | None,
    spec: JobSpec,
) -> Submitted:
    return await run_in_threadpool(services.jobs.submit, principal, connection_ref, spec)


# --- routes ------------------------------------------------------------------------------------


class JobBody(RequestModel):
    query: str = Field(description="The SQL to run: one read-only statement.")
    connection_id: str | None = Field(
        default=None, description="Connection id or name; default: the org's default."
    )
    params: dict[str, Any] | None = Field(
        default=None, description="Values for named parameters, as in `POST /api/v1/query`."
    )
    format: AsyncFormat = Field(default="parquet", description="Result file format.")
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
    submitted = await submit(services, principal, body.connection_id, spec)
    job = submitted.job
    if body.wait_timeout:
        job = await wait_for(services, principal, job, body.wait_timeout)
    return job_response(services, job, request, replayed=not submitted.created)


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
        job = await wait_for(services, principal, job, wait)
    payload = await run_in_threadpool(job_out, services, job, request)
    return Response(dumps(payload), media_type="application/json")


@router.post("/{job_id}/cancel", response_model=JobOut, summary="Cancel an async query")
async def cancel_job(
    job_id: JobId, principal: Executor, services: AppServices, request: Request
) -> Response:
    """Cancel: a queued job at once; a running one is stopped on the engine within about a
    second (poll until `state` is `canceled`). Finished jobs are left as they are."""
    job = await run_in_threadpool(services.jobs.cancel, principal, job_id)
    return Response(dumps(job_out(services, job, request)), media_type="application/json")


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
    payload = {"job_id": job.id, "chunks": [_chunk_out(link, base) for link in links]}
    return Response(dumps(payload), media_type="application/json")


@downloads.get(
    "/{job_id}/{file}",
    summary="Download a result file (signed URL)",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The file.",
            "content": {
                "application/vnd.apache.parquet": {},
                "text/csv": {},
                "application/json": {},
                "application/x-ndjson": {},
            },
        },
        403: {"model": ErrorOut, "description": "`authorization_error`: tampered or expired."},
        410: {"model": ErrorOut, "description": "`gone`: the result is past its retention."},
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
