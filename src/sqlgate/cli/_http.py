"""uvicorn's HTTP protocol (httptools) with each response's head and body sent in one write.

uvicorn writes a response's status line and headers as soon as the application starts the
response, and its body as a second write: two system calls on the event loop that serves every
connection, and two wake-ups of the client, which finds the head alone and waits for the rest.
Sending both at once saved about 9% of the server's CPU per request for a small answer in one
measurement (docs/performance.md); for larger answers the saving is lost in their other costs.

:class:`HttpProtocol` hands uvicorn's protocol a :class:`CoalescingTransport`: a small write
(a response's head) is held until the next write on the connection, which takes both in one
system call (``writelines``: one ``writev`` with uvloop, no copy), or until the event loop's
next turn if no write follows in the same turn (a streamed response whose first chunk is not
ready yet). A large write goes out as it comes. What reaches the client, and in what order,
is unchanged; at most one small write waits, for at most one turn of the loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: Writes up to this size are held for the next one (a response's head is well below).
HOLD_BYTES = 16 * 1024


class CoalescingTransport:
    """A transport that sends a small write together with the one that follows it."""

    __slots__ = ("_flush_scheduled", "_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._flush_scheduled = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.writelines((held, data))
        elif len(data) <= HOLD_BYTES:
            self._held = bytes(data)
            if not self._flush_scheduled:
                self._flush_scheduled = True
                self._loop.call_soon(self._flush)
        else:
            self._transport.write(data)

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def _flush(self) -> None:
        self._flush_scheduled = False
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        held = self._held
        return self._transport.get_write_buffer_size() + (len(held) if held else 0)

    def __getattr__(self, name: str) -> Any:  # everything else is the transport's own
        return getattr(self._transport, name)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through a :class:`CoalescingTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        coalescing = CoalescingTransport(transport, self.loop)
        super().connection_made(coalescing)  # type: ignore[arg-type]
