"""Reaching the real servers the tests use (PostgreSQL, Redis), or skipping with a reason.

With SQLGATE_REQUIRE_SERVICES=1 (as in CI) an unreachable server fails the test instead.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

PG_ADMIN_URL = os.environ.get(
    "SQLGATE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def unavailable(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable ({exc.__class__.__name__}: {exc})"
    if os.environ.get("SQLGATE_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " and SQLGATE_REQUIRE_SERVICES=1")
    pytest.skip(message)


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test; dropped afterwards. Yields its URL."""
    import psycopg

    name = f"sqlgate_test_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        unavailable("PostgreSQL", exc)
        raise
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


REDIS_URL = os.environ.get("SQLGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_url() -> str:
    """The test Redis database, flushed; skips (or fails under CI) when unreachable."""
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.flushdb()
    except redis.RedisError as exc:
        unavailable("Redis", exc)
    return REDIS_URL
