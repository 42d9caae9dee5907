"""One handler per failure kind, all rendering the one error body (see sqlgate.errors)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from sqlgate.errors import (
    MethodNotAllowed,
    NotFound,
    SqlgateError,
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


def _validation_message(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    details = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ()) if p != "body"]
        details.append({"field": ".".join(loc) or None, "message": e.get("msg", "invalid")})
    if any(e.get("type") == "json_invalid" for e in errors):
        return "The request body is not valid JSON", details
    first = details[0] if details else {"field": None, "message": "invalid request"}
    where = f"{first['field']}: " if first["field"] else ""
    return f"Invalid request: {where}{first['message']}", details


def install(app: FastAPI) -> None:
    @app.exception_handler(SqlgateError)
    async def _domain(_request: Request, exc: SqlgateError) -> Response:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> Response:
        message, details = _validation_message(list(exc.errors()))
        return error_response(ValidationError(message, details=details))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_response(NotFound(f"No route {request.method} {request.url.path}"))
        if exc.status_code == 405:
            return error_response(
                MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
            )
        error = SqlgateError(str(exc.detail), status=exc.status_code)
        error.code = "http_error"
        return error_response(error)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Never a traceback to the client; the log has it.
        if not isinstance(exc, ExportAborted):
            log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(SqlgateError("Internal server error"))
