"""The fake OpenAI-compatible server of ``fake_llm.py``, plus streamed answers.

A request with ``"stream": true`` gets its scripted reply as server-sent events: the content cut
into pieces of ``piece_chars`` characters, one ``chat.completion.chunk`` event each, the last
with ``finish_reason: "stop"``, then ``data: [DONE]``. Scripted errors, delays and raw bodies
behave as in :class:`FakeLLM`; a raw body with status 200 is sent as an event stream as is (for
malformed or cut-off streams). Requests without ``stream`` are answered as before.
"""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler

from tests.nl.fake_llm import FakeLLM


class StreamingFakeLLM(FakeLLM):
    def __init__(self, model: str = "fake-model", *, piece_chars: int = 5) -> None:
        self.piece_chars = piece_chars
        super().__init__(model)

    def __enter__(self) -> StreamingFakeLLM:
        self.start()
        return self

    def chunk_events(self, content: str) -> bytes:
        pieces = [
            content[i : i + self.piece_chars] for i in range(0, len(content), self.piece_chars)
        ]
        events = [": keep-alive comment\n\n"]
        for n, piece in enumerate(pieces):
            last = n == len(pieces) - 1
            event = {
                "id": "chatcmpl-fake-stream",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": self.model,
                "choices": [
                    {
                        "index": 0,
                        "delta": ({"role": "assistant"} if n == 0 else {}) | {"content": piece},
                        "finish_reason": "stop" if last else None,
                    }
                ],
            }
            events.append(f"data: {json.dumps(event)}\n\n")
        events.append("data: [DONE]\n\n")
        return "".join(events).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        base = super()._handler()
        fake = self

        class Handler(base):  # type: ignore[valid-type,misc]
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    streamed = bool(json.loads(raw).get("stream"))
                except ValueError:
                    streamed = False
                if not streamed:
                    self._replay(raw)
                    return
                self._replay(raw, record_only=True)
                reply = fake._next()
                if reply.delay and fake._stopping.wait(reply.delay):
                    return
                if reply.status != 200:
                    self._send(reply.status, reply.body or b"{}", reply.headers)
                    return
                body = (
                    reply.body if reply.body is not None else fake.chunk_events(reply.content or "")
                )
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            def _replay(self, raw: bytes, *, record_only: bool = False) -> None:
                """Hand the body already read to the base handler (which reads it again)."""
                import io

                self.rfile = io.BufferedReader(io.BytesIO(raw))
                self.headers.replace_header("Content-Length", str(len(raw)))
                if record_only:
                    self._record()
                else:
                    super().do_POST()

        return Handler
