"""Rate limits: every request counts against two budgets for its route group, its API key's (or
its member's, on ``per="member"`` routes) and its organization's, and is admitted only if both
have room.

Budgets are moving windows: "600/minute" admits at most 600 requests in any 60 seconds. The check
and the count are one atomic step over all the windows of a request, so a refused request uses up
no budget (a runaway key cannot spend its organization's budget on requests it is refused). In
process memory by default (a lock; with ``--workers N`` each process then has its own budgets);
with ``SQLGATE_REDIS_URL`` one Lua script on Redis, shared by every server process. If Redis
cannot be reached the request is refused with 503 ``service_unavailable`` (fail closed), never
let through unlimited.

Configuration (validated when Settings are built): ``SQLGATE_RATE_LIMITS`` (per key),
``SQLGATE_ORG_RATE_LIMITS`` (per organization, every org), ``SQLGATE_ORG_RATE_LIMITS_BY_ORG``
(per organization, one org by id or slug); a route group missing from a mapping uses that
mapping's ``default`` entry.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from limits import RateLimitItem

from sqlgate.errors import RateLimitExceeded, ServiceUnavailable
from sqlgate.settings import Settings, parse_rate_limit

if TYPE_CHECKING:
    import redis

    from sqlgate.auth.principal import Principal

#: Seconds a Redis command may take before the request is refused with 503.
REDIS_TIMEOUT = 2.0


def connect_redis(url: str) -> redis.Redis:
    """A client for the shared store, with short timeouts: an unreachable Redis must give a
    prompt 503, not a hung request."""
    try:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry
    except ImportError as exc:  # pragma: no cover - redis is a declared extra
        raise RuntimeError(
            "SQLGATE_REDIS_URL is set but the redis package is not installed: "
            "pip install 'sqlgate[redis]'"
        ) from exc
    return redis.Redis.from_url(
        url,
        socket_timeout=REDIS_TIMEOUT,
        socket_connect_timeout=REDIS_TIMEOUT,
        retry=Retry(NoBackoff(), 1),  # one reconnect (Redis restarted), then give up
    )


def redis_unavailable(what: str) -> ServiceUnavailable:
    # Never the URL: it may carry a password.
    return ServiceUnavailable(
        f"{what} is unavailable: the shared Redis store (SQLGATE_REDIS_URL) cannot be reached; "
        "requests are refused until it is back"
    )


@dataclass(frozen=True)
class Window:
    """One moving window of one budget: at most ``limit`` hits in ``seconds``."""

    key: str
    limit: int
    seconds: int


class WindowStore(Protocol):
    def acquire(self, windows: Sequence[Window]) -> tuple[int, float]:
        """Count one hit in every window if all have room: ``(-1, 0)``. Otherwise count
        nothing and return ``(index of a full window, seconds until it has room)``."""
        ...


class MemoryWindows:
    """Moving windows in this process: per key, the newest ``limit`` hit times, newest first."""

    _SWEEP_SECONDS = 60.0

    def __init__(self) -> None:
        self._windows: dict[str, tuple[int, deque[float]]] = {}
        self._lock = threading.Lock()
        self._next_sweep = time.monotonic() + self._SWEEP_SECONDS

    def acquire(self, windows: Sequence[Window]) -> tuple[int, float]:
        now = time.monotonic()
        with self._lock:
            for index, window in enumerate(windows):
                entry = self._windows.get(window.key)
                if entry is not None and len(entry[1]) >= window.limit:
                    oldest = entry[1][-1]  # the limit-th newest hit
                    if oldest > now - window.seconds:
                        return index, oldest + window.seconds - now
            for window in windows:
                hits = self._windows.setdefault(window.key, (window.seconds, deque()))[1]
                hits.appendleft(now)
                while len(hits) > window.limit:
                    hits.pop()
            if now >= self._next_sweep:
                self._sweep(now)
        return -1, 0.0

    def _sweep(self, now: float) -> None:
        """Forget identities whose every hit is out of its window (bounded memory)."""
        self._next_sweep = now + self._SWEEP_SECONDS
        stale = [k for k, (seconds, hits) in self._windows.items() if hits[0] <= now - seconds]
        for key in stale:
            del self._windows[key]


# KEYS: one list per window (hit times, newest first); ARGV: limit and seconds per window.
# Redis's own clock, so server processes on several hosts agree on the time.
_ACQUIRE = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
for i = 1, #KEYS do
  local limit = tonumber(ARGV[2 * i - 1])
  local seconds = tonumber(ARGV[2 * i])
  local oldest = redis.call('LINDEX', KEYS[i], limit - 1)
  if oldest and tonumber(oldest) > now - seconds then
    return {i, string.format('%.6f', tonumber(oldest) + seconds - now)}
  end
end
local stamp = string.format('%.6f', now)
for i = 1, #KEYS do
  local limit = tonumber(ARGV[2 * i - 1])
  local seconds = tonumber(ARGV[2 * i])
  redis.call('LPUSH', KEYS[i], stamp)
  redis.call('LTRIM', KEYS[i], 0, limit - 1)
  redis.call('EXPIRE', KEYS[i], seconds)
end
return {0, '0'}
"""


