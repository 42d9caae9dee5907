"""uvicorn's HTTP protocol with a response's head and first body part sent in one write.

uvicorn writes a response's status line and headers to the socket as soon as the application
starts the response, and its body with the next message: two system calls and two TCP
segments for every small answer, each of which the kernel processes on both ends and the
client wakes up for. ``sqlgate serve`` runs uvicorn with :data:`HTTP_PROTOCOL`, whose
connections hold a small write back until the end of the event loop's current step: the body
the application sends right after the headers (in the same step, as every Starlette response
does) goes out with them in one write. A write that is not followed by another in that step
goes out when the step ends, so nothing waits longer than the loop takes to come round; closing
the connection sends what is held first; the bytes and their order are the same.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

#: Writes up to this size may be held back for the next one (a response's head is well below).
HOLD_BYTES = 16 * 1024
#: Above this, a held write and the next go out as two buffers instead of one joined copy.
JOIN_BYTES = 64 * 1024


class CoalescingTransport:
    """A transport that holds a small write back until the next write or the end of the loop's
    step, whichever comes first; everything else is the wrapped transport's."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if len(data) <= JOIN_BYTES:
                self._transport.write(held + bytes(data))
            else:
                self._transport.writelines((held, data))
        elif len(data) <= HOLD_BYTES and not self._transport.is_closing():
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        """Send the write held back, if any."""
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():  # the client left: nothing to send it
                self._transport.write(held)

    def writelines(self, list_of_data: Any) -> None:
        self.flush()
        self._transport.writelines(list_of_data)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        held = self._held
        return self._transport.get_write_buffer_size() + (len(held) if held else 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class HttpProtocol(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
    """uvicorn's HTTP/1.1 protocol (httptools, or h11 without it) on a
    :class:`CoalescingTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]


#: ``uvicorn.run(http=...)`` for ``sqlgate serve`` (an import string: workers import it too).
HTTP_PROTOCOL = f"{__name__}:HttpProtocol"
