"""An export's body is written one chunk ahead of the socket: the next chunk is pulled while the
current one is being sent (the writer and the transfer overlap instead of taking turns), and
however the response ends the body is closed, with no pull still running, before the request's
own clean-up (which releases the query's session) runs."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.requests import ClientDisconnect

from sqlgate.api.streaming import SEND_BYTES, AheadStreamingResponse

SCOPE: dict[str, Any] = {"type": "http", "asgi": {"spec_version": "2.3"}}


async def _never_disconnects() -> dict[str, Any]:
    await asyncio.Event().wait()
    return {"type": "http.disconnect"}


def test_the_next_chunk_is_written_while_this_one_is_sent() -> None:
    second_pulled = threading.Event()

    def body() -> Iterator[bytes]:
        yield b"first"
        second_pulled.set()
        yield b"second"

    sent: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message.get("body") == b"first":
            # A slow client: the first chunk is still being sent. The writer does not wait for
            # it (before, the second chunk was asked for only once this send had returned).
            assert await asyncio.to_thread(second_pulled.wait, 10), "no pull during the send"
        sent.append(bytes(message.get("body", b"")))

    response = AheadStreamingResponse(body(), media_type="text/csv", headers={})
    asyncio.run(asyncio.wait_for(response(SCOPE, _never_disconnects, send), 20))
    assert sent == [b"", b"first", b"second", b""]  # the start message has no body


def test_large_chunks_go_out_whole_in_pieces() -> None:
    chunk = bytes(range(256)) * (3 * SEND_BYTES // 256 + 7)
    sent: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            assert len(message["body"]) <= SEND_BYTES
            sent.append(bytes(message["body"]))

    response = AheadStreamingResponse(iter([chunk, b"tail"]), media_type="text/csv", headers={})
    asyncio.run(response(SCOPE, _never_disconnects, send))
    assert b"".join(sent) == chunk + b"tail"
    assert len(sent) == 6  # 4 pieces, the tail, the end


@pytest.mark.parametrize("spec", ["2.3", "2.4"])
def test_a_client_gone_mid_stream_leaves_the_body_closed_and_idle(spec: str) -> None:
    events: list[str] = []
    pulling = threading.Lock()

    def body() -> Iterator[bytes]:
        try:
            for i in range(1000):
                with pulling:
                    events.append(f"pull {i}")
                    threading.Event().wait(0.05)  # a slow writer: a pull is in flight
                yield b"x" * 10
        finally:
            assert not pulling.locked()
            events.append("closed")

    async def send(message: dict[str, Any]) -> None:
        if message.get("body") == b"x" * 10:
            raise OSError("client gone")

    response = AheadStreamingResponse(body(), media_type="text/csv", headers={})
    with pytest.raises((OSError, ClientDisconnect)):
        asyncio.run(response({**SCOPE, "asgi": {"spec_version": spec}}, _never_disconnects, send))
    # Closed by the time the response returned, after the pull that was in flight ended.
    assert events == ["pull 0", "pull 1", "closed"]