class RedisWindows:
    """Moving windows in Redis: check and count in one Lua script (atomic: Redis runs a script
    alone), over every window of the request at once."""

    def __init__(self, client: redis.Redis) -> None:
        self._script = client.register_script(_ACQUIRE)

    def acquire(self, windows: Sequence[Window]) -> tuple[int, float]:
        import redis

        args: list[int] = []
        for window in windows:
            args += [window.limit, window.seconds]
        try:
            refused, wait = self._script(keys=[w.key for w in windows], args=args)
        except redis.RedisError as exc:
            raise redis_unavailable("Rate limiting") from exc
        return int(refused) - 1, float(wait)


@dataclass(frozen=True)
class _Budget:
    kind: str  # "key", "member" or "org"
    text: str  # as configured, for messages
    items: tuple[RateLimitItem, ...]


def _budgets(limits: dict[str, str]) -> dict[str, tuple[str, tuple[RateLimitItem, ...]]]:
    return {group: (text, tuple(parse_rate_limit(text))) for group, text in limits.items()}


#: Windows and their budgets per (group, identity, org, org slug, per), see RateLimiter._plan.
_Plan = tuple[list[Window], list[_Budget]]
#: Plans remembered at most (then forgotten all at once and made again as requests come).
_PLANS = 10_000

_WHOSE = {
    "key": "this API key's",
    "member": "this member's",
    "org": "the organization's",
}


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limit_enabled
        #: Whether ``admit`` does network I/O (and so must not run on the event loop).
        self.blocking = self.enabled and settings.redis_url is not None
        self._prefix = settings.redis_key_prefix
        self._store: WindowStore
        if settings.redis_url:
            self._store = RedisWindows(connect_redis(settings.redis_url))
        else:
            self._store = MemoryWindows()
        self._plans: dict[tuple[str, str, str | None, str | None, str], _Plan] = {}
        self._key_limits = _budgets(settings.rate_limits)
        self._org_limits = _budgets(settings.org_rate_limits)
        # An organization's own entries replace the every-org ones group by group.
        self._by_org = {
            org: {**self._org_limits, **_budgets(limits)}
            for org, limits in settings.org_rate_limits_by_org.items()
        }

    def admit(self, principal: Principal, group: str, per: str = "key") -> None:
        """Count one request of ``principal`` in ``group`` against its key's (or member's) and
        its organization's budget; raise RateLimitExceeded, counting nothing, if either is
        spent."""
        identity = principal.member_id if per == "member" else principal.key_id
        self.hit(group, identity, org_id=principal.org_id, org_slug=principal.org_slug, per=per)

    def hit(
        self,
        group: str,
        identity: str,
        *,
        org_id: str | None = None,
        org_slug: str | None = None,
        per: str = "key",
    ) -> None:
        """Count one request of ``identity`` (and of ``org_id``, if given) in ``group``."""
        if not self.enabled:
            return
        plan = self._plans.get((group, identity, org_id, org_slug, per))
        if plan is None:
            plan = self._plan(group, identity, org_id, org_slug, per)
        windows, owners = plan
        if not windows:
            return
        refused, wait = self._store.acquire(windows)
        if refused < 0:
            return
        budget = owners[refused]
        retry_after = max(1, math.ceil(wait))
        raise RateLimitExceeded(
            f"Rate limit exceeded: {_WHOSE[budget.kind]} budget for the {group} route group "
            f"({budget.text}) is used up; retry in {retry_after} s",
            retry_after=retry_after,
            budget=budget.kind,
            group=group,
            limit=budget.text,
        )

    def _plan(
        self, group: str, identity: str, org_id: str | None, org_slug: str | None, per: str
    ) -> tuple[list[Window], list[_Budget]]:
        """The windows a request of ``identity`` in ``group`` counts in, and whose budget each
        is; the same for every such request (the settings do not change), so remembered."""
        budgets: list[tuple[_Budget, str]] = []
        text, items = _lookup(self._key_limits, group) or ("unlimited", ())
        if items:
            budgets.append((_Budget(per, text, items), identity))
        if org_id is not None:
            org = self.org_budget(group, org_id, org_slug)
            if org is not None:
                budgets.append((org, org_id))
        # One hash tag per organization keeps a request's windows in one Redis Cluster slot.
        tag = "{" + (org_id or "-") + "}"
        windows: list[Window] = []
        owners: list[_Budget] = []
        for budget, who in budgets:
            for item in budget.items:
                seconds = item.get_expiry()
                key = f"{self._prefix}:rl:{tag}:{group}:{budget.kind}:{who}:{item.amount}/{seconds}"
                windows.append(Window(key, item.amount, seconds))
                owners.append(budget)
        if len(self._plans) >= _PLANS:
            self._plans.clear()
        self._plans[(group, identity, org_id, org_slug, per)] = (windows, owners)
        return windows, owners

    def org_budget(self, group: str, org_id: str, org_slug: str | None = None) -> _Budget | None:
        """The organization's budget for ``group`` (None: no organization budget)."""
        limits = self._by_org.get(org_id)
        if limits is None and org_slug is not None:
            limits = self._by_org.get(org_slug)
        found = _lookup(self._org_limits if limits is None else limits, group)
        if found is None or not found[1]:
            return None
        return _Budget("org", found[0], found[1])


def _lookup(
    limits: dict[str, tuple[str, tuple[RateLimitItem, ...]]], group: str
) -> tuple[str, tuple[RateLimitItem, ...]] | None:
    return limits.get(group) or limits.get("default")
