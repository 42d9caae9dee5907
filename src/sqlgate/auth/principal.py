"""Who is calling: an API key resolved to its organization, member, role and scopes."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, select, update

from sqlgate.auth.keys import hash_key, looks_like_key
from sqlgate.auth.scopes import ROLE_SCOPES, Role, Scope, parse_scopes
from sqlgate.errors import AuthenticationError, AuthorizationError
from sqlgate.store.db import Store
from sqlgate.store.models import ApiKey, Member, Organization

# Writing `last_used_at` on every request would turn every read into a write; once a minute is
# precise enough for "when was this key last used".
_LAST_USED_GRANULARITY = timedelta(minutes=1)
#: An organization's status that lets its keys in (the other is "suspended").
ORG_ACTIVE = "active"


@dataclass(frozen=True)
class Principal:
    org_id: str
    org_slug: str
    member_id: str
    role: Role
    key_id: str
    scopes: frozenset[Scope]
    expires_at: datetime | None = None

    def require(self, *any_of: Scope) -> None:
        """Refuse unless the key carries at least one of ``any_of``."""
        if not self.scopes.intersection(any_of):
            names = " or ".join(s.value for s in any_of)
            raise AuthorizationError(f"This API key lacks the {names} scope", required=names)

    def owns_org(self, org: str) -> bool:
        return org in (self.org_id, self.org_slug)


_KEY_LOOKUP = (
    select(
        ApiKey.id,
        ApiKey.org_id,
        ApiKey.member_id,
        ApiKey.scopes,
        ApiKey.expires_at,
        ApiKey.revoked_at,
        ApiKey.last_used_at,
        Member.role,
        Organization.slug,
        Organization.status.label("org_status"),
    )
    .join(Member, Member.id == ApiKey.member_id)
    .join(Organization, Organization.id == ApiKey.org_id)
    .where(ApiKey.key_hash == bindparam("key_hash"))
)


def authenticate(store: Store, key: str) -> Principal:
    """Resolve a presented key, or raise AuthenticationError without saying which part failed."""
    invalid = AuthenticationError("Invalid or expired API key")
    if not looks_like_key(key):
        raise invalid
    now = datetime.now(UTC)
    # On every request: one Core query built once; the rare write gets its own transaction.
    with store.engine.connect() as db:
        row = db.execute(_KEY_LOOKUP, {"key_hash": hash_key(key)}).one_or_none()
    if row is None or row.revoked_at is not None:
        raise invalid
    if row.expires_at is not None and row.expires_at <= now:
        raise invalid
    if row.org_status != ORG_ACTIVE:
        raise AuthorizationError(
            "This organization is suspended: its API keys answer 403 until the operator resumes it"
        )
    if row.last_used_at is None or now - row.last_used_at > _LAST_USED_GRANULARITY:
        with store.engine.begin() as db:
            db.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
    # A key never carries more than its member's role grants today (roles can be lowered).
    role = Role(row.role)
    return Principal(
        org_id=row.org_id,
        org_slug=row.slug,
        member_id=row.member_id,
        role=role,
        key_id=row.id,
        scopes=parse_scopes(row.scopes) & ROLE_SCOPES[role],
        expires_at=row.expires_at,
    )


class Authenticator:
    """``authenticate`` with a short in-process memory, so most requests skip the store.

    A key revoked or changed in the store (or its organization suspended) stops working in this
    process within ``ttl`` seconds; ``forget`` makes it immediate for changes made here.
    ``ttl=0`` turns the memory off.
    """

    def __init__(self, store: Store, *, ttl: float) -> None:
        self._store = store
        self._ttl = ttl
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def cached(self, key: str) -> Principal | None:
        """The principal for ``key`` if seen within the ttl; no I/O, safe on the event loop."""
        if self._ttl <= 0:
            return None
        entry = self._cache.get(hash_key(key))
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def authenticate(self, key: str) -> Principal:
        principal = authenticate(self._store, key)
        ttl = self._ttl
        if principal.expires_at is not None:
            ttl = min(ttl, (principal.expires_at - datetime.now(UTC)).total_seconds())
        if ttl > 0:
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[hash_key(key)] = (time.monotonic() + ttl, principal)
        return principal

    def forget(self, key_hash: str | None = None) -> None:
        with self._lock:
            if key_hash is None:
                self._cache.clear()
            else:
                self._cache.pop(key_hash, None)
