"""The one error model.

Every failure a client can see is a :class:`SqlgateError`. The code and HTTP status are data on
the class (or the instance), and a single handler in :mod:`sqlgate.api.errors` renders them as::

    {"error": {"code": "not_found", "message": "...", ...details}}

Codes and statuses follow the vendor error table (seed 002) where it has one.
"""

from __future__ import annotations

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
