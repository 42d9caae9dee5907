"""LLM providers: any OpenAI-compatible chat-completions endpoint, configured by settings.

One client covers OpenAI, Azure OpenAI, Ollama, vLLM, llama.cpp's server, LiteLLM and the other
servers that speak ``POST {base_url}/chat/completions``. With no base URL configured,
:func:`provider_from_settings` returns ``None`` and the embedded engine answers every question.

A request that fails with 408, 409, 429, a 5xx status, a timeout or a dropped connection is tried
again, up to ``llm_max_retries`` more times, after ``llm_retry_backoff`` seconds doubling each
time (a ``Retry-After`` header wins, up to 30 seconds); every other failure raises at once. All
failures raise a :class:`ProviderError` subclass. The API key never appears in logs, exception
messages or ``repr``: it travels only in a request header, and any echo of it in an upstream
error message is masked.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypedDict, runtime_checkable

import httpx
from pydantic import SecretStr

from sqlgate.errors import SqlgateError

if TYPE_CHECKING:
    from sqlgate.settings import Settings

log = logging.getLogger(__name__)

_RETRY_STATUSES = frozenset({408, 409, 429})
_MAX_RETRY_AFTER = 30.0
_DETAIL_CHARS = 300


class ChatMessage(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


# --- errors --------------------------------------------------------------------------------


class ProviderError(SqlgateError):
    """The LLM provider failed; the pipeline falls back to the embedded engine."""

    code = "llm_error"
    status = 502


class ProviderTimeout(ProviderError):
    """No answer within the timeout (after the retries)."""

    code = "llm_timeout"
    status = 504


class ProviderUnavailable(ProviderError):
    """The provider could not be reached (refused connection, DNS, TLS, dropped connection)."""

    code = "llm_unavailable"


class ProviderHTTPError(ProviderError):
    """The provider answered with an error status (``upstream_status``)."""

    code = "llm_http_error"


class ProviderResponseError(ProviderError):
    """The provider answered 2xx, but not with a usable chat completion."""

    code = "llm_bad_response"


# --- the protocol --------------------------------------------------------------------------


@runtime_checkable
class ChatProvider(Protocol):
    """What the NL pipeline needs from a language model."""

    @property
    def name(self) -> str:
        """Which model at which server, for prompt logs and errors (never a secret)."""
        ...

    def complete(self, messages: Sequence[ChatMessage], *, timeout: float | None = None) -> str:
        """The assistant's answer to ``messages``. ``timeout`` caps the whole call, retries
        included (default: each attempt has the provider's own timeout). Raises
        :class:`ProviderError`."""
        ...


@dataclass(frozen=True)
class ProviderConfig:
    """How to reach one OpenAI-compatible endpoint (``SQLGATE_LLM_*``; see ``docs/llm.md``)."""

    base_url: str
    model: str
    api_key: SecretStr | None = None
    #: Azure OpenAI's ``api-version``: selects the Azure URL shape and ``api-key`` header.
    api_version: str | None = None
    timeout: float = 60.0
    max_retries: int = 2
    retry_backoff: float = 1.0
    max_tokens: int | None = 1024
    temperature: float | None = 0.0
    headers: Mapping[str, str] = field(default_factory=dict)
    extra_body: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> ProviderConfig | None:
        """The configured endpoint, or None when ``llm_base_url`` is unset. Raises ValueError
        for a configuration that cannot work."""
        if not settings.llm_base_url:
            return None
        if not settings.llm_model:
            raise ValueError(
                "SQLGATE_LLM_MODEL is required when SQLGATE_LLM_BASE_URL is set "
                "(for Azure OpenAI: the deployment name)"
            )
        try:
            url = httpx.URL(settings.llm_base_url)
        except httpx.InvalidURL:
            url = httpx.URL()
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(
                f"SQLGATE_LLM_BASE_URL must be an http(s) URL, not {settings.llm_base_url!r}"
            )
        return cls(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key,
            api_version=settings.llm_api_version,
            timeout=settings.llm_timeout,
            max_retries=settings.llm_max_retries,
            retry_backoff=settings.llm_retry_backoff,
            max_tokens=settings.llm_max_tokens,
            temperature=settings.llm_temperature,
            headers=dict(settings.llm_headers),
            extra_body=dict(settings.llm_extra_body),
        )

    @property
    def is_azure(self) -> bool:
        return self.api_version is not None

    @property
    def url(self) -> str:
        """Where chat completions are posted (without the query string)."""
        base = self.base_url.rstrip("/")
        if self.is_azure:
            return f"{base}/openai/deployments/{self.model}/chat/completions"
        return f"{base}/chat/completions"


class Endpoint:
    """What a plain and a streamed request to one endpoint share: the headers (the key only
    there), the request body, and how an unreachable server or an error status becomes a
    :class:`ProviderError` with the key masked."""

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self._secret = config.api_key.get_secret_value() if config.api_key else ""
        self.name = f"{config.model} at {config.base_url}"

    def headers(self, accept: str) -> dict[str, str]:
        headers = {"Accept": accept, **self.config.headers}
        if self._secret:
            if self.config.is_azure:
                headers["api-key"] = self._secret
            else:
                headers["Authorization"] = f"Bearer {self._secret}"
        return headers

    @property
    def params(self) -> dict[str, str] | None:
        return {"api-version": self.config.api_version} if self.config.api_version else None

    def body(self, messages: Sequence[ChatMessage], *, stream: bool) -> dict[str, Any]:
        """The request body; ``extra_body`` may add to it, but not turn streaming off."""
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
            "stream": stream,
        }
        if self.config.temperature is not None:
            body["temperature"] = self.config.temperature
        if self.config.max_tokens is not None:
            body["max_tokens"] = self.config.max_tokens
        body.update(self.config.extra_body)
        if stream:
            body["stream"] = True
        return body

    def mask(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    def backoff(self, attempt: int) -> float:
        return float(self.config.retry_backoff * 2 ** (attempt - 1))

    def unreachable(self, error: httpx.TransportError, attempt: int) -> ProviderUnavailable:
        message = f"Could not reach the LLM provider {self.name}: {error}"
        return ProviderUnavailable(self.mask(message), attempts=attempt)

    def status_failure(
        self, response: httpx.Response, attempt: int
    ) -> tuple[ProviderHTTPError, float | None]:
        """The error for an error status, and how long to wait before trying again (None: do
        not try again)."""
        failure = ProviderHTTPError(
            self.mask(
                f"The LLM provider {self.name} answered HTTP {response.status_code}: "
                f"{_error_detail(response)}"
            ),
            upstream_status=response.status_code,
            attempts=attempt,
        )
        if not _retryable(response.status_code):
            return failure, None
        return failure, _retry_after(response) or self.backoff(attempt)


class OpenAICompatibleProvider:
    """A :class:`ChatProvider` over ``POST /chat/completions``. Thread-safe; ``close()`` it
    (or use it as a context manager) to release its connections."""

    def __init__(
        self,
        config: ProviderConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self._sleep = sleep
        self._endpoint = Endpoint(config)
        self._client = httpx.Client(
            headers=self._endpoint.headers("application/json"),
            params=self._endpoint.params,
            transport=transport,
            follow_redirects=False,
        )

    @property
    def name(self) -> str:
        return self._endpoint.name

    def __repr__(self) -> str:
        return f"OpenAICompatibleProvider({self.name!r})"

    def __enter__(self) -> OpenAICompatibleProvider:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def complete(self, messages: Sequence[ChatMessage], *, timeout: float | None = None) -> str:
        """The assistant's answer to ``messages`` (see :class:`ChatProvider`). Each attempt may
        take ``llm_timeout`` seconds; ``timeout`` caps the whole call, retries included."""
        if not messages:
            raise ValueError("complete() needs at least one message")
        body = self._endpoint.body(messages, stream=False)
        deadline = None if timeout is None else time.monotonic() + timeout
        attempts = self.config.max_retries + 1
        for attempt in range(1, attempts + 1):
            limit = self.config.timeout
            if deadline is not None:
                limit = min(limit, deadline - time.monotonic())
                if limit <= 0:
                    raise self._timeout(attempt - 1)
            failure, wait = self._attempt(body, attempt, limit)
            if isinstance(failure, str):
                return failure
            if attempt == attempts or wait is None:
                raise failure
            if deadline is not None and time.monotonic() + wait >= deadline:
                raise (
                    failure if not isinstance(failure, ProviderTimeout) else self._timeout(attempt)
                )
            log.warning(
                "LLM request to %s failed (%s); retry %d of %d in %.1f s",
                self.name,
                failure.message,
                attempt,
                attempts - 1,
                wait,
            )
            self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(
        self, body: dict[str, Any], attempt: int, limit: float
    ) -> tuple[str | ProviderError, float | None]:
        """One request: the answer, or the failure and how long to wait before a retry (None:
        do not retry). Failures are built outside ``except`` blocks on purpose: the httpx
        exception (whose request holds the key header) is not chained to them."""
        started = time.monotonic()
        error: httpx.TransportError | None = None
        try:
            response = self._client.post(self.config.url, json=body, timeout=limit)
        except httpx.TransportError as exc:
            error = exc
        if isinstance(error, httpx.TimeoutException):
            return self._timeout(attempt), self._endpoint.backoff(attempt)
        if error is not None:
            return self._endpoint.unreachable(error, attempt), self._endpoint.backoff(attempt)
        if response.is_success:
            answer = self._answer(response)
            log.debug(
                "LLM %s answered in %.0f ms (attempt %d)",
                self.name,
                (time.monotonic() - started) * 1000,
                attempt,
            )
            return answer, None
        return self._endpoint.status_failure(response, attempt)

    def _timeout(self, attempts: int) -> ProviderTimeout:
        return ProviderTimeout(
            f"The LLM provider {self.name} did not answer in time "
            f"({attempts} attempt{'s' if attempts != 1 else ''})",
            attempts=attempts,
        )

    def _answer(self, response: httpx.Response) -> str:
        try:
            data = response.json()
        except ValueError:
            raise self._bad(response, "the body is not JSON") from None
        if not isinstance(data, dict):
            raise self._bad(response, "the body is not a JSON object")
        if "error" in data and "choices" not in data:
            raise self._bad(response, f"it reports an error: {_error_detail(response)}")
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise self._bad(response, "it has no choices")
        message = choices[0].get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):  # content parts, as some servers send them
            content = "".join(
                p.get("text", "")
                for p in content
                if isinstance(p, dict) and p.get("type") == "text"
            )
        if not isinstance(content, str) or not content.strip():
            refusal = message.get("refusal") if isinstance(message, dict) else None
            reason = f"the model refused: {refusal}" if refusal else "the answer is empty"
            raise self._bad(response, reason)
        return content

    def _bad(self, response: httpx.Response, reason: str) -> ProviderResponseError:
        return ProviderResponseError(
            self._endpoint.mask(
                f"The LLM provider {self.name} sent no usable chat completion: {reason}"
            ),
            upstream_status=response.status_code,
        )


def provider_from_settings(
    settings: Settings, *, transport: httpx.BaseTransport | None = None
) -> ChatProvider | None:
    """The configured LLM provider, or None (the embedded engine answers) when
    ``SQLGATE_LLM_BASE_URL`` is unset. Raises ValueError for an unusable configuration."""
    config = ProviderConfig.from_settings(settings)
    if config is None:
        return None
    return OpenAICompatibleProvider(config, transport=transport)


def _retryable(status: int) -> bool:
    return status in _RETRY_STATUSES or status >= 500


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asked to wait (``Retry-After``: seconds or an HTTP date), capped."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


def _error_detail(response: httpx.Response) -> str:
    """The upstream's own error message (OpenAI shape ``{"error": {"message"}}`` or text)."""
    try:
        data = response.json()
    except ValueError:
        text = response.text.strip()
    else:
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            text = str(error.get("message") or error)
        elif error:
            text = str(error)
        else:
            text = str(data)
    text = " ".join(text.split())
    if len(text) > _DETAIL_CHARS:
        text = text[:_DETAIL_CHARS] + "..."
    return text or response.reason_phrase or "no detail"
