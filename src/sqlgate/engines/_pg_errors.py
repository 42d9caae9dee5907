"""PostgreSQL errors: what a failed statement said, and what it means to the client.

:class:`ServerError` carries the server's message, SQLSTATE and error position whichever way the
error arrived (a libpq result, a psycopg exception, a lost connection); :func:`translate` turns it
into a domain error: a timeout, a refusal by the read-only session, stacked statements, a
statement that is not a query, or a query error at a line and column of the SQL as sent.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

import psycopg
from psycopg import pq

from sqlgate.errors import ConnectionFailed, QueryError, SqlgateError, SqlNotAllowed

if TYPE_CHECKING:
    from psycopg.pq.abc import PGconn, PGresult

    from sqlgate.engines._deadline import Deadline

QUERY_CANCELED = "57014"  # statement_timeout, or our cancel request
_REFUSED = frozenset({"25006", "42501"})  # read_only_sql_transaction, insufficient_privilege
_SYNTAX = "42601"
_NOT_SUPPORTED = "0A000"


class Source(Protocol):
    def locate(self, position: int | None) -> tuple[int | None, int | None]:
        """1-based line and column in the SQL sent for a 1-based position in the text run."""
        ...


class ServerError(Exception):
    """A failed statement: the server's message, SQLSTATE and error position (1-based, in
    characters of the text sent), whether the text was wrapped in our COPY, and whether the
    connection itself is gone."""

    def __init__(
        self,
        message: str,
        sqlstate: str | None = None,
        position: int | None = None,
        *,
        lost: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.sqlstate = sqlstate
        self.position = position
        self.lost = lost
        self.wrapped = False

    @classmethod
    def of_result(cls, result: PGresult, pg: PGconn) -> ServerError:
        def field(code: pq.DiagnosticField) -> str | None:
            value = result.error_field(code)
            return value.decode("utf-8", "replace") if value else None

        message = field(pq.DiagnosticField.MESSAGE_PRIMARY) or text_of(result.error_message)
        position = field(pq.DiagnosticField.STATEMENT_POSITION)
        return cls(
            message or "The statement failed",
            field(pq.DiagnosticField.SQLSTATE),
            int(position) if position and position.isdigit() else None,
            lost=pg.status != pq.ConnStatus.OK,
        )

    @classmethod
    def of_psycopg(cls, exc: psycopg.Error, pg: PGconn) -> ServerError:
        position = exc.diag.statement_position
        return cls(
            exc.diag.message_primary or first_line(exc),
            exc.sqlstate,
            int(position) if position and position.isdigit() else None,
            lost=pg.status != pq.ConnStatus.OK,
        )

    @classmethod
    def of_connection(cls, pg: PGconn) -> ServerError:
        return cls(text_of(pg.error_message) or "The connection failed", lost=True)


def translate(
    exc: BaseException, deadline: Deadline | None = None, source: Source | None = None
) -> BaseException:
    if isinstance(exc, UnicodeError):
        return QueryError("The query is not valid UTF-8 text")
    if isinstance(exc, SqlgateError) or not isinstance(exc, ServerError):
        return exc
    state, message = exc.sqlstate, exc.message
    if exc.lost:
        return ConnectionFailed(f"Lost the connection to PostgreSQL: {message}")
    if state == QUERY_CANCELED and deadline is not None and time.monotonic() >= deadline.at:
        return deadline.error()  # statement_timeout, a moment before our own deadline fired
    if state in _REFUSED:
        return SqlNotAllowed(
            f"Refused by the read-only session: {message}", reason="engine_refused"
        )
    if state == _SYNTAX and not exc.wrapped and "multiple commands" in message:
        return SqlNotAllowed(
            "Exactly one statement is allowed; PostgreSQL found several",
            reason="multiple_statements",
        )
    if exc.wrapped and (
        state == _SYNTAX or (state == _NOT_SUPPORTED and "data-modifying" in message)
    ):
        # The text parsed on its own, so it is a statement PostgreSQL cannot run as a query
        # (EXPLAIN, SHOW, CALL, DML with RETURNING, a data-modifying WITH).
        return SqlNotAllowed(
            f"Only read-only queries (SELECT, VALUES, TABLE) can run: {message}",
            reason="not_read_only",
        )
    line, column = source.locate(exc.position) if source is not None else (None, None)
    return QueryError(message, line=line, column=column)


def text_of(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text else ""


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
