"""A fast path for the hottest route, ``POST /api/v1/query/{connection_id}`` (execute).

FastAPI's dependency solving (the key headers, the org header, the generator dependency and its
exit stack) cost more per request than everything else sqlgate does for a small query. This
pure-ASGI step answers the common case itself with the same steps in the same order, and hands
everything else to the route, untouched:

* it only takes a request it can answer exactly like the route: a JSON body that parses and
  validates as the route's body without ``wait_timeout``, a key in ``Authorization: Bearer`` or
  ``X-API-Key`` whose check is in the key cache, and no ``X-ORG-ID``;
* the checks up to there have no side effects, so anything else (a missing, unknown or uncached
  key, a malformed body, the hybrid wait) goes to the route, which answers or refuses it as it
  always has;
* from there on it runs what the route's dependency and handler run (``deps.admit``, the
  request's closers, ``query.execute_response``), and renders any error with the application's
  own exception handlers, so the status, body and headers are the route's.

The OpenAPI document still comes from the route.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import ValidationError as PydanticValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sqlgate.api.deps import admit, run_closers
from sqlgate.api.query import EXECUTE_GROUP, EXECUTE_SCOPES, ExecuteBody, execute_response
from sqlgate.auth.concurrency import request_closers
from sqlgate.auth.principal import Principal
from sqlgate.container import Services

_EXECUTE = re.compile(r"/api/v1/query/([^/]+)")


class FastExecute:
    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope.get("root_path")
            or (match := _EXECUTE.fullmatch(scope["path"])) is None
        ):
            await self.app(scope, receive, send)
            return
        messages, body = await _read_body(receive)
        taken = _take(self.services, scope, body)
        if taken is None:
            replay = list(messages)

            async def replayed() -> Message:
                return replay.pop(0) if replay else await receive()

            await self.app(scope, replayed, send)
            return
        principal, parsed = taken
        await self._execute(scope, receive, send, match.group(1), principal, parsed)

    async def _execute(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        connection_id: str,
        principal: Principal,
        body: ExecuteBody,
    ) -> None:
        closers = request_closers()
        try:
            try:
                await admit(self.services, principal, EXECUTE_SCOPES, EXECUTE_GROUP, "key")
                client = scope["client"][0] if scope.get("client") else None
                response = await run_in_threadpool(
                    execute_response, self.services, principal, connection_id, body, client
                )
            except Exception as exc:
                response = await _handled(scope, exc)
            await response(scope, receive, send)
        finally:
            await run_closers(closers)


async def _read_body(receive: Receive) -> tuple[list[Message], bytes]:
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return messages, b"".join(chunks)


def _take(services: Services, scope: Scope, body: bytes) -> tuple[Principal, ExecuteBody] | None:
    """The key's principal and the parsed body, if this request is one the fast path answers
    exactly like the route; otherwise None (nothing has happened yet)."""
    headers = Headers(scope=scope)
    content_type = headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json" or not body:
        return None
    if "x-org-id" in headers:
        return None
    try:
        data: Any = orjson.loads(body)
        parsed = ExecuteBody.model_validate(data)
    except (orjson.JSONDecodeError, PydanticValidationError):
        return None
    if parsed.wait_timeout is not None:
        return None
    key = _key(headers)
    principal = services.authenticator.cached(key) if key else None
    if principal is None:
        return None
    return principal, parsed


def _key(headers: Headers) -> str | None:
    """The key as the route's security dependencies read it: Bearer first, then X-API-Key."""
    authorization = headers.get("authorization")
    scheme, credentials = get_authorization_scheme_param(authorization)
    if authorization and scheme and credentials and scheme.lower() == "bearer":
        return credentials
    return headers.get("x-api-key") or None


async def _handled(scope: Scope, exc: Exception) -> Response:
    """The response the application's exception handler for ``exc`` gives."""
    handlers = scope["app"].exception_handlers
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None:
            response: Response = await handler(Request(scope), exc)
            return response
    raise exc
