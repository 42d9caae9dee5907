"""Questions in plain language: `POST /api/v1/generate_sql` and the explanation stream (seed
001), and `/v1/queries` (seed 002)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from sqlgate.api.deps import AppServices, requires
from sqlgate.api.models import QUERY_ERRORS, Cursor, RequestModel, raises, thread_id_field
from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Scope
from sqlgate.library.saved_queries import SavedInfo
from sqlgate.nl.pipeline import GeneratedSqlFailed
from sqlgate.nl.providers import (
    ProviderError,
    ProviderHTTPError,
    ProviderResponseError,
    ProviderTimeout,
    ProviderUnavailable,
)
from sqlgate.nl.questions import MAX_QUESTION_CHARS, NonSqlQuestion
from sqlgate.results.jsonable import dumps, json_rows, rows_as_objects

#: A question also fails on the model's side: no usable answer, or SQL that kept failing.
NL_ERRORS = (
    NonSqlQuestion,
    GeneratedSqlFailed,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    ProviderHTTPError,
    ProviderResponseError,
)
router = APIRouter(tags=["questions"], responses=raises(*QUERY_ERRORS, *NL_ERRORS))

Asker = Annotated[Principal, Depends(requires(Scope.QUERY_EXECUTE, group="query"))]
Reader = Annotated[Principal, Depends(requires(Scope.QUERY_EXECUTE, Scope.QUERY_VALIDATE))]


class GenerateSqlBody(RequestModel):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, description="The question.")
    threadId: str | None = thread_id_field()
    language: str | None = Field(
        default=None,
        max_length=20,
        description="Language for explanations (e.g. en, zh-TW). The embedded engine answers "
        "in English.",
    )
    returnSqlDialect: bool = Field(
        default=False,
        description="If true, the SQL in the connection's native dialect; else semantic SQL "
        "(model names, metrics), which `run_sql` accepts.",
    )
    connection_id: str | None = Field(
        default=None,
        max_length=200,
        description="sqlgate extension: connection id or name; default: the org's default.",
    )


class GenerateSqlOut(BaseModel):
    id: str = Field(description="Unique response identifier.")
    sql: str = Field(description="Generated SQL query.")
    threadId: str = Field(description="Thread ID (existing or newly created).")


class NonSqlOut(BaseModel):
    id: str = Field(description="Unique response identifier.")
    code: Literal["NON_SQL_QUERY"] = Field(description="The question is not about the data.")
    error: str = Field(description="Why it could not be answered with SQL.")
    explanationQueryId: str = Field(
        description="Pass to `GET /api/v1/stream_explanation?queryId=` for an explanation."
    )


class AskBody(RequestModel):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, description="The question.")
    connection_id: str | None = Field(
        default=None,
        max_length=200,
        description="Connection id or name; default: the organization's default.",
    )
    format: Literal["table", "records"] = Field(
        default="table",
        description="`table`: `rows` as arrays in column order; `records`: rows as objects.",
    )


class AskResults(BaseModel):
    columns: list[str] = Field(description="Column names.")
    rows: list[Any] = Field(description="The rows (at most 1000).")
    row_count: int = Field(
        description="Rows returned in `rows` (not the query's full row count, which is not "
        "computed: see `truncated`)."
    )
    truncated: bool = Field(
        description="True when the query had more rows than the 1000 returned: `rows` holds "
        "the first 1000. Export the SQL for all of them."
    )


class AskData(BaseModel):
    query_id: str = Field(description="Saved query id (`q_...`).")
    sql: str = Field(description="The SQL that was run.")
    results: AskResults = Field(description="The result.")
    execution_time_ms: float = Field(description="Time spent running the query, in ms.")


class AskOut(BaseModel):
    data: AskData = Field(description="The answer.")


class SavedOut(BaseModel):
    query_id: str = Field(description="Saved query id (`q_...`).")
    question: str = Field(description="The question as asked.")
    sql: str | None = Field(description="The SQL it became; null when not about the data.")
    status: Literal["ok", "error", "non_sql"] = Field(
        description="`ok`, `error` (the SQL failed), or `non_sql`."
    )
    error_code: str | None = Field(description="The error's code, when it failed.")
    explanation: str | None = Field(description="How the question was understood.")
    connection_id: str = Field(description="The connection asked.")
    member_id: str = Field(description="Who asked.")
    columns: list[str] = Field(description="Result column names, when it ran.")
    row_count: int | None = Field(
        description="Rows returned when it ran (at most 1000; not the query's full row count)."
    )
    execution_time_ms: float | None = Field(description="Run time in ms, when it ran.")
    created_at: datetime = Field(description="When it was asked.")


class SavedEnvelope(BaseModel):
    data: SavedOut = Field(description="The saved query.")


class SavedList(BaseModel):
    data: list[SavedOut] = Field(description="Saved queries, newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: last.")


def _saved(info: SavedInfo) -> dict[str, Any]:
    return {
        "query_id": info.id,
        "question": info.question,
        "sql": info.sql,
        "status": info.status,
        "error_code": info.error_code,
        "explanation": info.explanation,
        "connection_id": info.connection_id,
        "member_id": info.member_id,
        "columns": info.columns,
        "row_count": info.row_count,
        "execution_time_ms": info.execution_time_ms,
        "created_at": info.created_at,
    }


@router.post(
    "/api/v1/generate_sql",
    response_model=GenerateSqlOut,
    summary="Generate SQL",
    responses={
        400: {
            "model": NonSqlOut,
            "description": "`NON_SQL_QUERY`: the question is not about the data (seed shape).",
            "x-error-codes": ["NON_SQL_QUERY"],
        }
    },
)
async def generate_sql(body: GenerateSqlBody, principal: Asker, services: AppServices) -> Response:
    """Convert a question into SQL over the connection's semantic model (the deployed one, or
    the draft derived from its schema). A question that is not about the data answers 400
    `NON_SQL_QUERY` with an `explanationQueryId`."""
    generate = partial(
        services.nl.generate,
        principal,
        body.question,
        thread_id=body.threadId,
        connection_ref=body.connection_id,
        native=body.returnSqlDialect,
        language=body.language,
    )
    try:
        made = await run_in_threadpool(generate)
    except NonSqlQuestion as exc:
        return JSONResponse(
            {
                "id": exc.response_id,
                "code": "NON_SQL_QUERY",
                "error": exc.message,
                "explanationQueryId": exc.explanation_id,
            },
            status_code=400,
        )
    return JSONResponse({"id": made.id, "sql": made.sql, "threadId": made.thread_id})


@router.get(
    "/api/v1/stream_explanation",
    summary="Stream an explanation",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events."}},
)
async def stream_explanation(
    queryId: Annotated[
        str, Query(min_length=1, max_length=40, description="The `explanationQueryId`.")
    ],
    principal: Asker,
    services: AppServices,
) -> StreamingResponse:
    """Server-sent events: `message` events whose data is `{"message": "<text>"}`, in order,
    then one `done` event. An unknown id (or another organization's) is a 404 before the
    stream starts."""
    pieces = await run_in_threadpool(services.nl.explanation, principal, queryId)
    return StreamingResponse(
        _events(pieces),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _events(pieces: Iterator[str]) -> Iterator[str]:
    for piece in pieces:
        yield f"event: message\ndata: {json.dumps({'message': piece})}\n\n"
    yield 'event: done\ndata: {"done": true}\n\n'


@router.post("/v1/queries", response_model=AskOut, summary="Run a query")
async def ask(body: AskBody, principal: Asker, services: AppServices) -> Response:
    """Ask a question: it is translated to SQL, run read-only (at most 1000 rows) and saved. A
    question that is not about the data is saved too and answers 400 `NON_SQL_QUERY` (with
    `query_id` and `explanation_query_id`); SQL that fails answers its error with `query_id`."""
    asked = await run_in_threadpool(
        services.questions.ask, principal, body.question, body.connection_id
    )
    table = asked.result.table
    rows = json_rows(table) if body.format == "table" else rows_as_objects(table)
    payload = {
        "data": {
            "query_id": asked.saved.id,
            "sql": asked.saved.sql,
            "results": {
                "columns": asked.saved.columns,
                "rows": rows,
                "row_count": asked.result.row_count,
                "truncated": asked.result.truncated,
            },
            "execution_time_ms": asked.saved.execution_time_ms,
        }
    }
    return Response(dumps(payload), media_type="application/json")


@router.get("/v1/queries", response_model=SavedList, summary="List saved queries")
def list_saved(
    principal: Reader,
    services: AppServices,
    limit: Annotated[int, Query(ge=1, le=100, description="Queries per page.")] = 20,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The organization's saved questions, newest first."""
    page = services.saved_queries.page(principal.org_id, limit=limit, cursor=cursor)
    return {"data": [_saved(i) for i in page.items], "next_cursor": page.next_cursor}


@router.get("/v1/queries/{query_id}", response_model=SavedEnvelope, summary="Get a query")
def get_saved(query_id: str, principal: Reader, services: AppServices) -> dict[str, Any]:
    """One saved question with its SQL and outcome."""
    return {"data": _saved(services.saved_queries.get(principal.org_id, query_id))}


@router.delete("/v1/queries/{query_id}", status_code=204, summary="Delete a query")
def delete_saved(query_id: str, principal: Asker, services: AppServices) -> Response:
    """Its author, or an admin, deletes a saved question."""
    services.questions.delete(principal, query_id)
    return Response(status_code=204)
