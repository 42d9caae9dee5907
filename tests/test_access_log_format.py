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
