"""`sqlgate serve` sends a response's head and body in one write (cli/_http.py), and still
sends every byte, in order: through a real uvicorn server on a free port, and the transport
wrapper's rules one by one."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from sqlgate.cli._http import HOLD_BYTES, CoalescingTransport

BIG = b"x" * (HOLD_BYTES * 4)


class Recording:
    """A transport that records what is written to it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.calls.append(("write", bytes(data)))

    def writelines(self, chunks: Any) -> None:
        self.calls.append(("writelines", b"".join(chunks)))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.calls.append(("close", b""))
        self.closing = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1)}.get(name, default)


def test_head_and_body_go_out_in_one_call() -> None:
    async def run() -> list[tuple[str, bytes]]:
        raw = Recording()
        transport = CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        assert raw.calls == []  # held for the body
        transport.write(b"body")
        await asyncio.sleep(0)
        return raw.calls

    assert asyncio.run(run()) == [("writelines", b"HTTP/1.1 200 OK\r\n\r\nbody")]


def test_a_held_write_goes_out_on_the_next_turn_of_the_loop() -> None:
    async def run() -> list[tuple[str, bytes]]:
        raw = Recording()
        transport = CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"head")
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return raw.calls

    assert asyncio.run(run()) == [("write", b"head")]


def test_large_writes_pass_at_once_and_close_sends_what_is_held() -> None:
    async def run() -> tuple[list[tuple[str, bytes]], int]:
        raw = Recording()
        transport = CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(BIG)
        transport.write(b"tail")
        held = transport.get_write_buffer_size()
        transport.close()
        await asyncio.sleep(0)
        return raw.calls, held

    calls, held = asyncio.run(run())
    assert calls == [("write", BIG), ("write", b"tail"), ("close", b"")]
    assert held == 4
    assert CoalescingTransport(Recording(), None).get_extra_info("peername")  # type: ignore[arg-type]


async def _small(request: Request) -> Response:
    return Response(b'{"ok":true}', media_type="application/json")


async def _big(request: Request) -> Response:
    return Response(BIG, media_type="application/octet-stream")


async def _streamed(request: Request) -> StreamingResponse:
    async def chunks() -> Any:
        for i in range(3):
            await asyncio.sleep(0.01)  # the head waits for a chunk that is not ready yet
            yield f"chunk {i}\n".encode()

    return StreamingResponse(chunks(), media_type="text/plain")


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    app = Starlette(
        routes=[Route("/small", _small), Route("/big", _big), Route("/streamed", _streamed)]
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = int(s.getsockname()[1])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=free, http="sqlgate.cli._http:HttpProtocol", log_level="error"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield free
    server.should_exit = True
    thread.join(timeout=10)


def _exchange(sock: socket.socket, path: str) -> tuple[bytes, bytes]:
    """One keep-alive request on ``sock``: the response's head and its (whole) body."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    headers = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line)
    if b"content-length" in headers:
        size = int(headers[b"content-length"])
        while len(body) < size:
            body += sock.recv(65536)
        return head, body
    while not body.endswith(b"0\r\n\r\n"):  # chunked
        body += sock.recv(65536)
    return head, body


def test_responses_arrive_whole_and_in_order_on_one_connection(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for _ in range(3):
            head, body = _exchange(sock, "/small")
            assert head.startswith(b"HTTP/1.1 200") and body == b'{"ok":true}'
            head, body = _exchange(sock, "/big")
            assert head.startswith(b"HTTP/1.1 200") and body == BIG
            head, body = _exchange(sock, "/streamed")
            assert head.startswith(b"HTTP/1.1 200")
            assert b"chunk 0\n" in body and b"chunk 2\n" in body
            assert body.index(b"chunk 0") < body.index(b"chunk 1") < body.index(b"chunk 2")
