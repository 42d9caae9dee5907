"""The OpenAI-compatible provider against a real local HTTP server (tests/nl/fake_llm.py)."""

from __future__ import annotations

import logging
import socket
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from sqlgate.nl.providers import (
    ChatMessage,
    ChatProvider,
    OpenAICompatibleProvider,
    ProviderConfig,
    ProviderError,
    ProviderHTTPError,
    ProviderResponseError,
    ProviderTimeout,
    ProviderUnavailable,
    provider_from_settings,
)
from sqlgate.settings import Settings
from tests.conftest import make_settings
from tests.nl.fake_llm import FakeLLM, Reply

KEY = "sk-test-4f9c2a1b7e6d5c3a"
MESSAGES: list[ChatMessage] = [
    {"role": "system", "content": "You write SQLite SQL."},
    {"role": "user", "content": "How many orders?"},
]


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


def provider(llm: FakeLLM, **overrides: object) -> OpenAICompatibleProvider:
    values: dict[str, object] = {
        "base_url": llm.base_url,
        "model": "fake-model",
        "api_key": SecretStr(KEY),
        "timeout": 5.0,
        "retry_backoff": 0.01,
    }
    values.update(overrides)
    return OpenAICompatibleProvider(ProviderConfig(**values))  # type: ignore[arg-type]


# --- success ---------------------------------------------------------------------------------


def test_a_completion_sends_the_messages_and_returns_the_answer(llm: FakeLLM) -> None:
    llm.answer("SELECT count(*) FROM orders")
    with provider(llm, headers={"X-Gateway-Route": "sql"}) as chat:
        assert isinstance(chat, ChatProvider)
        assert chat.complete(MESSAGES) == "SELECT count(*) FROM orders"

    (request,) = llm.requests
    assert request.method == "POST"
    assert request.path == "/v1/chat/completions"
    assert request.query == {}
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["x-gateway-route"] == "sql"
    assert "api-key" not in request.headers
    assert request.body == {
        "model": "fake-model",
        "messages": MESSAGES,
        "stream": False,
        "temperature": 0.0,
        "max_tokens": 1024,
    }


def test_unset_temperature_and_max_tokens_are_not_sent_and_extra_body_is(llm: FakeLLM) -> None:
    llm.answer("ok")
    with provider(
        llm, api_key=None, temperature=None, max_tokens=None, extra_body={"seed": 7}
    ) as chat:
        chat.complete(MESSAGES)
    (request,) = llm.requests
    assert "authorization" not in request.headers  # a local server without a key
    assert request.body == {
        "model": "fake-model",
        "messages": MESSAGES,
        "stream": False,
        "seed": 7,
    }


def test_content_parts_are_joined(llm: FakeLLM) -> None:
    llm.malformed(
        '{"choices": [{"message": {"role": "assistant", "content": '
        '[{"type": "text", "text": "SELECT "}, {"type": "text", "text": "1"}]}}]}'
    )
    with provider(llm) as chat:
        assert chat.complete(MESSAGES) == "SELECT 1"


# --- retries ---------------------------------------------------------------------------------


def test_429_and_500_are_retried_with_backoff_then_the_answer_comes(llm: FakeLLM) -> None:
    llm.fail(429, retry_after=0.3)
    llm.fail(500)
    llm.answer("SELECT 1")
    with provider(llm, max_retries=2, retry_backoff=0.05) as chat:
        assert chat.complete(MESSAGES) == "SELECT 1"

    first, second, third = llm.requests
    assert [r.body for r in llm.requests] == [first.body] * 3  # the same request each time
    # Retry-After (0.3 s) wins over the backoff; then the backoff doubles (0.05 -> 0.1 s).
    assert second.received_at - first.received_at >= 0.3
    assert third.received_at - second.received_at >= 0.1


def test_retries_run_out_with_the_last_http_error(llm: FakeLLM) -> None:
    llm.fail(503, times=3, message="overloaded")
    with provider(llm, max_retries=2) as chat, pytest.raises(ProviderHTTPError) as caught:
        chat.complete(MESSAGES)
    assert len(llm.requests) == 3
    assert caught.value.details == {"upstream_status": 503, "attempts": 3}
    assert "HTTP 503: overloaded" in caught.value.message
    assert caught.value.status == 502 and caught.value.code == "llm_http_error"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_not_retried(llm: FakeLLM, status: int) -> None:
    llm.fail(status, times=3, message="bad request")
    with provider(llm, max_retries=2) as chat, pytest.raises(ProviderHTTPError) as caught:
        chat.complete(MESSAGES)
    assert len(llm.requests) == 1
    assert caught.value.details["upstream_status"] == status


