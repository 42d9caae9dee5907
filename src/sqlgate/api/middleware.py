"""Pure-ASGI middleware: body size limit, and JSON as the one request body type."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sqlgate.api.errors import error_response
from sqlgate.errors import PayloadTooLarge, ValidationError


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
    clients send no content type at all; both are read as the JSON they are.

    A JSON body must also be text every layer below can carry: UTF-8, and no string with a lone
    surrogate (JSON's ``"\\udc80"`` escape decodes to one, which no database driver, guard or
    audit row can encode). Either is a 422 ``validation_error`` here, before any route, so every
    surface answers the same."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
        current = dict(scope["headers"]).get(b"content-type", b"")
        media_type = current.split(b";")[0].strip().lower()
        if media_type in (b"", _FORM):
            scope = {**scope, "headers": [*headers, (b"content-type", _JSON)]}
        elif media_type != _JSON and not media_type.endswith(b"+json"):
            await self.app(scope, receive, send)
            return
        first: list[Message] = []
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left: let the app see it
                first.append(message)
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = unencodable_text(body)
        if problem is not None:
            await error_response(problem)(scope, receive, send)
            return
        first.insert(0, {"type": "http.request", "body": body, "more_body": False})

        async def replay() -> Message:
            return first.pop(0) if first else await receive()

        await self.app(scope, replay, send)


# A \uD800-\uDFFF escape: the only way a JSON text decodes to a surrogate (UTF-8 has none).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def unencodable_text(body: bytes) -> ValidationError | None:
    """Why a JSON body holds text that cannot be encoded, or None. Malformed JSON is left to the
    route's own parsing, which names the problem."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = body[: exc.start].decode("utf-8", errors="replace")
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        return ValidationError(
            f"The request body is not valid UTF-8: byte 0x{body[exc.start]:02x} at line {line}, "
            f"column {column} (byte {exc.start}); send JSON as UTF-8 text",
            line=line,
            column=column,
            position=exc.start,
            details=[{"field": None, "line": line, "column": column, "message": "invalid UTF-8"}],
        )
    if not _SURROGATE_ESCAPE.search(body):
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    found = _lone_surrogate(document, [])
    if found is None:
        return None
    path, index, char = found
    field = ".".join(path) or None
    message = (
        f"text with a lone surrogate (U+{ord(char):04X}) at character {index}: not valid "
        "Unicode, so it cannot be encoded as UTF-8"
    )
    where = f"{field}: " if field else ""
    return ValidationError(
        f"Invalid request: {where}{message}", details=[{"field": field, "message": message}]
    )


def _lone_surrogate(value: Any, path: list[str]) -> tuple[list[str], int, str] | None:
    """The first string (key or value) holding a surrogate: its path, index and character."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return path, exc.start, value[exc.start]
        return None
    items: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if (found := _lone_surrogate(key, path)) is not None:
                return found
            items.append((key, item))
    elif isinstance(value, list):
        items = [(str(i), item) for i, item in enumerate(value)]
    for key, item in items:
        if (found := _lone_surrogate(item, [*path, key])) is not None:
            return found
    return None
