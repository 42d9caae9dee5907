"""A cap on how many queries one organization has running at once.

A query takes a slot when it is admitted to run and gives it back when it ends: a sync query when
its result is read, a streamed export when the stream is closed (finished, failed, or the client
went away). Past the cap a query is refused at once (429 ``rate_limit_exceeded``, ``budget``
``org_concurrency``, ``Retry-After``), never queued: a client that waits should not hold a
server thread while it does.

In process memory by default (with ``--workers N`` each process then has its own cap). With
``SQLGATE_REDIS_URL`` one cap shared by every server process: per organization a sorted set of
slot tokens scored by when their lease ends. Taking a slot is one Lua script (drop expired
tokens, count, add), so two processes can never both take the last slot. A thread in each
process renews the leases of the slots it holds every ``lease / 3`` seconds, so a slot lives as
long as its query, and the slots of a process that crashed free themselves within the lease.
If Redis cannot be reached a query is refused with 503 ``service_unavailable`` (fail closed).

Settings: ``SQLGATE_ORG_MAX_CONCURRENT_QUERIES`` (default 8; 0 = no cap) and
``SQLGATE_ORG_MAX_CONCURRENT_QUERIES_BY_ORG`` (``{"<org id or slug>": N}``).
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Protocol

from sqlgate.auth.ratelimit import connect_redis, redis_unavailable
from sqlgate.errors import RateLimitExceeded
from sqlgate.settings import Settings

if TYPE_CHECKING:
    from types import TracebackType

    import redis

log = logging.getLogger("sqlgate.concurrency")

#: Seconds a slot held in Redis outlives its last renewal (how long a crashed process's slots
#: stay taken).
LEASE_SECONDS = 30.0

#: What a refused client is told to wait; a running query's end cannot be predicted.
RETRY_AFTER = 1


# What the HTTP request in progress opened that must not outlive it (see close_with_request).
_REQUEST_CLOSERS: ContextVar[list[Callable[[], None]] | None] = ContextVar(
    "sqlgate_request_closers", default=None
)


def request_closers() -> list[Callable[[], None]]:
    """Start collecting, for the HTTP request in progress (the calling task and the threads it
    runs work in), the closers registered with ``close_with_request``; the caller runs them
    when the request has ended. Called by the API's authentication dependency."""
    closers: list[Callable[[], None]] = []
    _REQUEST_CLOSERS.set(closers)
    return closers


def close_with_request(close: Callable[[], None]) -> None:
    """Also call ``close`` once the HTTP request in progress, if any, has ended: its response
    fully sent, or its client gone mid-stream. A streamed export then gives its slot back when
    the client hangs up, not whenever the abandoned generator is garbage collected. ``close``
    must be idempotent."""
    closers = _REQUEST_CLOSERS.get()
    if closers is not None:
        closers.append(close)


class Slot:
    """One running query's place under its organization's cap. ``release()`` gives it back
    (once; later calls do nothing). A slot dropped without release is given back when it is
    garbage collected, so a result stream that is never read cannot keep it forever."""

    __slots__ = ("_release",)

    def __init__(self, release: Callable[[], None]) -> None:
        self._release: Callable[[], None] | None = release

    @property
    def held(self) -> bool:
        return self._release is not None

    def release(self) -> None:
        # Every store's release is idempotent, so two threads racing here do no harm.
        release, self._release = self._release, None
        if release is not None:
            release()

    def __del__(self) -> None:
        self.release()

    def __enter__(self) -> Slot:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class SlotStore(Protocol):
    def try_acquire(self, org_id: str, cap: int) -> str | None:
        """A new slot token, or None when ``org_id`` already holds ``cap`` slots."""
        ...

    def release(self, org_id: str, token: str) -> None: ...

    def running(self, org_id: str) -> int: ...

    def close(self) -> None: ...


class MemorySlots:
    def __init__(self) -> None:
        self._held: dict[str, set[str]] = {}
        self._tokens = itertools.count()  # unique in this process, which is all they need
        # Re-entrant: a slot's finalizer may run in a thread that already holds the lock.
        self._lock = threading.RLock()

    def try_acquire(self, org_id: str, cap: int) -> str | None:
        token = str(next(self._tokens))
        with self._lock:
            held = self._held.setdefault(org_id, set())
            if len(held) >= cap:
                return None
            held.add(token)
        return token

    def release(self, org_id: str, token: str) -> None:
        with self._lock:
            held = self._held.get(org_id)
            if held is not None:
                held.discard(token)
                if not held:
                    del self._held[org_id]

    def running(self, org_id: str) -> int:
        with self._lock:
            return len(self._held.get(org_id, ()))

    def close(self) -> None:
        pass