# --- timeouts and unreachable servers --------------------------------------------------------


def test_a_slow_server_times_out_after_the_retries(llm: FakeLLM) -> None:
    llm.delay(3.0)
    llm.delay(3.0)
    started = time.monotonic()
    with (
        provider(llm, timeout=0.3, max_retries=1) as chat,
        pytest.raises(ProviderTimeout) as caught,
    ):
        chat.complete(MESSAGES)
    elapsed = time.monotonic() - started
    assert 0.6 <= elapsed < 2.0
    assert len(llm.requests) == 2
    assert caught.value.code == "llm_timeout" and caught.value.status == 504
    assert isinstance(caught.value, ProviderError)


def test_the_callers_timeout_caps_the_whole_call(llm: FakeLLM) -> None:
    llm.delay(3.0)
    llm.delay(3.0)
    llm.delay(3.0)
    started = time.monotonic()
    with provider(llm, timeout=10.0, max_retries=2) as chat, pytest.raises(ProviderTimeout):
        chat.complete(MESSAGES, timeout=0.5)
    assert time.monotonic() - started < 1.5


def test_a_timeout_then_an_answer_succeeds(llm: FakeLLM) -> None:
    llm.delay(3.0)
    llm.answer("SELECT 2")
    with provider(llm, timeout=0.3, max_retries=1) as chat:
        assert chat.complete(MESSAGES) == "SELECT 2"


def test_a_closed_port_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = ProviderConfig(
        base_url=f"http://127.0.0.1:{port}/v1", model="m", max_retries=1, retry_backoff=0.01
    )
    with OpenAICompatibleProvider(config) as chat, pytest.raises(ProviderUnavailable) as caught:
        chat.complete(MESSAGES)
    assert caught.value.details["attempts"] == 2


# --- malformed answers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("<html>Bad Gateway</html>", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"id": "x"}', "no choices"),
        ('{"choices": []}', "no choices"),
        ('{"choices": [{"message": {"role": "assistant", "content": null}}]}', "empty"),
        ('{"choices": [{"message": {"role": "assistant", "content": "  "}}]}', "empty"),
        ('{"choices": [{"text": "legacy completion"}]}', "empty"),
        (
            '{"choices": [{"message": {"content": null, "refusal": "I cannot help"}}]}',
            "refused: I cannot help",
        ),
        ('{"error": {"message": "model not loaded"}}', "model not loaded"),
    ],
)
def test_a_malformed_answer_is_a_response_error(llm: FakeLLM, body: str, reason: str) -> None:
    llm.malformed(body)
    with provider(llm, max_retries=2) as chat, pytest.raises(ProviderResponseError) as caught:
        chat.complete(MESSAGES)
    assert reason in caught.value.message
    assert len(llm.requests) == 1  # a malformed answer is not retried


# --- Azure OpenAI ----------------------------------------------------------------------------


def test_azure_uses_deployment_urls_api_version_and_the_api_key_header(llm: FakeLLM) -> None:
    llm.answer("SELECT 3")
    with provider(llm, base_url=llm.url + "/", model="sql-gpt4o", api_version="2024-10-21") as chat:
        assert chat.complete(MESSAGES) == "SELECT 3"
    (request,) = llm.requests
    assert request.path == "/openai/deployments/sql-gpt4o/chat/completions"
    assert request.query == {"api-version": ["2024-10-21"]}
    assert request.headers["api-key"] == KEY
    assert "authorization" not in request.headers


# --- the API key stays secret ----------------------------------------------------------------


