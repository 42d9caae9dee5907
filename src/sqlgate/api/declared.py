"""Publishing what each route requires, from the dependency that enforces it.

Every authenticated route depends on ``requires(*scopes)``; this walks a router's routes,
finds that dependency and writes its scopes into the operation as ``x-required-scopes`` (any
one of them suffices), so the OpenAPI document states exactly what the code enforces. Routes
without it are marked ``x-public: true`` and must be listed in ``PUBLIC``: adding a route that
forgets its scope fails at start-up instead of shipping open.

It also writes each operation's error responses, so the document lists every status the route
can answer and no other: the errors its router or the route itself declares
(:func:`sqlgate.api.models.raises`), plus those that follow from how the route is built: a key
check answers 401, 403, 429 and 503; a JSON body 413, 415 and 422; query parameters 422; a
path parameter (an id) 404. Every error response has the one error schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from sqlgate.api.models import describe, raises
from sqlgate.errors import (
    AuthenticationError,
    AuthorizationError,
    NotFound,
    PayloadTooLarge,
    RateLimitExceeded,
    ServiceUnavailable,
    SqlgateError,
    UnsupportedMediaType,
    ValidationError,
)

#: (method, path) of the routes that need no API key, and why.
PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "liveness probe",
    ("POST", "/v1/team/invitations/accept"): "the one-time invitation token is the credential",
    ("GET", "/v1/results/{job_id}/{file}"): "the signed, expiring link is the credential",
    ("GET", "/v1/shared/dashboards/{share_id}"): "the signed, revocable link is the credential",
}


def _calls(dependant: Dependant) -> Iterator[object]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def required_scopes(route: APIRoute) -> tuple[str, ...] | None:
    """The scopes ``route`` checks (any one suffices; empty: any valid key), or None when it
    does not authenticate at all."""
    for call in _calls(route.dependant):
        scopes = getattr(call, "required_scopes", None)
        if scopes is not None:
            return tuple(str(s) for s in scopes)
    return None


def declare(router: APIRouter) -> None:
    """Annotate every route of ``router`` (before it is included) with its scopes."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        scopes = required_scopes(route)
        extra = dict(route.openapi_extra or {})
        if scopes is None:
            for method in route.methods or ():
                if (method, route.path) not in PUBLIC:
                    raise RuntimeError(
                        f"{method} {route.path} checks no API key and is not in "
                        "sqlgate.api.declared.PUBLIC"
                    )
            extra["x-public"] = True
        else:
            extra["x-required-scopes"] = list(scopes)
        route.openapi_extra = extra
        route.responses = _with_errors(route.responses, raises(*derived_errors(route)))


_KEY_CHECK = (AuthenticationError, AuthorizationError, RateLimitExceeded, ServiceUnavailable)
_BODY = (PayloadTooLarge, UnsupportedMediaType, ValidationError)


def derived_errors(route: APIRoute) -> list[type[SqlgateError]]:
    """The errors ``route`` can answer because of how it is built."""
    errors: list[type[SqlgateError]] = []
    if required_scopes(route) is not None:
        errors += _KEY_CHECK
    if route.body_field is not None:
        errors += _BODY
    own = route.dependant
    if own.query_params or own.header_params:
        errors.append(ValidationError)
    if "{" in route.path:  # every path parameter names something that may not exist
        errors.append(NotFound)
    return errors


def _with_errors(
    responses: dict[int | str, dict[str, Any]], derived: dict[int | str, dict[str, Any]]
) -> dict[int | str, dict[str, Any]]:
    """``responses`` with the derived error statuses merged in: codes of one status join in one
    entry; a status with its own schema (``generate_sql``'s seed-shaped 400) keeps it."""
    merged = {status: dict(entry) for status, entry in responses.items()}
    for status, entry in derived.items():
        if status not in merged:
            merged[status] = entry
            continue
        mine = merged[status]
        codes = list(dict.fromkeys([*mine.get("x-error-codes", []), *entry["x-error-codes"]]))
        mine["x-error-codes"] = codes
        if mine.get("model") is entry["model"] or "model" not in mine:
            mine["model"] = entry["model"]
            mine["description"] = describe(int(status), codes)
    return dict(sorted(merged.items(), key=lambda item: str(item[0])))


def publish(app: FastAPI) -> None:
    """Serve the OpenAPI document without FastAPI's stock 422 (``HTTPValidationError``), which
    it adds to every operation with a parameter: the 422s sqlgate answers are in the one error
    shape, listed by :func:`declare` where they can happen."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    stock = operation.get("responses", {}).get("422", {})
                    if "HTTPValidationError" in str(stock.get("content", "")):
                        del operation["responses"]["422"]
            schemas = document.get("components", {}).get("schemas", {})
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
