"""A streamed file whose next chunk is written while this one is sent.

Starlette's ``StreamingResponse`` asks a synchronous body for its next chunk only once the
previous one was handed to the socket, and uvicorn hands a chunk over only when the one before
has mostly drained: the writer (DuckDB's scan, Arrow's CSV or Parquet encoder, PostgreSQL's COPY
text) and the transfer took turns, each idle while the other worked. Here the next chunk is
pulled on a worker thread as soon as the current one is handed on, one chunk ahead at most.

The body is never read by two threads at once: each pull starts after the one before ended.
However the response ends (finished, failed, client gone, cancelled), the pull in flight is
waited for and the body closed, on a worker thread, before the request's closers run (they
release the query's session, which must not happen under a running pull).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator, Mapping
from typing import TYPE_CHECKING

import anyio
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

_DONE = object()

#: Bytes handed to the server at a time. uvicorn copies each piece once more (it frames it for
#: chunked transfer); pieces this small come from memory malloc keeps, where a copy of a
#: whole chunk of several megabytes is mapped afresh and page-faulted in every time (a 5M-row
#: CSV export: about 240,000 page faults, a third of the server's CPU).
SEND_BYTES = 64 * 1024


class _Ahead:
    """``chunks`` as an async iterator, the next one pulled while the caller sends this one."""

    def __init__(self, chunks: Iterator[bytes | memoryview]) -> None:
        self._chunks = chunks
        self._pending: asyncio.Task[object] | None = None

    def _pull(self) -> object:
        return next(self._chunks, _DONE)

    def _start(self) -> asyncio.Task[object]:
        self._pending = asyncio.ensure_future(run_in_threadpool(self._pull))
        return self._pending

    async def __aiter__(self) -> AsyncGenerator[bytes, None]:
        pending = self._start()
        while True:
            chunk = await pending
            if chunk is _DONE:
                return
            pending = self._start()
            yield chunk  # type: ignore[misc]

    async def settle(self) -> None:
        """Wait for the pull in flight, if any (its result or error dropped), then close the
        body on a worker thread; shielded, so a cancelled request still gets here."""
        with anyio.CancelScope(shield=True):
            pending, self._pending = self._pending, None
            if pending is not None:
                await asyncio.wait([pending])
                if not pending.cancelled():
                    pending.exception()  # retrieved: not logged as "never retrieved"
            close = getattr(self._chunks, "close", None)
            if close is not None:
                await run_in_threadpool(close)


class AheadStreamingResponse(StreamingResponse):
    """A ``StreamingResponse`` of a synchronous body, pulled one chunk ahead (see above), each
    chunk handed to the server in pieces of at most :data:`SEND_BYTES`."""

    def __init__(
        self, content: Iterator[bytes | memoryview], *, media_type: str, headers: Mapping[str, str]
    ) -> None:
        self._ahead = _Ahead(content)
        self._body = self._ahead.__aiter__()
        super().__init__(self._body, media_type=media_type, headers=headers)

    async def stream_response(self, send: Send) -> None:
        start = {"type": "http.response.start", "status": self.status_code}
        await send({**start, "headers": self.raw_headers})
        async for chunk in self._body:
            view = memoryview(chunk)
            for offset in range(0, len(view), SEND_BYTES):
                piece = view[offset : offset + SEND_BYTES]
                await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._body.aclose()
            await self._ahead.settle()
