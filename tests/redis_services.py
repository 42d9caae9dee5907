"""The local Redis for the shared rate-limit and concurrency tests.

Each use gets its own key prefix (``SQLGATE_REDIS_KEY_PREFIX``), deleted afterwards, instead of a
flushed database: test runs on one machine share the Redis server and must not wipe each other's
windows mid-test. Unreachable Redis skips, or fails with SQLGATE_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis

from tests.services import REDIS_URL, unavailable


@dataclass
class RedisSpace:
    url: str
    prefix: str
    client: redis.Redis

    def running(self, org_id: str) -> int:
        """Query slots the organization holds (tokens in its sorted set)."""
        return int(self.client.zcard(f"{self.prefix}:running:{{{org_id}}}"))


@contextmanager
def redis_space() -> Iterator[RedisSpace]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable("Redis", exc)
    prefix = f"sqlgate-test-{secrets.token_hex(6)}"
    try:
        yield RedisSpace(REDIS_URL, prefix, client)
    finally:
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            client.delete(key)
        client.close()


#: A Redis URL nothing listens on: the shared store is down.
DEAD_REDIS_URL = "redis://127.0.0.1:1/0"
