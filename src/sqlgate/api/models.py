"""Request and response shapes shared by several routers (field names follow the seed pages)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from sqlgate.engines.base import QueryResult
from sqlgate.errors import (
    ERROR_TABLE,
    Conflict,
    ConnectionFailed,
    Gone,
    NotFound,
    QueryError,
    QueryTimeout,
    SqlgateError,
    SqlNotAllowed,
    SqlSyntaxError,
    error_kinds,
)
from sqlgate.jobs.model import JobView
from sqlgate.jobs.service import ChunkLink, JobService
from sqlgate.results.formats import ASYNC_FORMATS
from sqlgate.results.jsonable import dumps, json_rows
from sqlgate.services.threads import MAX_THREAD_ID
from sqlgate.vocabulary.columns import Column


class RequestModel(BaseModel):
    """Strict: wrong types and unknown fields are a 422, not silently coerced or ignored."""

    model_config = ConfigDict(strict=True, extra="forbid")


#: An attribute value of an organization or a member: its JSON type is kept.
AttributeIn = bool | int | float | str
ATTRIBUTES_TEXT = (
    "Typed values access policies may reference: string, integer, number or boolean, kept "
    'as sent (`42` is not `"42"`). Names: a letter or `_`, then letters, digits or `_` '
    "(at most 64). Merged into the current ones; `null` removes one."
)


#: A page cursor (``next_cursor``): URL-safe base64, as the pages encode it.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"

#: The ``cursor`` query parameter of every paged list.
Cursor = Annotated[
    str | None,
    Query(
        max_length=120, pattern=CURSOR_PATTERN, description="`next_cursor` of the previous page."
    ),
]


def thread_id_field() -> Any:
    """The ``threadId`` body field of seed 001's endpoints (one rule for both)."""
    return Field(
        default=None,
        min_length=1,
        max_length=MAX_THREAD_ID,
        description="Thread ID for conversation context: the organization's thread of that id, "
        "started under it if there is none (another organization's thread of the same id is a "
        "different thread). Omitted: a new thread.",
    )


class ColumnOut(BaseModel):
    name: str = Field(description="Column name as the database reports it.")
    type: str = Field(description="Data type, e.g. VARCHAR, INTEGER, DECIMAL(10,2), TIMESTAMP.")
    notNull: bool = Field(description="Whether the column is known to disallow nulls.")


def column_out(column: Column) -> dict[str, Any]:
    return {"name": column.name, "type": column.type, "notNull": column.not_null}


class QueryBody(RequestModel):
    query: str = Field(min_length=1, description="The SQL to run: one read-only statement.")
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
        "rows": json_rows(result.table),
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


def raises(*errors: type[SqlgateError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for the errors a route (or a router's routes) can answer: one entry per
    status, the one error schema, the codes as ``x-error-codes`` and their meanings from the
    error table. :func:`sqlgate.api.declared.declare` adds those every route of its kind can
    answer (authentication, body, parameters)."""
    responses: dict[int | str, dict[str, Any]] = {}
    for kind in error_kinds(*errors):
        entry = responses.setdefault(
            kind.status, {"model": ErrorOut, "description": "", "x-error-codes": []}
        )
        entry["x-error-codes"].append(kind.code)
    for status, entry in responses.items():
        entry["description"] = describe(int(status), entry["x-error-codes"])
    return responses


#: What running SQL on a connection can answer, on every surface that does.
QUERY_ERRORS = (QueryError, SqlSyntaxError, SqlNotAllowed, ConnectionFailed, QueryTimeout, NotFound)


def describe(status: int, codes: list[str]) -> str:
    """One paragraph per code: the code and when it is sent with ``status`` (the error table)."""
    meaning = {k.code: k.meaning for k in ERROR_TABLE if k.status == status}
    return "\n\n".join(f"`{code}`: {meaning[code]}" for code in dict.fromkeys(codes))


# --- async jobs (`/v1/jobs`, and the routes that answer with a job) ----------------------------

IDEMPOTENCY_HEADER = Header(
    alias="Idempotency-Key",
    description="A client-chosen id for this submission (1-200 characters). A retry with the "
    "same key returns the job the first request made instead of running the query again; "
    "the same key with a different request is a 409. Same as the body's `request_id`.",
)

if TYPE_CHECKING:
    AsyncFormat = str
else:
    #: The formats async jobs may write (declared in results/formats.py), listed inline.
    AsyncFormat = Literal[ASYNC_FORMATS]


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
    **raises(Conflict, Gone),
}


def job_out(jobs: JobService, job: JobView, request: Request) -> dict[str, Any]:
    """A job as `JobOut`, with fresh signed links to its result once it succeeded."""
    base = str(request.base_url).rstrip("/")
    error = None
    if job.error_code:
        error = {"code": job.error_code, "message": job.error_message or ""}
    result = None
    if job.manifest is not None and job.result_expires_at is not None:
        try:
            links = jobs.links(job)
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
                "chunks": [chunk_out(link, base) for link in links],
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


def chunk_out(link: ChunkLink, base: str) -> dict[str, Any]:
    return {
        "index": link.index,
        "file": link.file,
        "row_count": link.row_count,
        "byte_count": link.byte_count,
        "url": base + link.url,
        "url_expires_at": link.expires_at,
    }


def job_response(
    jobs: JobService, job: JobView, request: Request, *, replayed: bool = False
) -> Response:
    """The 202 answer with a job (``Idempotent-Replayed`` when a retry found the first one)."""
    headers = {"Location": f"/v1/jobs/{job.id}", "Cache-Control": "no-store"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        dumps(job_out(jobs, job, request)),
        status_code=202,
        media_type="application/json",
        headers=headers,
    )
