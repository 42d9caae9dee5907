"""A real local HTTP server that speaks the OpenAI chat-completions API, for tests.

It listens on 127.0.0.1 on an ephemeral port in a background thread, replays scripted replies in
order, and records every request (path, query, headers, JSON body) so tests can assert on the
prompts that were sent::

    with FakeLLM() as llm:
        llm.answer("SELECT 1")
        llm.fail(429, retry_after=0.1)          # the next request gets a 429 ...
        llm.delay(5.0, "SELECT 2")              # ... and this one answers after 5 s
        settings = make_settings(tmp_path, llm_base_url=llm.base_url, llm_model="fake")
        ...
        assert "orders" in llm.requests[0].messages[-1]["content"]

It answers ``POST .../chat/completions`` (OpenAI's ``/v1/chat/completions`` and Azure's
``/openai/deployments/{name}/chat/completions`` alike) and ``GET .../models``. A request with no
scripted reply left gets a 599 ``no scripted reply`` error, so a test that sends more requests
than it expected notices.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    """One scripted reply: a chat answer, an error status, or a raw body."""

    content: str | None = None
    status: int = 200
    delay: float = 0.0
    #: Sent as is instead of a chat completion (for malformed answers).
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    raw: bytes
    received_at: float

    @property
    def body(self) -> Any:
        return json.loads(self.raw) if self.raw else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body["messages"])


class FakeLLM:
    """The server; a context manager that starts and stops it."""

    def __init__(self, model: str = "fake-model") -> None:
        self.model = model
        self.requests: list[RecordedRequest] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        # A short poll interval: stop() waits for the serving loop to notice.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="fake-llm", daemon=True
        )

    # --- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> FakeLLM:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()  # wakes delayed replies
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL (``.../v1``) for ``SQLGATE_LLM_BASE_URL``."""
        return f"{self.url}/v1"

    # --- scripting ------------------------------------------------------------------------

    def clear(self) -> None:
        """Drop replies still queued (a test the server timed out on leaves its own)."""
        with self._lock:
            self._replies.clear()

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self._replies.extend(replies)

    def answer(self, *contents: str) -> None:
        """Reply with these assistant messages, one per request, in order."""
        self.queue(*(Reply(content=c) for c in contents))

    def fail(
        self,
        status: int,
        *,
        times: int = 1,
        message: str = "scripted failure",
        retry_after: float | None = None,
    ) -> None:
        """Reply ``status`` with an OpenAI-shaped error body, ``times`` times."""
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        body = json.dumps({"error": {"message": message, "type": "fake", "code": status}})
        self.queue(
            *(Reply(status=status, body=body.encode(), headers=headers) for _ in range(times))
        )

    def delay(self, seconds: float, content: str = "too late") -> None:
        """Reply ``content`` only after ``seconds`` (to trigger client timeouts)."""
        self.queue(Reply(content=content, delay=seconds))

    def malformed(self, body: bytes | str, *, status: int = 200) -> None:
        self.queue(Reply(status=status, body=body.encode() if isinstance(body, str) else body))

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._replies)

    # --- serving --------------------------------------------------------------------------

    def _next(self) -> Reply:
        with self._lock:
            if self._replies:
                return self._replies.popleft()
        body = json.dumps({"error": {"message": "fake LLM: no scripted reply left"}})
        return Reply(status=599, body=body.encode())

    def _completion(self, content: str) -> bytes:
        return json.dumps(
            {
                "id": f"chatcmpl-fake-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        ).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

            def _record(self) -> RecordedRequest:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                request = RecordedRequest(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    raw=self.rfile.read(length) if length else b"",
                    received_at=time.monotonic(),
                )
                with fake._lock:
                    fake.requests.append(request)
                return request

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (a timeout test); nothing to tell it

            def do_POST(self) -> None:
                request = self._record()
                if not request.path.endswith("/chat/completions"):
                    self._send(404, b'{"error": {"message": "not found"}}', {})
                    return
                reply = fake._next()
                if reply.delay and fake._stopping.wait(reply.delay):
                    return
                body = (
                    reply.body if reply.body is not None else fake._completion(reply.content or "")
                )
                self._send(reply.status, body, reply.headers)

            def do_GET(self) -> None:
                request = self._record()
                if request.path.endswith("/models"):
                    body = {"object": "list", "data": [{"id": fake.model, "object": "model"}]}
                    self._send(200, json.dumps(body).encode(), {})
                else:
                    self._send(404, b'{"error": {"message": "not found"}}', {})

        return Handler
