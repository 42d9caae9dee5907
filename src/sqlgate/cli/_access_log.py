"""A cheaper access log for ``sqlgate serve``: the same lines, flushed in the background.

uvicorn's access log writes and flushes one line per request: a system call on the event loop
for every response. This handler keeps each line in a list and a small thread writes and
flushes what gathered ``INTERVAL`` seconds after the first line since the last flush (and at
exit); it sleeps while no request comes, so a burst of requests costs one write, whether or not
the stream has a buffer of its own (an unbuffered stdout, ``PYTHONUNBUFFERED``, has none).
A line reaches the terminal or file at most ``INTERVAL`` seconds late.

Its formatter writes uvicorn's line, the same text, without copying each log record twice and
looking the status phrase up each time. And while the access logger is configured as
``sqlgate serve`` configures it (this handler alone, this formatter, uvicorn's format, the
signature redaction as its only filter), :class:`AccessLogger` hands the handler the line's
values without making a log record at all; the flusher thread formats them. A line with a
signature to redact, or any other configuration, takes logging's ordinary path.
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

from sqlgate.results.signing import RedactSignatures

INTERVAL = 0.05
#: Lines held at most; past this many (a stream that does not keep up) the request's own
#: line is written at once with those held.
MAX_HELD = 10_000
#: uvicorn's access line, which :class:`AccessFormatter` writes without the generic formatting.
_UVICORN_FMT = '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s'
#: The message uvicorn logs each response with, its values (client, method, path, HTTP
#: version, status) as the record's arguments.
_ACCESS_MSG = '%s - "%s %s HTTP/%s" %d'


class BufferedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        # Lines formatted but not yet written. The handler keeps them itself rather than
        # relying on the stream's buffer, which an unbuffered stdout (PYTHONUNBUFFERED, as
        # container images often set) does not have: it would write each line at once.
        # An access line's values (a tuple, see AccessLogger) are formatted when written.
        self._lines: list[str | tuple[Any, ...]] = []
        self._writing = threading.Lock()  # one flush at a time, in order
        self._dirty = threading.Event()  # set by the first line after a flush
        thread = threading.Thread(target=self._flusher, name="sqlgate-access-log", daemon=True)
        thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        # Called under the handler's lock (Handler.handle), as flush takes the lines.
        try:
            self._keep(self.format(record) + self.terminator)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def hold(self, args: tuple[Any, ...]) -> None:
        """Keep an access line's values, formatted when written (see :class:`AccessLogger`)."""
        self.acquire()
        try:
            self._keep(args)
        finally:
            self.release()

    def _keep(self, line: str | tuple[Any, ...]) -> None:
        """Hold ``line`` for the flusher (under the handler's lock)."""
        lines = self._lines
        lines.append(line)
        if len(lines) >= MAX_HELD:
            # The stream does not keep up: write here, on the caller, as a plain
            # StreamHandler would, rather than hold ever more lines.
            self._lines = []
            self.stream.write(self._text(lines))
        elif not self._dirty.is_set():
            self._dirty.set()

    def _text(self, lines: list[str | tuple[Any, ...]]) -> str:
        formatter = self.formatter
        fast = formatter if isinstance(formatter, AccessFormatter) and formatter.plain else None
        out = []
        for line in lines:
            if isinstance(line, str):
                out.append(line)
            elif fast is not None:
                out.append(fast.line(line) + self.terminator)
            else:  # the formatter was replaced since: the ordinary record, formatted by it
                record = logging.LogRecord(
                    "uvicorn.access", logging.INFO, "", 0, _ACCESS_MSG, line, None
                )
                out.append(self.format(record) + self.terminator)
        return "".join(out)

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
                stream.write(self._text(lines))
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

    @property
    def plain(self) -> bool:
        """Whether this formatter writes uvicorn's own line, without colours."""
        return not self.use_colors and self._fmt == _UVICORN_FMT

    def line(self, args: tuple[Any, ...]) -> str:
        """uvicorn's own line at level INFO, from the access message's values."""
        client_addr, method, full_path, http_version, status_code = args
        status = self._status(int(status_code))
        return f'INFO:     {client_addr} - "{method} {full_path} HTTP/{http_version}" {status}'

    def formatMessage(self, record: logging.LogRecord) -> str:
        client_addr, method, full_path, http_version, status_code = record.args  # type: ignore[misc]
        levelname = record.levelname
        separator = " " * (8 - len(levelname))
        request_line = f"{method} {full_path} HTTP/{http_version}"
        if self.plain:
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
    every response), and while it is configured as ``sqlgate serve`` configures it, an access
    line makes no record at all: its values go straight to the handler (see the module)."""

    def info(self, msg: object, *args: Any, **kwargs: Any) -> None:
        if msg == _ACCESS_MSG and not kwargs and len(args) == 5:
            handler = self._holding_handler()
            if handler is not None and not _to_redact(args):
                handler.hold(args)
                return
        super().info(msg, *args, **kwargs)

    def _holding_handler(self) -> BufferedStreamHandler | None:
        """The handler that may take a line's values as they are: the only one, with the
        plain formatter and no filters of its own, below a logger that filters nothing but
        signatures and passes nothing to its parents; else None."""
        if self.propagate or not self.isEnabledFor(logging.INFO):
            return None
        handlers = self.handlers
        if len(handlers) != 1:
            return None
        handler = handlers[0]
        if type(handler) is not BufferedStreamHandler or handler.filters:
            return None
        if handler.level > logging.INFO:
            return None
        formatter = handler.formatter
        if not isinstance(formatter, AccessFormatter) or not formatter.plain:
            return None
        for kept in self.filters:
            if type(kept) is not RedactSignatures:
                return None
        return handler

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


def _to_redact(args: tuple[Any, ...]) -> bool:
    """Whether :class:`RedactSignatures` would change the line's values."""
    for value in args:  # noqa: SIM110 - a loop: any() of a generator costs twice as much
        if type(value) is str and "signature=" in value:
            return True
    return False
