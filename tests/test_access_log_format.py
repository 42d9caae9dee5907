"""The access log's own formatter writes exactly uvicorn's line (with and without colours)."""

from __future__ import annotations

import logging

import pytest
from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter as UvicornAccessFormatter

from sqlgate.cli._access_log import AccessFormatter, log_config

FMT = LOGGING_CONFIG["formatters"]["access"]["fmt"]


def _record(level: int, status: int, path: str) -> logging.LogRecord:
    return logging.LogRecord(
        "uvicorn.access", level, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("203.0.113.9:51000", "POST", path, "1.1", status), None,
    )  # fmt: skip


@pytest.mark.parametrize("colors", [False, True])
@pytest.mark.parametrize("status", [200, 404, 429, 504, 599])
@pytest.mark.parametrize("level", [logging.INFO, logging.WARNING])
def test_same_line_as_uvicorn(colors: bool, status: int, level: int) -> None:
    ours = AccessFormatter(fmt=FMT, use_colors=colors)
    theirs = UvicornAccessFormatter(fmt=FMT, use_colors=colors)
    record = _record(level, status, "/api/v1/query/db?x=%20y")
    assert ours.format(record) == theirs.format(record)
    assert record.args[4] == status  # the record itself is left as it was


def test_serve_uses_it() -> None:
    config = log_config()
    assert config["formatters"]["access"]["()"].endswith("_access_log.AccessFormatter")
    assert config["formatters"]["access"]["fmt"] == FMT


def test_access_logger_writes_the_same_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """``sqlgate serve``'s ``uvicorn.access`` skips finding the caller's frame: the line is
    the same, and its filters (link signatures redacted) still apply."""
    from sqlgate.cli._access_log import AccessLogger, use_access_logger
    from sqlgate.results.signing import RedactSignatures

    logger = logging.getLogger("uvicorn.access")
    monkeypatch.setattr(logger, "__class__", logging.Logger)
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Keep()
    handler.setFormatter(AccessFormatter(fmt=FMT, use_colors=False))
    monkeypatch.setattr(logger, "handlers", [handler])
    monkeypatch.setattr(logger, "filters", [RedactSignatures()])
    monkeypatch.setattr(logger, "propagate", False)
    logger.setLevel(logging.INFO)
    args = ("203.0.113.9:51000", "GET", "/v1/files/x?signature=abc&e=1", "1.1", 200)
    logger.info('%s - "%s %s HTTP/%s" %d', *args)
    use_access_logger()
    assert type(logger) is AccessLogger
    logger.info('%s - "%s %s HTTP/%s" %d', *args)
    assert lines[0] == lines[1]
    assert lines[1] == (
        'INFO:     203.0.113.9:51000 - "GET /v1/files/x?signature=[redacted]&e=1 HTTP/1.1" 200 OK'
    )
