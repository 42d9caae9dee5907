"""Rows out of PostgreSQL: ``COPY (SELECT * FROM (<sql>) ...) TO STDOUT (FORMAT csv)``, read by a
thread into chunks that Arrow parses while the next ones arrive, or that a CSV export sends on
as they are (:func:`copy_sql` with ``quoted``).

Only a query can stand in that subquery, so DML (``RETURNING`` or in a ``WITH``) never reaches the
executor, and COPY's CSV is the fastest way to move rows out of the server.
"""

from __future__ import annotations

import os
import queue
import selectors
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from typing import TYPE_CHECKING

import psycopg
import pyarrow as pa
from psycopg import pq

from sqlgate.engines._pg_errors import ServerError

if TYPE_CHECKING:
    from psycopg.pq.abc import PGconn, PGresult

    from sqlgate.engines._deadline import Deadline
    from sqlgate.engines._pg_types import CsvParser

_CHUNK_BYTES = 4 << 20  # COPY rows handed to Arrow at a time
_QUEUED_CHUNKS = 4  # read ahead of the consumer: bounds memory per stream
_FLUSH_AFTER = 0.1  # s: a slow query's rows are handed on at least this often
_POLL = 0.1  # s between checks for a stop request while waiting
_STOP_WAIT = 5.0  # s to wait for a cancelled COPY to end before dropping the socket
_CANCEL_GRACE = 2.0  # s past the deadline before giving up on the server's answer
_COPY_HEAD = "COPY (SELECT * FROM (\n"


def copy_sql(
    text: str, row_limit: int | None, *, columns: int | None = None, quoted: Sequence[int] = ()
) -> bytes:
    """The COPY of ``text``, stopped by the server at ``row_limit`` + 1 rows (one more than the
    limit tells the reader it was cut).

    With ``columns`` (how many the text was described as returning), they are renamed ``c0``,
    ``c1``... so that COPY can quote every non-NULL value of exactly the ``quoted`` ones (by
    index, the string columns) and nothing else: a CSV export sends that on as it is.
    """
    limit = "" if row_limit is None else f" LIMIT {row_limit + 1}"
    alias = options = ""
    if columns is not None:
        alias = "(" + ", ".join(f"c{i}" for i in range(columns)) + ")"
        if quoted:
            options = ", FORCE_QUOTE (" + ", ".join(f"c{i}" for i in quoted) + ")"
    # The newlines end any trailing -- comment. The text parsed as exactly one statement,
    # so it cannot close the parentheses early or add a statement of its own.
    return (
        f"{_COPY_HEAD}{text}\n) AS sqlgate_q{alias}{limit}) TO STDOUT (FORMAT csv{options})"
    ).encode()


