"""Managing an organization's API keys: issue for a member, list without secrets, revoke."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Role, Scope, at_most
from sqlgate.errors import AuthorizationError, Conflict, NotFound, ValidationError
from sqlgate.services import orgs
from sqlgate.services.audit import AuditLog, change
from sqlgate.services.team import ACTIVE
from sqlgate.store.db import Store
from sqlgate.store.models import ApiKey, Member


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a key: never its secret or hash."""

    id: str
    name: str
    prefix: str
    scopes: list[str]
    member_id: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


def _info(row: ApiKey) -> KeyInfo:
    created = row.created_at
    assert created is not None
    return KeyInfo(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        scopes=row.scopes.split(),
        member_id=row.member_id,
        created_at=created,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def parse_requested(names: list[str] | None) -> set[Scope] | None:
    """Scope names from a client; unknown ones are a 422 naming them (nothing is issued)."""
    if names is None:
        return None
    known = {s.value for s in Scope}
    unknown = sorted({n for n in names if n not in known})
    if unknown:
        raise ValidationError(f"Unknown scopes: {', '.join(unknown)}", field="scopes")
    return {Scope(n) for n in names}


def issue(
    store: Store,
    audit: AuditLog,
    actor: Principal,
    *,
    name: str,
    scopes: list[str] | None,
    expires_at: datetime | None,
    service_account_id: str | None = None,
) -> tuple[KeyInfo, str]:
    """A new key and its secret, which is never available again.

    The key belongs to the calling member, or to one of the organization's service accounts
    whose role does not outrank the caller's. Scopes default to everything the owner's role
    allows; wider ones are refused by ``orgs.create_key``. A naive ``expires_at`` is UTC.
    """
    wanted = parse_requested(scopes)
    if expires_at is not None:
        if expires_at.tzinfo is None:  # a time without a zone is taken as UTC
            expires_at = expires_at.replace(tzinfo=UTC)
        if expires_at <= datetime.now(UTC):
            raise ValidationError("expires_at must be in the future", field="expires_at")
    member_id = service_account_id or actor.member_id
    with store.session() as session:
        member = session.get(Member, member_id)
    if member is None or member.org_id != actor.org_id:
        raise NotFound(f"Member {member_id!r} not found in this organization")
    if service_account_id is not None:
        if member.kind != "service":
            raise ValidationError(
                "service_account_id must name a service account (people create their own keys)",
                field="service_account_id",
            )
        if not at_most(Role(member.role), actor.role):
            raise AuthorizationError(
                f"A {actor.role} cannot issue keys for a {member.role} service account"
            )
    issued = orgs.create_key(
        store,
        actor.org_id,
        name=name,
        scopes=wanted,
        member_email=member.email,
        expires_at=expires_at,
    )
    with store.session() as session:
        row = session.get(ApiKey, issued.key_id)
        assert row is not None
        info = _info(row)
    audit.record(
        change(
            actor,
            actor.org_id,
            "key.create",
            target_id=info.id,
            detail={"name": name, "scopes": info.scopes, "owner_id": info.member_id},
        )
    )
    return info, issued.api_key


def list_keys(store: Store, org_id: str) -> list[KeyInfo]:
    with store.session() as session:
        rows = session.scalars(
            select(ApiKey).where(ApiKey.org_id == org_id).order_by(ApiKey.created_at, ApiKey.id)
        )
        return [_info(row) for row in rows]


def revoke(store: Store, audit: AuditLog, actor: Principal | None, org_id: str, key_id: str) -> str:
    """Mark the key revoked and return its hash, so the caller can drop it from auth caches.

    Revoking twice is a 409; a key of another organization is as unknown as a missing one.
    Through the API, revoking the organization's last key that can manage it is a 409 too
    (see :func:`_managing_keys`). ``actor`` is None for the operator at the command
    line, who may revoke any key: ``sqlgate keys create`` is there to issue the next one.
    """
    with store.session() as session:
        key_hash = session.scalar(
            select(ApiKey.key_hash).where(ApiKey.id == key_id, ApiKey.org_id == org_id)
        )
        if key_hash is None:
            raise NotFound(f"API key {key_id!r} not found")
        managing = _managing_keys(session, org_id) if actor is not None else []
        # Conditional, so two concurrent revokes cannot both succeed.
        done = session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        if done.rowcount == 0:  # type: ignore[attr-defined]
            raise Conflict(f"API key {key_id!r} is already revoked")
        if key_id in managing and _managing_keys(session, org_id) == []:
            raise Conflict(  # the session rolls back: the key stays active
                "This is the organization's last key that can manage it (an active owner's "
                "key with the admin scope); revoking it would lock everyone out. Issue "
                "another owner key first (POST /v1/keys), then revoke this one"
            )
    audit.record(
        change(actor, org_id, "key.revoke", client=None if actor else "cli", target_id=key_id)
    )
    return key_hash


def _managing_keys(session: Session, org_id: str) -> list[str]:
    """The organization's keys that can still manage it: not revoked, not expired, with the
    admin scope, held by an active owner. Locked (on PostgreSQL) in id order, so concurrent
    revocations of the last two such keys are serialized and the second one is refused; on
    SQLite the caller's preceding UPDATE already made its transaction the only writer."""
    now = datetime.now(UTC)
    rows = session.execute(
        select(ApiKey.id, ApiKey.scopes, ApiKey.expires_at)
        .join(Member, Member.id == ApiKey.member_id)
        .where(
            ApiKey.org_id == org_id,
            ApiKey.revoked_at.is_(None),
            Member.role == Role.OWNER.value,
            Member.status == ACTIVE,
        )
        .order_by(ApiKey.id)
        .with_for_update(of=ApiKey)
    ).all()
    return [
        row.id
        for row in rows
        if Scope.ADMIN.value in row.scopes.split()
        and (row.expires_at is None or row.expires_at > now)
    ]
