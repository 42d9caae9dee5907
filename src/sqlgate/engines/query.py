"""One query as an engine runs it: its SQL, parameters and limits, and the deadline, session and
error translation around it that every engine needs."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from sqlgate.engines._deadline import Deadline
from sqlgate.errors import QueryTimeout, SqlgateError

#: Rows per Arrow batch an engine hands over (unless a query asks for fewer).
BATCH_ROWS = 65_536
T = TypeVar("T")


def _unchanged(exc: BaseException) -> BaseException:
    return exc


class Query:
    """One query (its SQL, parameters and limits), and the scaffolding around it that every
    engine needs, kept in one place.

    The deadline starts when the engine holds a session and says, with :meth:`hold`, how to
    interrupt the statement (called on the watchdog thread: it must not block), how to give the
    session back and how the driver's errors read as domain errors; an engine that wants the
    wait for a session counted too calls :meth:`start` first. From then on:

    * once the deadline fired, any error is the timeout (the interrupt caused it);
    * the session is released once, when the stream closes or the query fails, and only after
      the deadline is cancelled, so ``deadline.expired`` is final when the release looks at it;
    * ``failed`` tells the release that an error ended the query (SQLite then closes the
      connection instead of pooling it).
    """

    def __init__(
        self,
        sql: str = "",
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float,
        row_limit: int | None = None,
        batch_rows: int = BATCH_ROWS,
    ) -> None:
        self.sql = sql
        self.params = params
        #: Settings for this query's transaction only (PostgreSQL ``SET LOCAL``, which native
        #: row-level security reads); an engine without ``session_settings`` refuses any.
        self.settings: Mapping[str, str] | None = None
        self.timeout = timeout
        self.row_limit = row_limit
        self.batch_rows = batch_rows
        self.failed = False
        self._interrupt: Callable[[], None] | None = None
        self._release: Callable[[], None] | None = None
        self._translate: Callable[[BaseException], BaseException] = _unchanged
        self._deadline: Deadline | None = None
        self._starting = threading.Lock()

    @property
    def deadline(self) -> Deadline:
        if self._deadline is None:
            raise RuntimeError("The query's deadline has not started")
        return self._deadline

    def start(self) -> None:
        """Start the deadline now (once)."""
        with self._starting:
            if self._deadline is None:
                self._deadline = Deadline(self.timeout, self._fire)

    def abandon(self) -> QueryTimeout:
        """The caller stops waiting (the engine did not stop in time): the deadline fires if
        it has not, the session will be closed rather than reused, and the caller gets the
        timeout."""
        self.failed = True
        self.start()
        self.deadline.fire()
        return self.deadline.error()

    def hold(
        self,
        *,
        interrupt: Callable[[], None],
        release: Callable[[], None],
        translate: Callable[[BaseException], BaseException],
    ) -> None:
        """The session this query now runs on; the timeout if the deadline already passed
        while it was being taken."""
        self._interrupt, self._release, self._translate = interrupt, release, translate
        self.start()
        self.check()

    def check(self) -> None:
        """The timeout, if the deadline fired: some drivers return normally from an
        interrupted statement (a killed MySQL ``SLEEP()``), and that result is not an answer."""
        if self._deadline is not None and self._deadline.expired:
            raise self._deadline.error()

    def _fire(self) -> None:
        interrupt = self._interrupt
        if interrupt is not None:
            interrupt()

    def error(self, exc: BaseException) -> BaseException:
        """What ``exc`` means to the client."""
        deadline = self._deadline
        if deadline is not None and deadline.expired and not isinstance(exc, QueryTimeout):
            return deadline.error()
        if isinstance(exc, SqlgateError):
            return exc
        return self._translate(exc)

    def translating(self, batches: Iterable[T]) -> Iterator[T]:
        """``batches`` (or chunks), with errors while reading them translated (see
        :meth:`error`)."""
        try:
            yield from batches
        except BaseException as exc:
            self.failed = True
            if not isinstance(exc, Exception):
                raise
            error = self.error(exc)
            if error is exc:
                raise
            raise error from exc

    def fail(self, exc: BaseException) -> BaseException:
        """End the query after ``exc``: the session is released, and the error to raise is
        returned (translated while the session is still held)."""
        self.failed = True
        if self._deadline is not None:
            self._deadline.cancel()
        try:
            return self.error(exc)
        finally:
            self.close()

    def close(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()  # after this, ``expired`` is final
        release, self._release = self._release, None
        if release is not None:
            release()
