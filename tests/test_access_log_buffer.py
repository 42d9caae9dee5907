"""The access log of `sqlgate serve` holds its lines and writes them in one go from its own
thread, also on a stream without a buffer of its own (PYTHONUNBUFFERED): no system call per
request on the event loop, every line kept, in order."""

from __future__ import annotations

import logging

import pytest

from sqlgate.cli import _access_log
from sqlgate.cli._access_log import BufferedStreamHandler


class Unbuffered:
    """A stream that, like an unbuffered stdout, passes every write straight on."""

    def __init__(self) -> None:
        self.writes: list[str] = []
        self.flushes = 0

    def write(self, text: str) -> int:
        self.writes.append(text)
        return len(text)

    def flush(self) -> None:
        self.flushes += 1


def _record(n: int) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "line %d", (n,), None)


def _handler(monkeypatch: pytest.MonkeyPatch) -> tuple[BufferedStreamHandler, Unbuffered]:
    monkeypatch.setattr(_access_log, "INTERVAL", 3600.0)  # the test flushes, not the thread
    stream = Unbuffered()
    handler = BufferedStreamHandler(stream)  # type: ignore[arg-type]
    handler.setFormatter(logging.Formatter("%(message)s"))
    return handler, stream


def test_lines_are_held_then_written_together(monkeypatch: pytest.MonkeyPatch) -> None:
    handler, stream = _handler(monkeypatch)
    for n in range(100):
        handler.handle(_record(n))
    assert stream.writes == []  # nothing written on the request's side
    handler.flush()
    assert stream.writes == ["".join(f"line {n}\n" for n in range(100))]
    assert stream.flushes == 1
    handler.flush()  # nothing new: nothing written
    assert len(stream.writes) == 1


def test_a_stream_that_does_not_keep_up_is_written_on_the_caller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_access_log, "MAX_HELD", 10)
    handler, stream = _handler(monkeypatch)
    for n in range(25):
        handler.handle(_record(n))
    handler.flush()
    assert "".join(stream.writes) == "".join(f"line {n}\n" for n in range(25))
    assert len(stream.writes) == 3  # 10, 10, then the last 5 at the flush


def test_logging_shutdown_writes_what_is_held(monkeypatch: pytest.MonkeyPatch) -> None:
    handler, stream = _handler(monkeypatch)
    handler.handle(_record(1))
    logging.shutdown([lambda: handler])  # what runs at exit, for this handler
    assert stream.writes == ["line 1\n"]
