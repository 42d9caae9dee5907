"""The one error model.

Every failure a client can see is a :class:`SqlgateError`. The code and HTTP status are data on
the class (or the instance), and a single handler in :mod:`sqlgate.api.errors` renders them as::

    {"error": {"code": "not_found", "message": "...", ...details}}

Codes and statuses follow the vendor error table (seed 002) where it has one. :data:`ERROR_TABLE`
is the one list of what a client can see (code, status, meaning): the README's error table and
the error responses of every operation in the OpenAPI document are rendered from it, and a test
holds every subclass's code and status to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class SqlgateError(Exception):
    """Base of every error a client may see."""

    code: str = "internal_error"
    status: int = 500

    def __init__(self, message: str, *, status: int | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.details = {k: v for k, v in details.items() if v is not None}
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.details}}


class AuthenticationError(SqlgateError):
    """Missing, malformed, unknown, expired or revoked API key."""

    code = "authentication_error"
    status = 401


class AuthorizationError(SqlgateError):
    """The key is valid but lacks the scope the route needs."""

    code = "authorization_error"
    status = 403


class NotFound(SqlgateError):
    """The resource does not exist, or belongs to another organization."""

    code = "not_found"
    status = 404


class MethodNotAllowed(SqlgateError):
    code = "method_not_allowed"
    status = 405


class Conflict(SqlgateError):
    """The request would duplicate something that must be unique."""

    code = "conflict"
    status = 409


class ValidationError(SqlgateError):
    """The request is malformed: bad JSON, wrong types, values out of range."""

    code = "validation_error"
    status = 422


class PayloadTooLarge(SqlgateError):
    code = "payload_too_large"
    status = 413


class UnsupportedMediaType(SqlgateError):
    """A body in a format the route does not read (e.g. a semantic model neither JSON nor
    YAML)."""

    code = "unsupported_media_type"
    status = 415


class SqlSyntaxError(SqlgateError):
    """The SQL could not be parsed; ``line`` and ``column`` point at the problem."""

    code = "sql_syntax_error"
    status = 422


class SqlNotAllowed(SqlgateError):
    """The SQL parsed, but it is not a single read-only statement (or uses a denied feature)."""

    code = "sql_not_allowed"
    status = 422


class ParameterError(ValidationError):
    """Named parameters do not match the placeholders in the SQL."""


class RateLimitExceeded(SqlgateError):
    """A budget ran out: ``budget`` says which (``key``, ``member``, ``org`` or
    ``org_concurrency``); ``Retry-After`` says when to try again."""

    code = "rate_limit_exceeded"
    status = 429

    def __init__(self, message: str, *, retry_after: int, **details: Any) -> None:
        super().__init__(message, retry_after=retry_after, **details)
        self.headers["Retry-After"] = str(retry_after)


class ServiceUnavailable(SqlgateError):
    """A service sqlgate depends on (the Redis behind the shared rate limits) cannot be
    reached. Requests are refused rather than let through unlimited."""

    code = "service_unavailable"
    status = 503

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message, retry_after=retry_after)
        self.headers["Retry-After"] = str(retry_after)


class QueryError(SqlgateError):
    """The database refused or failed the statement.

    The vendor table gives 500 for *generated* SQL that fails (the server wrote it). SQL sent by the
    client that the database rejects is the client's to fix, so it is a 400 by default.
    """

    code = "query_error"
    status = 400


class ResultTooLarge(SqlgateError):
    """The result (or one batch of an export's rows) is larger than the server hands back at
    once (``SQLGATE_MAX_RESULT_BYTES``); ``limit_bytes`` says how large it may be."""

    code = "result_too_large"
    status = 422


class QueryTimeout(SqlgateError):
    """The statement ran past its ``timeout`` and was interrupted on the engine."""

    code = "timeout"
    status = 504


class ConnectionFailed(SqlgateError):
    """The database could not be reached or opened."""

    code = "connection_error"
    status = 502


class Gone(SqlgateError):
    """The resource existed but is no longer kept (an async result past its retention)."""

    code = "gone"
    status = 410


# --- the error table ----------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorKind:
    """One row of the error table: a code, the status it is sent with, and when."""

    code: str
    status: int
    meaning: str


#: Every (code, status) a client can receive, in the order the README lists them.
ERROR_TABLE: tuple[ErrorKind, ...] = (
    ErrorKind(
        "authentication_error", 401, "missing, malformed, unknown, expired or revoked API key"
    ),
    ErrorKind(
        "authorization_error",
        403,
        "the key lacks the route's scope, or `X-ORG-ID` is another organization; also a "
        'signed result link that is altered or expired (`"reason": "expired"`)',
    ),
    ErrorKind("not_found", 404, "unknown connection, organization, key, member, job or route"),
    ErrorKind("method_not_allowed", 405, "wrong HTTP method for the route"),
    ErrorKind(
        "conflict",
        409,
        "a name or email already used, a key revoked twice, a change that would leave no "
        "owner, revoking the last key that can manage the organization, an idempotency key "
        "reused for another request, a job with no result (yet)",
    ),
    ErrorKind(
        "gone",
        410,
        "an async result past its retention (`SQLGATE_ASYNC_RESULT_RETENTION_HOURS`, 24)",
    ),
    ErrorKind("payload_too_large", 413, "body over `SQLGATE_MAX_BODY_BYTES` (1 MiB)"),
    ErrorKind(
        "unsupported_media_type",
        415,
        "a body sent with a `Content-Type` the route does not read (JSON routes read "
        "`application/json`; a semantic model may also be YAML)",
    ),
    ErrorKind(
        "validation_error",
        422,
        "malformed JSON (with `line` and `column`), an empty body, a body that is not a JSON "
        'object, a body that is not UTF-8, text with a lone surrogate (`"\\udc80"`: not '
        "encodable, on every route), wrong types, unknown fields, out-of-range values, "
        "parameter mismatch; `details` lists each problem with its `field`",
    ),
    ErrorKind(
        "sql_syntax_error", 422, "SQL that does not parse; with `line`, `column`, `position`"
    ),
    ErrorKind(
        "sql_not_allowed", 422, "anything but one read-only statement; with `reason`, `query_type`"
    ),
    ErrorKind(
        "result_too_large",
        422,
        "a result (or an export batch) larger than `SQLGATE_MAX_RESULT_BYTES` (256 MiB); "
        "`limit_bytes` says the cap",
    ),
    ErrorKind(
        "rate_limit_exceeded",
        429,
        "a request budget or the concurrent-query cap ran out; `budget` says which (`key`, "
        "`member`, `org`, `org_concurrency`), `Retry-After` header and `retry_after` say when "
        "to retry (see [Rate limits](#rate-limits))",
    ),
    ErrorKind(
        "query_error",
        400,
        "the database refused or failed the statement (the seed table says 500 for "
        "*generated* SQL; SQL you send is yours to fix, so 400)",
    ),
    ErrorKind(
        "NON_SQL_QUERY",
        400,
        "a question that is not about the data (`generate_sql` answers it in the seed's shape, "
        "`{id, code, error, explanationQueryId}`)",
    ),
    ErrorKind(
        "query_error", 500, "SQL generated from a question failed on the database every time"
    ),
    ErrorKind("internal_error", 500, "a fault in sqlgate itself; the server log has the details"),
    ErrorKind(
        "connection_error",
        502,
        "the database could not be opened or reached, or refused the login (the message "
        "names the problem, never the password)",
    ),
    ErrorKind("llm_error", 502, "the language model failed and no fallback could answer"),
    ErrorKind("llm_unavailable", 502, "the language model's server could not be reached"),
    ErrorKind(
        "llm_http_error", 502, "the language model answered with an error (`upstream_status`)"
    ),
    ErrorKind("llm_bad_response", 502, "the language model's answer was not usable"),
    ErrorKind(
        "service_unavailable",
        503,
        "the Redis behind shared rate limits (`SQLGATE_REDIS_URL`) cannot be reached; "
        "requests are refused, not let through unlimited; `Retry-After: 5`. Also: two queries "
        "on the connection are still stopping after their timeout (`Retry-After: 1`)",
    ),
    ErrorKind(
        "timeout",
        504,
        "the query ran past `timeout` and was stopped on the engine (answered at most 0.25 s "
        "after `timeout`, even if the engine is still stopping)",
    ),
    ErrorKind("llm_timeout", 504, "the language model did not answer in time"),
)


def error_kinds(*errors: type[SqlgateError]) -> list[ErrorKind]:
    """The table's rows for these error classes (by their code and status)."""
    wanted = {(e.code, e.status) for e in errors}
    return [k for k in ERROR_TABLE if (k.code, k.status) in wanted]


def error_table_markdown() -> str:
    """The error table as the README shows it."""
    lines = ["| code | status | when |", "|---|---|---|"]
    lines += [f"| `{k.code}` | {k.status} | {k.meaning} |" for k in ERROR_TABLE]
    return "\n".join(lines) + "\n"
