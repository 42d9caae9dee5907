"""`sqlgate serve`'s access logger, configured as the server configures it, hands each line's
values to its handler without making a log record; the lines written are the ones logging's
ordinary path writes, signatures are still redacted, and any other configuration (another
filter, a parent's handlers) gets the ordinary path."""

from __future__ import annotations

import logging
import logging.config
from collections.abc import Iterator

import pytest

from sqlgate.cli import _access_log
from sqlgate.cli._access_log import AccessLogger, BufferedStreamHandler, log_config
from sqlgate.results.signing import install_log_redaction

MSG = '%s - "%s %s HTTP/%s" %d'
ARGS = ("203.0.113.9:51000", "POST", "/api/v1/query/db", "1.1", 200)
LINE = 'INFO:     203.0.113.9:51000 - "POST /api/v1/query/db HTTP/1.1" 200 OK\n'


class Stream:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[logging.Logger, Stream]]:
    """``uvicorn.access`` as ``sqlgate serve`` sets it up, writing to a stream of the test's."""
    monkeypatch.setattr(_access_log, "INTERVAL", 3600.0)  # the test flushes
    logger = logging.getLogger("uvicorn.access")
    saved = (logger.__class__, logger.handlers[:], logger.filters[:], logger.propagate)
    saved_level = logger.level
    logging.config.dictConfig(log_config())
    logger.__class__ = AccessLogger
    install_log_redaction()
    stream = Stream()
    handler = logger.handlers[0]
    assert isinstance(handler, BufferedStreamHandler)
    handler.setStream(stream)  # type: ignore[arg-type]
    try:
        yield logger, stream
    finally:
        logger.__class__, logger.handlers, logger.filters, logger.propagate = saved
        logger.setLevel(saved_level)


def _made_records(monkeypatch: pytest.MonkeyPatch, logger: logging.Logger) -> list[object]:
    """The records ``logger`` makes from now on. Its handlers are the server's alone (the
    test runner adds its own capturing handlers, which a server does not have)."""
    monkeypatch.setattr(
        logger, "handlers", [h for h in logger.handlers if type(h) is BufferedStreamHandler]
    )
    made: list[object] = []
    make = logger.makeRecord

    def counting(*args: object, **kwargs: object) -> logging.LogRecord:
        made.append(args)
        return make(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(logger, "makeRecord", counting)
    return made


def test_a_line_makes_no_record_and_is_written_as_uvicorn_writes_it(
    served: tuple[logging.Logger, Stream], monkeypatch: pytest.MonkeyPatch
) -> None:
    logger, stream = served
    made = _made_records(monkeypatch, logger)
    logger.info(MSG, *ARGS)
    logger.info(MSG, *ARGS[:4], 404)
    assert made == []
    assert stream.text == ""  # held until the flusher writes
    logger.handlers[0].flush()
    assert stream.text == LINE + LINE.replace("200 OK", "404 Not Found")


def test_the_ordinary_path_writes_the_same_line(
    served: tuple[logging.Logger, Stream], monkeypatch: pytest.MonkeyPatch
) -> None:
    logger, stream = served
    made = _made_records(monkeypatch, logger)
    logger.addFilter(lambda record: True)  # any other filter: records again
    logger.info(MSG, *ARGS)
    logger.handlers[0].flush()
    assert len(made) == 1
    assert stream.text == LINE


def test_a_signature_is_still_redacted(
    served: tuple[logging.Logger, Stream], monkeypatch: pytest.MonkeyPatch
) -> None:
    logger, stream = served
    made = _made_records(monkeypatch, logger)
    logger.info(MSG, *ARGS[:2], "/v1/files/x?signature=abc&e=1", *ARGS[3:])
    assert len(made) == 1  # the ordinary path, through the redacting filter
    logger.handlers[0].flush()
    assert "abc" not in stream.text
    assert "/v1/files/x?signature=[redacted]&e=1 HTTP/1.1" in stream.text


def test_a_logger_passing_lines_to_its_parents_makes_records(
    served: tuple[logging.Logger, Stream], monkeypatch: pytest.MonkeyPatch
) -> None:
    logger, stream = served
    made = _made_records(monkeypatch, logger)
    logger.propagate = True
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    keep = Keep()
    logging.getLogger("uvicorn").addHandler(keep)
    try:
        logger.info(MSG, *ARGS)
    finally:
        logging.getLogger("uvicorn").removeHandler(keep)
    assert len(made) == 1 and len(seen) == 1
    logger.handlers[0].flush()
    assert stream.text == LINE


def test_held_values_and_records_keep_their_order(
    served: tuple[logging.Logger, Stream], monkeypatch: pytest.MonkeyPatch
) -> None:
    logger, stream = served
    _made_records(monkeypatch, logger)
    handler = logger.handlers[0]
    logger.info(MSG, *ARGS)
    handler.handle(logging.LogRecord("uvicorn.access", logging.INFO, "", 0, MSG, ARGS, None))
    logger.info(MSG, *ARGS[:4], 500)
    handler.flush()
    assert stream.text == LINE + LINE + LINE.replace("200 OK", "500 Internal Server Error")