def test_the_api_key_is_never_in_logs_or_errors(
    llm: FakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    echo = f"Incorrect API key provided: {KEY}"
    llm.fail(500, message=echo)
    llm.fail(401, message=echo)
    llm.malformed(f'{{"error": {{"message": "{echo}"}}}}')
    caplog.set_level(logging.DEBUG)
    chat = provider(llm, max_retries=1)
    errors: list[ProviderError] = []
    for _ in range(2):
        with pytest.raises(ProviderError) as caught:
            chat.complete(MESSAGES)
        errors.append(caught.value)
    llm.delay(2.0)
    with pytest.raises(ProviderTimeout) as timed_out:
        provider(llm, timeout=0.2, max_retries=0).complete(MESSAGES)
    errors.append(timed_out.value)
    chat.close()

    assert len(llm.requests) == 4
    assert "Incorrect API key provided: ***" in errors[0].message  # the echo is masked
    for error in errors:
        rendered = "".join(traceback.format_exception(error))
        assert KEY not in rendered
        assert KEY not in repr(error) and KEY not in str(error.body())
    assert "retry 1 of 1" in caplog.text
    assert KEY not in caplog.text
    assert KEY not in repr(chat) and KEY not in repr(chat.config)


# --- configuration ---------------------------------------------------------------------------


def test_no_base_url_means_no_provider(tmp_path: Path) -> None:
    assert provider_from_settings(make_settings(tmp_path)) is None


def test_settings_from_the_environment_configure_the_provider(
    llm: FakeLLM, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SQLGATE_LLM_BASE_URL", llm.base_url)
    monkeypatch.setenv("SQLGATE_LLM_MODEL", "qwen2.5-coder:7b")
    monkeypatch.setenv("SQLGATE_LLM_API_KEY", KEY)
    monkeypatch.setenv("SQLGATE_LLM_TIMEOUT", "7.5")
    monkeypatch.setenv("SQLGATE_LLM_HEADERS", '{"X-Team": "data"}')
    monkeypatch.setenv("SQLGATE_LLM_EXTRA_BODY", '{"options": {"num_ctx": 8192}}')
    settings = Settings(data_dir=tmp_path)
    assert KEY not in repr(settings)

    chat = provider_from_settings(settings)
    assert isinstance(chat, OpenAICompatibleProvider)
    assert chat.config.timeout == 7.5
    llm.answer("SELECT 4")
    try:
        assert chat.complete(MESSAGES) == "SELECT 4"
    finally:
        chat.close()
    (request,) = llm.requests
    assert request.body["model"] == "qwen2.5-coder:7b"
    assert request.body["options"] == {"num_ctx": 8192}
    assert request.headers["x-team"] == "data"
    assert chat.name == f"qwen2.5-coder:7b at {llm.base_url}"


def test_empty_max_tokens_and_temperature_leave_them_out(
    llm: FakeLLM, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SQLGATE_LLM_BASE_URL", llm.base_url)
    monkeypatch.setenv("SQLGATE_LLM_MODEL", "o3-mini")
    monkeypatch.setenv("SQLGATE_LLM_MAX_TOKENS", "")
    monkeypatch.setenv("SQLGATE_LLM_TEMPERATURE", "none")
    monkeypatch.setenv("SQLGATE_LLM_EXTRA_BODY", '{"max_completion_tokens": 2048}')
    chat = provider_from_settings(Settings(data_dir=tmp_path))
    assert chat is not None
    llm.answer("SELECT 5")
    try:
        chat.complete(MESSAGES)
    finally:
        assert isinstance(chat, OpenAICompatibleProvider)
        chat.close()
    body = llm.requests[0].body
    assert "max_tokens" not in body and "temperature" not in body
    assert body["max_completion_tokens"] == 2048


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"llm_base_url": "http://127.0.0.1:1/v1"}, "SQLGATE_LLM_MODEL is required"),
        ({"llm_base_url": "ftp://example.com", "llm_model": "m"}, "must be an http(s) URL"),
        ({"llm_base_url": "not a url", "llm_model": "m"}, "must be an http(s) URL"),
    ],
)
def test_unusable_settings_are_refused(
    tmp_path: Path, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        provider_from_settings(make_settings(tmp_path, **overrides))


def test_an_empty_conversation_is_a_programming_error(llm: FakeLLM) -> None:
    with provider(llm) as chat, pytest.raises(ValueError):
        chat.complete([])
    assert llm.requests == []


def test_the_fake_server_reports_unscripted_requests(llm: FakeLLM) -> None:
    llm.queue(Reply(content="only one"))
    with provider(llm, max_retries=0) as chat:
        assert chat.complete(MESSAGES) == "only one"
        with pytest.raises(ProviderHTTPError, match="no scripted reply"):
            chat.complete(MESSAGES)
