"""A cheaper access log for ``sqlgate serve``: the same lines, flushed in the background.

uvicorn's access log writes and flushes one line per request: a system call on the event loop
for every response. This handler writes each line into the stream's buffer and a small thread
flushes it every ``INTERVAL`` seconds (and at exit), so a burst of requests costs one write.
A line reaches the terminal or file at most ``INTERVAL`` seconds late.
"""

from __future__ import annotations

import copy
import logging
import threading
from typing import Any, TextIO

INTERVAL = 0.05


class BufferedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self._dirty = False
        thread = threading.Thread(target=self._flusher, name="sqlgate-access-log", daemon=True)
        thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + self.terminator)
            self._dirty = True
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def _flusher(self) -> None:
        stop = threading.Event()
        while not stop.wait(INTERVAL):
            if self._dirty:
                self._dirty = False
                try:
                    self.flush()
                except Exception:  # a closed stream at exit: nothing left to do
                    return


def log_config() -> dict[str, Any]:
    """uvicorn's default logging configuration with the buffered access handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["handlers"]["access"]["class"] = f"{__name__}.BufferedStreamHandler"
    return config