# KEYS[1]: the organization's sorted set of tokens scored by lease end.
# ARGV: cap, token, lease seconds. Redis's clock, so processes on several hosts agree.
_ACQUIRE = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[2])
redis.call('EXPIRE', KEYS[1], math.ceil(lease) + 1)
return 1
"""

# KEYS: sorted sets; ARGV[1]: lease seconds, then one token per key. Only tokens still present
# are renewed (XX): a slot whose lease already ran out stays given up.
_RENEW = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local lease = tonumber(ARGV[1])
for i = 1, #KEYS do
  if redis.call('ZADD', KEYS[i], 'XX', 'CH', now + lease, ARGV[i + 1]) == 1 then
    redis.call('EXPIRE', KEYS[i], math.ceil(lease) + 1)
  end
end
return 0
"""

# KEYS[1]: the sorted set. The count of tokens whose lease has not ended.
_RUNNING = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
"""


class RedisSlots:
    def __init__(self, client: redis.Redis, prefix: str, *, lease: float = LEASE_SECONDS) -> None:
        self._client = client
        self._prefix = prefix
        self._lease = lease
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._running = client.register_script(_RUNNING)
        self._held: dict[str, str] = {}  # token -> set key
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def key(self, org_id: str) -> str:
        return f"{self._prefix}:running:{{{org_id}}}"

    def try_acquire(self, org_id: str, cap: int) -> str | None:
        import redis

        token = f"{self._pid}:{secrets.token_hex(8)}"
        key = self.key(org_id)
        try:
            taken = self._acquire(keys=[key], args=[cap, token, self._lease])
        except redis.RedisError as exc:
            raise redis_unavailable("The concurrent-query cap") from exc
        if not taken:
            return None
        with self._lock:
            self._held[token] = key
            self._start_renewing()
        return token

    def release(self, org_id: str, token: str) -> None:
        import redis

        with self._lock:
            key = self._held.pop(token, None)
        if key is None:
            return
        try:
            self._client.zrem(key, token)
        except redis.RedisError:
            log.warning("could not give a query slot back to Redis; its lease frees it")

    def running(self, org_id: str) -> int:
        import redis

        try:
            return int(self._running(keys=[self.key(org_id)]))
        except redis.RedisError as exc:
            raise redis_unavailable("The concurrent-query cap") from exc

    def close(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(5)

    def renew(self) -> None:
        """Extend the lease of every slot this process holds."""
        with self._lock:
            held = list(self._held.items())
        if held:
            self._renew(keys=[key for _, key in held], args=[self._lease, *(t for t, _ in held)])

    def _start_renewing(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._renew_loop, name="sqlgate-query-slots", daemon=True
            )
            self._thread.start()

    def _renew_loop(self) -> None:
        import redis

        while not self._stop.wait(self._lease / 3):
            with self._lock:
                if not self._held:  # nothing to renew: the next acquire starts a new thread
                    self._thread = None
                    return
            try:
                self.renew()
            except redis.RedisError:
                log.warning("could not renew query slots in Redis; retrying")


class ConcurrencyLimiter:
    """Per-organization cap on running queries (see the module docstring)."""

    def __init__(self, settings: Settings, *, lease: float = LEASE_SECONDS) -> None:
        self._default = settings.org_max_concurrent_queries
        self._by_org = dict(settings.org_max_concurrent_queries_by_org)
        self._store: SlotStore
        if settings.redis_url:
            client = connect_redis(settings.redis_url)
            self._store = RedisSlots(client, settings.redis_key_prefix, lease=lease)
        else:
            self._store = MemorySlots()

    def cap(self, org_id: str, org_slug: str | None = None) -> int:
        """The organization's cap; 0 means none."""
        if org_id in self._by_org:
            return self._by_org[org_id]
        if org_slug is not None and org_slug in self._by_org:
            return self._by_org[org_slug]
        return self._default

    def acquire(self, org_id: str, org_slug: str | None = None, *, capped: bool = True) -> Slot:
        """Take one of the organization's slots, or raise RateLimitExceeded at once. With
        ``capped=False`` (or no cap) a slot that counts nothing."""
        cap = self.cap(org_id, org_slug) if capped else 0
        if cap == 0:
            return Slot(_nothing)
        token = self._store.try_acquire(org_id, cap)
        if token is None:
            raise RateLimitExceeded(
                f"The organization already has {cap} queries running, its most at once; "
                f"retry in {RETRY_AFTER} s",
                retry_after=RETRY_AFTER,
                budget="org_concurrency",
                limit=f"{cap} running queries",
            )
        store = self._store
        return Slot(lambda: store.release(org_id, token))

    def running(self, org_id: str) -> int:
        """How many of the organization's slots are held (in this process without Redis)."""
        return self._store.running(org_id)

    def close(self) -> None:
        self._store.close()


def _nothing() -> None:
    pass
