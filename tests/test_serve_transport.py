"""`sqlgate serve` sends a small response's head and body in one write (cli/_transport.py):
the same bytes in the same order, one system call and one TCP segment fewer per answer."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from sqlgate.cli._transport import HOLD_BYTES, HTTP_PROTOCOL, CoalescingTransport


class Recorder:
    """The parts of a transport CoalescingTransport calls, recording each write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        self.writes.append(b"".join(chunks))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def _run(steps: Any) -> Recorder:
    async def main() -> Recorder:
        recorder = Recorder()
        transport = CoalescingTransport(recorder, asyncio.get_running_loop())  # type: ignore[arg-type]
        await steps(transport, recorder)
        return recorder

    return asyncio.run(main())


def test_head_and_body_written_in_one_step_go_out_together() -> None:
    async def steps(transport: CoalescingTransport, recorder: Recorder) -> None:
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        assert recorder.writes == []
        assert transport.get_write_buffer_size() == 19
        transport.write(b'{"rows":[[1]]}')
        assert recorder.writes == [b'HTTP/1.1 200 OK\r\n\r\n{"rows":[[1]]}']
        transport.write(b"more")  # a later part goes out with the next, or when the step ends
        await asyncio.sleep(0)
        assert recorder.writes[-1] == b"more"

    assert len(_run(steps).writes) == 2


def test_a_lone_write_goes_out_when_the_step_ends() -> None:
    async def steps(transport: CoalescingTransport, recorder: Recorder) -> None:
        transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        assert recorder.writes == []
        await asyncio.sleep(0)
        assert recorder.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]

    _run(steps)


def test_large_writes_are_not_held_and_keep_their_order() -> None:
    big = b"x" * (HOLD_BYTES + 1)
    huge = b"y" * (1 << 20)

    async def steps(transport: CoalescingTransport, recorder: Recorder) -> None:
        transport.write(big)
        assert recorder.writes == [big]
        transport.write(b"head")
        transport.write(huge)
        assert recorder.writes == [big, b"head" + huge]

    _run(steps)


def test_close_sends_what_is_held_and_abort_drops_it() -> None:
    async def steps(transport: CoalescingTransport, recorder: Recorder) -> None:
        transport.write(b"last")
        transport.close()
        assert recorder.writes == [b"last"] and recorder.closed

    _run(steps)

    async def aborting(transport: CoalescingTransport, recorder: Recorder) -> None:
        transport.write(b"dropped")
        transport.abort()
        await asyncio.sleep(0)
        assert recorder.writes == [] and recorder.aborted

    _run(aborting)


def test_nothing_is_written_to_a_connection_the_client_closed() -> None:
    async def steps(transport: CoalescingTransport, recorder: Recorder) -> None:
        transport.write(b"head")
        recorder.closed = True  # the connection was lost before the step ended
        await asyncio.sleep(0)
        assert recorder.writes == []
        assert transport.get_extra_info("peername") == "info:peername"

    _run(steps)


def _raw_exchange(port: int, request: bytes, until: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while until not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def test_uvicorn_on_it_answers_as_before() -> None:
    """Plain, streamed, keep-alive and 'Connection: close' answers through uvicorn with the
    protocol ``sqlgate serve`` uses."""

    async def plain(_request: Request) -> Response:
        return Response(b'{"ok":true}', media_type="application/json")

    async def streamed(_request: Request) -> StreamingResponse:
        async def parts() -> Any:
            for part in (b"a" * 10, b"b" * (HOLD_BYTES * 2), b"c"):
                yield part
                await asyncio.sleep(0)

        return StreamingResponse(parts(), media_type="text/plain")

    app = Starlette(routes=[Route("/plain", plain), Route("/streamed", streamed)])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=HTTP_PROTOCOL, log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            threading.Event().wait(0.05)
        two = _raw_exchange(
            port,
            b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\nGET /plain HTTP/1.1\r\nHost: x\r\n"
            b"Connection: close\r\n\r\n",
            b"}HTTP/1.1 200 OK",
        )
        assert two.count(b"HTTP/1.1 200 OK\r\n") == 2 and two.count(b'{"ok":true}') == 2
        body = _raw_exchange(
            port, b"GET /streamed HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"0\r\n\r\n"
        )
        head, _, chunks = body.partition(b"\r\n\r\n")
        assert b"transfer-encoding: chunked" in head
        decoded = b""
        while chunks:
            size, _, rest = chunks.partition(b"\r\n")
            n = int(size, 16)
            decoded, chunks = decoded + rest[:n], rest[n + 2 :]
            if n == 0:
                break
        assert decoded == b"a" * 10 + b"b" * (HOLD_BYTES * 2) + b"c"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