def copy_batches(
    reader: CopyReader, parser: CsvParser, deadline: Deadline, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    for chunk in reader.chunks(deadline):
        yield from parser.parse(chunk).to_batches(max_chunksize=batch_rows)


class CopyReader:
    """Runs ``COPY (SELECT * FROM (<text>) ...) TO STDOUT`` and hands its rows on in chunks.

    A thread reads (libpq hands over one row per call, so that loop is kept tight) while the
    consumer parses; the bounded queue caps memory at a few chunks. :meth:`stop` ends it early:
    the server is asked to cancel and the rest of the COPY is read and dropped, so the session
    is left between statements, never mid-COPY.
    """

    def __init__(self, pg: PGconn, text: str, sql: bytes, keep: int | None = None) -> None:
        """Run ``sql`` (:func:`copy_sql` of ``text``). With ``keep``, rows past that many are
        dropped and :attr:`truncated` says so (rows handed on as they are need that; batches
        are cut by their stream instead)."""
        self._sql = sql
        self._text_length = len(text)
        self._keep = sys.maxsize if keep is None else keep
        self._pg = pg
        self._queue: queue.Queue[tuple[bytes, int] | BaseException | None] = queue.Queue(
            _QUEUED_CHUNKS
        )
        self._stopping = threading.Event()
        self._selector = selectors.DefaultSelector()
        self._selector.register(pg.socket, selectors.EVENT_READ)
        #: Rows in the chunks handed on so far.
        self.rows = 0
        #: Whether rows past ``keep`` came (and were dropped); final once the chunks end.
        self.truncated = False
        self._thread = threading.Thread(target=self._run, name="sqlgate-pg-copy", daemon=True)
        self._thread.start()

    def chunks(self, deadline: Deadline) -> Iterator[bytes]:
        """Chunks of whole CSV rows, as the server wrote them."""
        while True:
            try:
                item = self._queue.get(timeout=_POLL)
            except queue.Empty:
                if deadline.expired and time.monotonic() > deadline.at + _CANCEL_GRACE:
                    raise deadline.error() from None
                continue
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            if deadline.expired:
                raise deadline.error()
            chunk, rows = item
            self.rows += rows
            yield chunk

    def stop(self, cancel: Callable[[], None]) -> bool:
        """End the COPY if it still runs; whether the session is now between statements."""
        if self._thread.is_alive():
            self._stopping.set()
            cancel()
            self._thread.join(_STOP_WAIT)
            if self._thread.is_alive():  # the server does not answer: cut the connection
                with suppress(OSError), socket.socket(fileno=os.dup(self._pg.socket)) as sock:
                    sock.shutdown(socket.SHUT_RDWR)
                self._thread.join(_POLL * 10)
                return False
        return True

    def _run(self) -> None:
        try:
            self._copy()
        except BaseException as exc:
            self._put(exc)
        else:
            self._put(None)
        finally:
            self._selector.close()

    def _copy(self) -> None:
        pg = self._pg
        try:
            pg.send_query(self._sql)
            first = self._result()
            if first is None or first.status != pq.ExecStatus.COPY_OUT:
                self._finish()
                raise self._error(first)
            self._read_rows()
            last = self._result()
            self._finish()
        except psycopg.Error as exc:
            raise ServerError.of_psycopg(exc, pg) from None
        if last is None or last.status != pq.ExecStatus.COMMAND_OK:
            raise self._error(last)

    def _read_rows(self) -> None:
        limit = _CHUNK_BYTES
        get, consume, wait, put = (
            self._pg.get_copy_data,
            self._pg.consume_input,
            self._wait,
            self._put,
        )
        buffer = bytearray()
        extend = buffer.extend
        flushed = time.monotonic()
        left = self._keep  # rows still wanted
        counted = left  # ``left`` when the buffer was last handed on
        while True:
            size, row = get(1)
            # The hot loop (once per row): only the rows libpq already holds whole. The size
            # check runs once per socket read instead, so a chunk may pass the limit by what
            # one read brought in.
            while size > 0:
                if left:
                    extend(row)
                    left -= 1
                else:  # the server's LIMIT sends one row past the row limit
                    self.truncated = True
                size, row = get(1)
            if len(buffer) >= limit:
                put((bytes(buffer), counted - left))
                buffer.clear()
                counted, flushed = left, time.monotonic()
            if size == 0:  # libpq has no whole row buffered: wait for the server
                timeout = _POLL
                if buffer:  # a slow query: hand on what there is every so often
                    timeout = flushed + _FLUSH_AFTER - time.monotonic()
                    if timeout <= 0:
                        put((bytes(buffer), counted - left))
                        buffer.clear()
                        counted, flushed, timeout = left, time.monotonic(), _POLL
                wait(timeout)
                consume()
            else:
                break
        if buffer:
            put((bytes(buffer), counted - left))
        if size == -2:
            raise ServerError.of_connection(self._pg)

    def _result(self) -> PGresult | None:
        pg = self._pg
        while pg.is_busy():
            self._wait(_POLL)
            pg.consume_input()
        return pg.get_result()

    def _finish(self) -> None:
        while self._result() is not None:
            pass

    def _wait(self, timeout: float) -> bool:
        return bool(self._selector.select(timeout))

    def _put(self, item: tuple[bytes, int] | BaseException | None) -> None:
        # Once stopping, nobody reads the queue: rows are dropped until the COPY ends.
        while not self._stopping.is_set():
            try:
                self._queue.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue

    def _error(self, result: PGresult | None) -> ServerError:
        if result is None:
            return ServerError.of_connection(self._pg)
        error = ServerError.of_result(result, self._pg)
        error.wrapped = True
        if error.position is not None:  # positions count from the COPY text: make them ours
            position = error.position - len(_COPY_HEAD)
            error.position = position if 1 <= position <= self._text_length else None
        return error
