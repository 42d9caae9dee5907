"""A fast path for the hottest route, ``POST /api/v1/query/{connection_id}`` (execute).

FastAPI's middleware stack and dependency solving (the key headers, the org header, the generator
dependency and its exit stack) cost more per request than everything else sqlgate does for a
small query. :class:`App` (the application class) hands an execute request to this pure-ASGI
step before any of it, and the step answers the common case itself with the same steps in the
same order, and hands everything else to the full stack, untouched:

* it only takes a request it can answer exactly like the route: a body within the size limit
  that is JSON as the middleware reads it (``application/json``, or no or a form content type,
  which :class:`~sqlgate.api.middleware.JsonBodies` reads as JSON), UTF-8 text without a lone
  surrogate, that validates as the route's body without ``wait_timeout``; a key in
  ``Authorization: Bearer`` or ``X-API-Key`` whose check is in the key cache; no ``X-ORG-ID``;
  and no OpenTelemetry instrumentation configured (FastAPI's own, which sees every request;
  asked once a second);
* the checks up to there have no side effects, so anything else (a body too large, not JSON or
  not valid text, a missing, unknown or uncached key, the hybrid wait) goes to the full stack
  with the body it sent, which answers or refuses it as it always has;
* from there on it runs what the route's dependency and handler run (``deps.admit``, the
  request's closers, ``query.execute_response``), and renders any error with the application's
  own exception handlers, so the status, body and headers are the route's.

The query itself runs on a thread of a small pool of its own (:class:`Threads`, at most
:data:`MAX_THREADS` threads, as many as Starlette's), its future awaited on the event loop: the
same isolation from the event loop as the route's threadpool, at a fraction of anyio's (and
``concurrent.futures``') bookkeeping per request.

The OpenAPI document still comes from the route.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import re
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import orjson
from fastapi import FastAPI
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import ValidationError as PydanticValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sqlgate.api.deps import admit, run_closers
from sqlgate.api.query import EXECUTE_GROUP, EXECUTE_SCOPES, ExecuteBody, execute_response
from sqlgate.auth.concurrency import request_closers
from sqlgate.auth.principal import Principal
from sqlgate.container import Services

_EXECUTE = re.compile(r"/api/v1/query/([^/]+)")
#: Content types JsonBodies reads as JSON (an absent one, a form) or passes as JSON.
_JSON_TYPES = frozenset({b"", b"application/json", b"application/x-www-form-urlencoded"})
#: Threads running fast-path queries at once (Starlette's threadpool has as many).
MAX_THREADS = 40
#: Seconds for which the answer to "is OpenTelemetry configured for FastAPI?" is reused.
TELEMETRY_RECHECK = 1.0

T = TypeVar("T")


class Threads:
    """A pool of up to ``max_threads`` threads that runs a call in a copy of the caller's
    context and hands its result to an asyncio future, with one lock-free queue and one wake-up
    of the loop per call: what ``loop.run_in_executor`` on a ``ThreadPoolExecutor`` does with a
    second future, its condition and the callbacks that tie the two together.

    Threads start as calls find none idle, and stay (daemon threads, as Starlette's are not
    waited for either: a request in flight is, by the server, before it stops). A call whose
    future was cancelled before a thread took it is not run.
    """

    def __init__(self, max_threads: int, name: str) -> None:
        self._max = max_threads
        self._name = name
        self._calls: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)  # one release per thread waiting for a call
        self._lock = threading.Lock()
        self._started = 0

    def run(self, function: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """``function(*args)`` on a pool thread, in a copy of this context; its future."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._calls.put((future, loop, contextvars.copy_context(), function, args))
        if not self._idle.acquire(blocking=False):
            self._start()
        return future

    def _start(self) -> None:
        with self._lock:
            if self._started >= self._max:
                return  # the call waits for the next thread to finish its own
            self._started += 1
            number = self._started
        threading.Thread(target=self._work, name=f"{self._name}_{number}", daemon=True).start()

    def _work(self) -> None:
        take, idle = self._calls.get, self._idle
        while True:
            future, loop, context, function, args = take()
            if not future.cancelled():
                try:
                    result = context.run(function, *args)
                except BaseException as exc:  # handed to the awaiting task
                    loop.call_soon_threadsafe(_fail, future, exc)
                else:
                    loop.call_soon_threadsafe(_succeed, future, result)
            del future, loop, context, function, args
            idle.release()


def _succeed(future: asyncio.Future[Any], result: Any) -> None:
    if not future.cancelled():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.cancelled():
        future.set_exception(exc)


_THREADS = Threads(MAX_THREADS, "sqlgate-request")


