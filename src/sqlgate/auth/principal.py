"""Who is calling: an API key resolved to its organization, member, role and scopes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from sqlgate.auth.keys import hash_key, looks_like_key
from sqlgate.auth.scopes import ROLE_SCOPES, Role, Scope, parse_scopes
from sqlgate.errors import AuthenticationError, AuthorizationError
from sqlgate.store.db import Store
from sqlgate.store.models import ApiKey, Member, Organization

# Writing `last_used_at` on every request would turn every read into a write; once a minute is
# precise enough for "when was this key last used".
_LAST_USED_GRANULARITY = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    org_id: str
    org_slug: str
    member_id: str
    role: Role
    key_id: str
    scopes: frozenset[Scope]

    def require(self, *any_of: Scope) -> None:
        """Refuse unless the key carries at least one of ``any_of``."""
        if not self.scopes.intersection(any_of):
            names = " or ".join(s.value for s in any_of)
            raise AuthorizationError(f"This API key lacks the {names} scope", required=names)

    def owns_org(self, org: str) -> bool:
        return org in (self.org_id, self.org_slug)


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def authenticate(store: Store, key: str) -> Principal:
    """Resolve a presented key, or raise AuthenticationError without saying which part failed."""
    invalid = AuthenticationError("Invalid or expired API key")
    if not looks_like_key(key):
        raise invalid
    now = datetime.now(UTC)
    with store.session() as session:
        row = session.execute(
            select(ApiKey, Member.role, Organization.slug)
            .join(Member, Member.id == ApiKey.member_id)
            .join(Organization, Organization.id == ApiKey.org_id)
            .where(ApiKey.key_hash == hash_key(key))
        ).one_or_none()
        if row is None:
            raise invalid
        api_key, role, slug = row
        if api_key.revoked_at is not None:
            raise invalid
        if api_key.expires_at is not None and _aware(api_key.expires_at) <= now:
            raise invalid
        last = api_key.last_used_at
        if last is None or now - _aware(last) > _LAST_USED_GRANULARITY:
            session.execute(update(ApiKey).where(ApiKey.id == api_key.id).values(last_used_at=now))
        # A key never carries more than its member's role grants today (roles can be lowered).

        scopes = parse_scopes(api_key.scopes) & ROLE_SCOPES[Role(role)]
        return Principal(
            org_id=api_key.org_id,
            org_slug=slug,
            member_id=api_key.member_id,
            role=Role(role),
            key_id=api_key.id,
            scopes=scopes,
        )
