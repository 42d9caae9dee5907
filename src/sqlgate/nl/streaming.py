"""Streamed chat completions: the answer of an OpenAI-compatible endpoint, piece by piece.

:func:`stream_chat` posts the same request as
:class:`~sqlgate.nl.providers.OpenAICompatibleProvider` with ``"stream": true`` and yields the
text of each ``choices[0].delta.content`` as the server sends it (server-sent events, ``data:
{...}`` lines, ended by ``data: [DONE]``). It is what the explanation of a ``NON_SQL_QUERY``
answer streams through.

* A server that ignores ``stream`` and answers one JSON completion is accepted: its whole answer
  is yielded once.
* Failures raise the provider's errors (:class:`~sqlgate.nl.providers.ProviderError`
  subclasses). Before the first piece, a timeout, a dropped connection or HTTP 408/409/429/5xx is
  retried like a plain request (``llm_max_retries``, ``llm_retry_backoff``, ``Retry-After``);
  after it, the stream fails with the error, since text already sent cannot be taken back.
* ``timeout`` caps the whole stream, retries included; each read may wait ``llm_timeout``.
* The API key travels only in a header and is masked in error messages.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Generator, Iterator, Sequence

import httpx

from sqlgate.nl.providers import (
    ChatMessage,
    Endpoint,
    ProviderConfig,
    ProviderError,
    ProviderResponseError,
    ProviderTimeout,
    ProviderUnavailable,
)

_DONE = "[DONE]"


def stream_chat(
    config: ProviderConfig,
    messages: Sequence[ChatMessage],
    *,
    timeout: float | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Generator[str, None, None]:
    """Yield the assistant's answer to ``messages`` in pieces as the server streams it.

    Nothing is sent until the first ``next()``. Closing the generator early closes the HTTP
    response. Raises :class:`ProviderError` subclasses (see the module doc)."""
    if not messages:
        raise ValueError("stream_chat() needs at least one message")
    return _Stream(config, messages, timeout, transport, sleep).run()


class _Stream:
    def __init__(
        self,
        config: ProviderConfig,
        messages: Sequence[ChatMessage],
        timeout: float | None,
        transport: httpx.BaseTransport | None,
        sleep: Callable[[float], None],
    ) -> None:
        self.config = config
        self.messages = messages
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.transport = transport
        self.sleep = sleep
        self.endpoint = Endpoint(config)
        self.name = self.endpoint.name

    def remaining(self) -> float:
        limit = self.config.timeout
        if self.deadline is not None:
            limit = min(limit, self.deadline - time.monotonic())
        return limit

    def run(self) -> Generator[str, None, None]:
        with httpx.Client(
            headers=self.endpoint.headers("text/event-stream"),
            params=self.endpoint.params,
            transport=self.transport,
            follow_redirects=False,
        ) as client:
            attempts = self.config.max_retries + 1
            for attempt in range(1, attempts + 1):
                sent_any = False
                failure: ProviderError | None = None
                wait: float | None = None
                try:
                    for piece in self._attempt(client, attempt):
                        sent_any = True
                        yield piece
                    return
                except _Retryable as exc:
                    failure, wait = exc.error, exc.wait
                if sent_any or attempt == attempts or wait is None:
                    raise failure
                if self.deadline is not None and time.monotonic() + wait >= self.deadline:
                    raise failure
                self.sleep(wait)

    def _attempt(self, client: httpx.Client, attempt: int) -> Iterator[str]:
        limit = self.remaining()
        if limit <= 0:
            raise self._timeout(attempt - 1)
        error: httpx.TransportError | None = None
        try:
            body = self.endpoint.body(self.messages, stream=True)
            with client.stream("POST", self.config.url, json=body, timeout=limit) as resp:
                if not resp.is_success:
                    resp.read()
                    raise self._status_failure(resp, attempt)
                kind = resp.headers.get("content-type", "")
                if "text/event-stream" not in kind:
                    resp.read()
                    yield self._whole_answer(resp)
                    return
                yield from self._events(resp.iter_lines(), attempt)
        except httpx.TransportError as exc:
            error = exc
        wait = self.endpoint.backoff(attempt)
        if isinstance(error, httpx.TimeoutException):
            raise _Retryable(self._timeout(attempt), wait)
        if error is not None:
            raise _Retryable(self.endpoint.unreachable(error, attempt), wait)

    def _events(self, lines: Iterator[str], attempt: int) -> Iterator[str]:
        data: list[str] = []
        finished = False
        ended: list[str | None] = [None]  # the end of the stream ends the last event too
        for line in itertools.chain(lines, ended):
            if line is None:
                line = ""
            elif self.deadline is not None and time.monotonic() > self.deadline:
                raise self._timeout(attempt)
            if line.startswith(":"):
                continue  # an SSE comment (keep-alive)
            if line.strip():
                field, _, value = line.partition(":")
                if field == "data":
                    data.append(value[1:] if value.startswith(" ") else value)
                continue
            if not data:
                continue
            payload, data = "\n".join(data), []
            if payload.strip() == _DONE:
                return
            piece, done = self._delta(payload)
            finished = finished or done
            if piece:
                yield piece
        if not finished:
            raise ProviderUnavailable(
                f"The LLM provider {self.name} ended the stream before the answer was complete",
                attempts=attempt,
            )

    def _delta(self, payload: str) -> tuple[str, bool]:
        try:
            event = json.loads(payload)
        except ValueError:
            raise self._bad("an event is not JSON") from None
        if not isinstance(event, dict):
            raise self._bad("an event is not a JSON object")
        if "error" in event and "choices" not in event:
            error = event["error"]
            detail = error.get("message") if isinstance(error, dict) else error
            raise self._bad(f"it reports an error: {detail}")
        choices = event.get("choices")
        if not isinstance(choices, list) or not choices:
            return "", False  # e.g. a usage-only event
        choice = choices[0] if isinstance(choices[0], dict) else {}
        delta = choice.get("delta") or {}
        content = delta.get("content") if isinstance(delta, dict) else None
        return (content if isinstance(content, str) else ""), bool(choice.get("finish_reason"))

    def _whole_answer(self, response: httpx.Response) -> str:
        try:
            data = response.json()
            content = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise self._bad("the answer is neither an event stream nor a completion") from None
        if not isinstance(content, str) or not content:
            raise self._bad("the answer is empty")
        return content

    def _status_failure(self, response: httpx.Response, attempt: int) -> Exception:
        failure, wait = self.endpoint.status_failure(response, attempt)
        return failure if wait is None else _Retryable(failure, wait)

    def _timeout(self, attempts: int) -> ProviderTimeout:
        return ProviderTimeout(
            f"The LLM provider {self.name} did not stream its answer in time",
            attempts=attempts,
        )

    def _bad(self, reason: str) -> ProviderResponseError:
        return ProviderResponseError(
            self.endpoint.mask(
                f"The LLM provider {self.name} sent no usable streamed answer: {reason}"
            )
        )


class _Retryable(Exception):
    """A failure before the first piece that may be retried after ``wait`` seconds."""

    def __init__(self, error: ProviderError, wait: float | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.wait = wait
