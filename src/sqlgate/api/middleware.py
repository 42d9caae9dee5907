"""Pure-ASGI middleware: body size limit, and JSON as the one request body type."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sqlgate.api.errors import error_response
from sqlgate.errors import PayloadTooLarge


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = PayloadTooLarge(f"The request body is larger than {self.max_bytes} bytes")
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes:
                    await error_response(too_large)(scope, receive, send)
                    return
        received = 0
        exceeded = False
        replied = False

        async def reply_too_large() -> None:
            nonlocal replied
            if not replied:
                replied = True
                await error_response(too_large)(scope, receive, send)

        async def guarded_send(message: Message) -> None:
            # Once the body overflowed, whatever the app answers (FastAPI turns a failed body
            # read into a 400) is replaced by the 413.
            if exceeded:
                if message["type"] == "http.response.start":
                    await reply_too_large()
                return
            await send(message)

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _TooLarge:
            await reply_too_large()


class _TooLarge(Exception):
    pass


_JSON = b"application/json"
_FORM = b"application/x-www-form-urlencoded"


class JsonBodies:
    """Every request body of this API is JSON. ``curl -d '{...}'`` labels it a form, and some
    clients send no content type at all; both are read as the JSON they are."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH"):
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
            current = dict(scope["headers"]).get(b"content-type", b"")
            if current.split(b";")[0].strip().lower() in (b"", _FORM):
                scope = {**scope, "headers": [*headers, (b"content-type", _JSON)]}
        await self.app(scope, receive, send)