class App(FastAPI):
    """FastAPI with the execute route's fast path in front of its middleware stack."""

    fast_path: FastExecute | None = None
    #: Whether FastAPI's OpenTelemetry instrumentation is on, and until when that answer holds.
    _instrumented_until: tuple[bool, float] = (False, -1.0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self.fast_path
        if fast is not None and fast.candidate(scope) and not self._instrumented():
            scope["app"] = self
            await fast(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def _instrumented(self) -> bool:
        """Whether FastAPI's OpenTelemetry instrumentation would see this request.

        Asked again at most every :data:`TELEMETRY_RECHECK` seconds: the question reads three
        environment variables and three global providers (about 6 us), and a provider is
        configured once, normally before the server starts (``opentelemetry-instrument``);
        one configured while the server runs sees execute requests within that time."""
        known, until = self._instrumented_until
        now = time.monotonic()
        if now < until:
            return known
        telemetry = getattr(self, "_native_telemetry", None)
        known = telemetry is not None and bool(telemetry.enabled())
        self._instrumented_until = (known, now + TELEMETRY_RECHECK)
        return known


def install(app: App, services: Services, max_body_bytes: int) -> None:
    """Answer execute requests on ``app`` with the fast path; the rest of the stack (middleware,
    then the route) gets those it leaves."""
    app.fast_path = FastExecute(partial(FastAPI.__call__, app), services, max_body_bytes)


class FastExecute:
    def __init__(self, app: ASGIApp, services: Services, max_body_bytes: int) -> None:
        self.app = app  # the full stack
        self.services = services
        self.max_body_bytes = max_body_bytes

    @staticmethod
    def candidate(scope: Scope) -> bool:
        return (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and not scope.get("root_path")
            and _EXECUTE.fullmatch(scope["path"]) is not None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        body: bytes | None = None
        messages: list[Message] = []
        if headers is not None and _declared_size(headers) <= self.max_body_bytes:
            messages, body = await _read_body(receive, self.max_body_bytes)
        taken = None if headers is None or body is None else _take(self.services, headers, body)
        if taken is None:
            replay = messages

            async def replayed() -> Message:
                return replay.pop(0) if replay else await receive()

            await self.app(scope, replayed, send)
            return
        principal, parsed = taken
        authenticator = self.services.authenticator
        key = _key(headers)  # type: ignore[arg-type]
        if key is not None and authenticator.refresh_due(key):
            # In the background: this request goes on with the still valid check.
            _THREADS.run(authenticator.refresh, key)
        connection_id = _EXECUTE.fullmatch(scope["path"]).group(1)  # type: ignore[union-attr]
        await self._execute(scope, receive, send, connection_id, principal, parsed)

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
                response = await _THREADS.run(
                    execute_response, self.services, principal, connection_id, body, client
                )
            except Exception as exc:
                response = await _handled(scope, exc)
            await response(scope, receive, send)
        finally:
            if closers:
                await run_closers(closers)


#: The headers the fast path reads; a request that repeats one of them goes to the full stack
#: (its parts do not all read a repeated header the same way).
_READ = frozenset({b"content-length", b"content-type", b"authorization", b"x-api-key"})


def _headers(scope: Scope) -> dict[bytes, bytes] | None:
    """The request's headers by (lower-case) name; None if one this step reads is repeated."""
    headers: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in headers and name in _READ:
            return None
        headers[name] = value
    return headers


def _declared_size(headers: dict[bytes, bytes]) -> int:
    """The Content-Length as BodySizeLimit reads it (0 without one, -1 when malformed: the
    body is then counted as it comes)."""
    value = headers.get(b"content-length")
    if value is None:
        return 0
    try:
        return int(value)
    except ValueError:
        return -1


async def _read_body(receive: Receive, limit: int) -> tuple[list[Message], bytes | None]:
    """The messages read and the whole body, or None for the body once it passed ``limit``
    or the client left (the messages read so far are then handed on)."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return messages, None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return messages, b"".join(chunks)


def _take(
    services: Services, headers: dict[bytes, bytes], body: bytes
) -> tuple[Principal, ExecuteBody] | None:
    """The key's principal and the parsed body, if this request is one the fast path answers
    exactly like the route; otherwise None (nothing has happened yet)."""
    content_type = headers.get(b"content-type", b"")
    if content_type.split(b";")[0].strip().lower() not in _JSON_TYPES or not body:
        return None
    if b"x-org-id" in headers:
        return None
    try:
        # orjson refuses what JsonBodies refuses (invalid UTF-8, lone surrogates) and what
        # the route cannot parse: those are left to them, to say why.
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


def _key(headers: dict[bytes, bytes]) -> str | None:
    """The key as the route's security dependencies read it: Bearer first, then X-API-Key."""
    authorization = headers.get(b"authorization")
    if authorization is not None:
        scheme, credentials = get_authorization_scheme_param(authorization.decode("latin-1"))
        if scheme and credentials and scheme.lower() == "bearer":
            return credentials
    api_key = headers.get(b"x-api-key")
    return api_key.decode("latin-1") if api_key else None


async def _handled(scope: Scope, exc: Exception) -> Response:
    """The response the application's exception handler for ``exc`` gives."""
    handlers = scope["app"].exception_handlers
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None:
            response: Response = await handler(Request(scope), exc)
            return response
    raise exc
