"""Streamed chat completions against a local OpenAI-compatible server that streams SSE."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from sqlgate.nl.providers import (
    ChatMessage,
    ProviderConfig,
    ProviderHTTPError,
    ProviderResponseError,
    ProviderTimeout,
    ProviderUnavailable,
)
from sqlgate.nl.streaming import stream_chat
from tests.nl.fake_llm import FakeLLM
from tests.nl.fake_llm_stream import StreamingFakeLLM

MESSAGES: list[ChatMessage] = [
    {"role": "system", "content": "You explain things."},
    {"role": "user", "content": "Why is the sky blue?"},
]
ANSWER = "Because air scatters blue light more than red light."


@pytest.fixture
def llm() -> Iterator[StreamingFakeLLM]:
    with StreamingFakeLLM(piece_chars=7) as server:
        yield server


def config(server: FakeLLM, **overrides: object) -> ProviderConfig:
    values: dict[str, object] = {
        "base_url": server.base_url,
        "model": "fake",
        "timeout": 5.0,
        "max_retries": 0,
        "retry_backoff": 0.0,
    }
    values.update(overrides)
    return ProviderConfig(**values)  # type: ignore[arg-type]


def test_pieces_arrive_as_the_server_streams_them(llm: StreamingFakeLLM) -> None:
    llm.answer(ANSWER)
    pieces = list(stream_chat(config(llm), MESSAGES))
    assert len(pieces) == -(-len(ANSWER) // 7)
    assert "".join(pieces) == ANSWER
    body = llm.requests[0].body
    assert body["stream"] is True
    assert body["messages"] == MESSAGES
    assert llm.requests[0].headers["accept"] == "text/event-stream"


def test_nothing_is_sent_before_iteration(llm: StreamingFakeLLM) -> None:
    llm.answer(ANSWER)
    stream = stream_chat(config(llm), MESSAGES)
    assert llm.requests == []
    assert next(stream) == ANSWER[:7]
    stream.close()


def test_a_server_that_ignores_stream_answers_in_one_piece() -> None:
    with FakeLLM() as plain:
        plain.answer(ANSWER)
        assert list(stream_chat(config(plain), MESSAGES)) == [ANSWER]


def test_retryable_status_before_the_first_piece_is_retried(llm: StreamingFakeLLM) -> None:
    llm.fail(503)
    llm.answer(ANSWER)
    assert "".join(stream_chat(config(llm, max_retries=1), MESSAGES)) == ANSWER
    assert len(llm.requests) == 2


def test_client_error_fails_at_once_with_the_key_masked(llm: StreamingFakeLLM) -> None:
    llm.fail(401, message="Incorrect API key provided: sk-secret-123")
    cfg = config(llm, api_key=SecretStr("sk-secret-123"), max_retries=3)
    with pytest.raises(ProviderHTTPError) as caught:
        list(stream_chat(cfg, MESSAGES))
    assert caught.value.details["upstream_status"] == 401
    assert "sk-secret-123" not in caught.value.message
    assert "***" in caught.value.message
    assert llm.requests[0].headers["authorization"] == "Bearer sk-secret-123"
    assert len(llm.requests) == 1


def test_a_stream_cut_off_midway_fails_after_its_pieces(llm: StreamingFakeLLM) -> None:
    first = llm.chunk_events(ANSWER).split(b"\n\n")[1] + b"\n\n"  # one event, no end
    llm.malformed(first)
    stream = stream_chat(config(llm), MESSAGES)
    assert next(stream) == ANSWER[:7]
    with pytest.raises(ProviderUnavailable, match="ended the stream"):
        next(stream)


def test_the_end_of_the_stream_ends_its_last_event(llm: StreamingFakeLLM) -> None:
    """A server that closes the stream right after its last event, with no blank line and no
    ``[DONE]``, still delivers that event's piece."""
    events = llm.chunk_events(ANSWER).removesuffix(b"data: [DONE]\n\n").removesuffix(b"\n\n")
    llm.malformed(events)
    assert "".join(stream_chat(config(llm), MESSAGES)) == ANSWER


def test_an_error_event_is_a_response_error(llm: StreamingFakeLLM) -> None:
    llm.malformed(b'data: {"error": {"message": "model overloaded"}}\n\n')
    with pytest.raises(ProviderResponseError, match="model overloaded"):
        list(stream_chat(config(llm), MESSAGES))


def test_a_slow_server_times_out(llm: StreamingFakeLLM) -> None:
    llm.delay(3.0, ANSWER)
    started = time.monotonic()
    with pytest.raises(ProviderTimeout):
        list(stream_chat(config(llm), MESSAGES, timeout=0.4))
    assert time.monotonic() - started < 2.0
