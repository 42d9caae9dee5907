"""One handler per failure kind, all rendering the one error body (see sqlgate.errors)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from sqlgate.errors import (
    ERROR_TABLE,
    MethodNotAllowed,
    NotFound,
    SqlgateError,
    UnsupportedMediaType,
    ValidationError,
)
from sqlgate.results.jsonable import dumps

log = logging.getLogger("sqlgate.api")


class ExportAborted(Exception):
    """A streamed response failed after it started (an export's query timed out part-way).
    Raising it out of the response closes the connection without the final chunk, so every
    HTTP client sees an incomplete transfer rather than a short file that looks whole. Whoever
    raises it logs why; the handler below does not log it again."""


def error_response(error: SqlgateError) -> Response:
    return Response(
        dumps(error.body()),
        status_code=error.status,
        media_type="application/json",
        headers=error.headers,
    )


def _line_column(document: str, position: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    before = document[:position]
    line = before.count("\n") + 1
    return line, position - (before.rfind("\n") + 1) + 1


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str | bytes):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null" if value is None else "not an object"


def request_error(request: Request, exc: RequestValidationError) -> SqlgateError:
    """The error a person can act on for a request FastAPI could not parse or validate: what is
    wrong and where (line and column in the JSON, the field, or the body as a whole)."""
    errors = list(exc.errors())
    for e in errors:
        if e.get("type") == "json_invalid":
            document = exc.body if isinstance(exc.body, str) else ""
            position = int(e["loc"][1]) if len(e.get("loc", ())) > 1 else 0
            line, column = _line_column(document, position)
            reason = (e.get("ctx") or {}).get("error", "invalid JSON")
            return ValidationError(
                f"The request body is not valid JSON: {reason} at line {line}, column {column}",
                line=line,
                column=column,
                position=position,
                details=[{"field": None, "line": line, "column": column, "message": reason}],
            )
    whole = [e for e in errors if tuple(e.get("loc", ())) == ("body",)]
    if whole:
        if whole[0].get("type") == "missing":
            return ValidationError(
                "The request body is empty: this route needs a JSON object",
                details=[{"field": None, "message": "the body is empty"}],
            )
        content_type = request.headers.get("content-type", "")
        if isinstance(whole[0].get("input"), bytes) and content_type:
            media_type = content_type.split(";")[0].strip()
            return UnsupportedMediaType(
                f"The request body is sent as `{media_type}`; this route reads JSON: send it "
                "with `Content-Type: application/json`"
            )
        kind = _kind(whole[0].get("input"))
        return ValidationError(
            f"The request body must be a JSON object, not {kind}",
            details=[{"field": None, "message": f"expected a JSON object, got {kind}"}],
        )
    details = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ()) if p != "body"]
        where = loc[0] if loc and e.get("loc", ("",))[0] in ("query", "path", "header") else None
        field = ".".join(loc[1:] if where else loc) or None
        message = e.get("msg", "invalid")
        detail = {"field": field, "message": message}
        if where:
            detail["in"] = where
        details.append(detail)
    first = details[0] if details else {"field": None, "message": "invalid request"}
    place = f"{first['field']}: " if first["field"] else ""
    return ValidationError(f"Invalid request: {place}{first['message']}", details=details)


def install(app: FastAPI) -> None:
    @app.exception_handler(SqlgateError)
    async def _domain(_request: Request, exc: SqlgateError) -> Response:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return error_response(request_error(request, exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_response(NotFound(f"No route {request.method} {request.url.path}"))
        if exc.status_code == 405:
            return error_response(
                MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
            )
        if exc.status_code == 400:  # the body could not be read (FastAPI's own parse failure)
            return error_response(
                ValidationError(f"The request body could not be read: {exc.detail}")
            )
        error = SqlgateError(str(exc.detail), status=exc.status_code)
        kinds = [k for k in ERROR_TABLE if k.status == exc.status_code]
        error.code = kinds[0].code if kinds else "internal_error"
        return error_response(error)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Never a traceback to the client; the log has it.
        if not isinstance(exc, ExportAborted):
            log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(SqlgateError("Internal server error"))
