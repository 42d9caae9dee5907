"""A cheaper access log for ``sqlgate serve``: the same lines, flushed in the background.

uvicorn's access log writes and flushes one line per request: a system call on the event loop
for every response. This handler keeps each line in a list and a small thread writes and
flushes what gathered ``INTERVAL`` seconds after the first line since the last flush (and at
exit); it sleeps while no request comes, so a burst of requests costs one write, whether or not
the stream has a buffer of its own (an unbuffered stdout, ``PYTHONUNBUFFERED``, has none).
A line reaches the terminal or file at most ``INTERVAL`` seconds late.

Its formatter writes uvicorn's line, the same text, without copying each log record twice and
looking the status phrase up each time.
"""

from __future__ import annotations

import copy
import http
import logging
import threading
import time
from types import SimpleNamespace
from typing import Any, TextIO

from uvicorn.logging import AccessFormatter as UvicornAccessFormatter
from uvicorn.logging import ColourizedFormatter, ansi_style

INTERVAL = 0.05
#: Lines held at most; past this many (a stream that does not keep up) the request's own
#: line is written at once with those held.
MAX_HELD = 10_000
#: uvicorn's access line, which :class:`AccessFormatter` writes without the generic formatting.
_UVICORN_FMT = '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s'


class BufferedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        # Lines formatted but not yet written. The handler keeps them itself rather than
        # relying on the stream's buffer, which an unbuffered stdout (PYTHONUNBUFFERED, as
        # container images often set) does not have: it would write each line at once.
        self._lines: list[str] = []
        self._writing = threading.Lock()  # one flush at a time, in order
        self._dirty = threading.Event()  # set by the first line after a flush
        thread = threading.Thread(target=self._flusher, name="sqlgate-access-log", daemon=True)
        thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        # Called under the handler's lock (Handler.handle), as flush takes the lines.
        try:
            lines = self._lines
            lines.append(self.format(record) + self.terminator)
            if len(lines) >= MAX_HELD:
                # The stream does not keep up: write here, on the caller, as a plain
                # StreamHandler would, rather than hold ever more lines.
                self._lines = []
                self.stream.write("".join(lines))
            elif not self._dirty.is_set():
                self._dirty.set()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        """Write the lines held so far and flush the stream (on the flusher thread, and at
        exit)."""
        # The handler's lock, then the writing lock (logging.shutdown holds the first when it
        # calls this): the lines are taken in order and written in that order, while emit
        # waits only for the taking, not for the stream.
        self.acquire()
        try:
            lines, self._lines = self._lines, []
            self._writing.acquire()
        finally:
            self.release()
        try:
            stream = self.stream
            if stream is None:
                return
            if lines:
                stream.write("".join(lines))
            if hasattr(stream, "flush"):
                stream.flush()
        finally:
            self._writing.release()

    def _flusher(self) -> None:
        # Sleeps until a line is written (no wake-ups while no request comes), then lets
        # INTERVAL's worth of lines gather and writes them with one system call.
        while True:
            self._dirty.wait()
            time.sleep(INTERVAL)
            self._dirty.clear()  # a line written after this sets it again: the next flush
            try:
                self.flush()
            except Exception:  # a closed stream at exit: nothing left to do
                return


class AccessFormatter(UvicornAccessFormatter):
    """uvicorn's access formatter: the same text, with less work per line."""

    _phrases: dict[int, str] = {}

    def formatMessage(self, record: logging.LogRecord) -> str:
        client_addr, method, full_path, http_version, status_code = record.args  # type: ignore[misc]
        levelname = record.levelname
        separator = " " * (8 - len(levelname))
        request_line = f"{method} {full_path} HTTP/{http_version}"
        if not self.use_colors and self._fmt == _UVICORN_FMT:
            # uvicorn's own line, spelled out: no mapping of the record's attributes to build.
            status = self._status(int(status_code))  # type: ignore[call-overload]
            return f'{levelname}:{separator} {client_addr} - "{request_line}" {status}'
        if self.use_colors:
            levelname = self.color_level_name(levelname, record.levelno)
            request_line = ansi_style(request_line, bold=True)
        values = {
            **record.__dict__,
            "levelprefix": levelname + ":" + separator,
            "client_addr": client_addr,
            "request_line": request_line,
            "status_code": self._status(int(status_code)),  # type: ignore[call-overload]
        }
        # The base class of uvicorn's formatters renders ``fmt`` from a record's attributes.
        return super(ColourizedFormatter, self).formatMessage(SimpleNamespace(**values))  # type: ignore[arg-type]

    def _status(self, code: int) -> str:
        if self.use_colors:
            return self.get_status_code(code)
        text = self._phrases.get(code)
        if text is None:
            try:
                phrase = http.HTTPStatus(code).phrase
            except ValueError:
                phrase = ""
            text = self._phrases[code] = f"{code} {phrase}"
        return text


class AccessLogger(logging.Logger):
    """The ``uvicorn.access`` logger of ``sqlgate serve``: its records do not name the line
    that logged them (the access line does not show it, and finding it walks the stack for
    every response)."""

    def findCaller(
        self, stack_info: bool = False, stacklevel: int = 1
    ) -> tuple[str, int, str, str | None]:
        return "(unknown file)", 0, "(unknown function)", None


def use_access_logger() -> None:
    """Make ``uvicorn.access`` an :class:`AccessLogger` (its handlers, level and filters stay)."""
    logger = logging.getLogger("uvicorn.access")
    if type(logger) is logging.Logger:
        logger.__class__ = AccessLogger


def log_config() -> dict[str, Any]:
    """uvicorn's default logging configuration with the buffered access handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["handlers"]["access"]["class"] = f"{__name__}.BufferedStreamHandler"
    config["formatters"]["access"]["()"] = f"{__name__}.AccessFormatter"
    return config
