"""An organization's team: members (invited, then active), service accounts and their roles.

Rules every change follows:

- nobody grants a role above their own, or changes a member who outranks them;
- an organization always keeps at least one active owner;
- removing a member revokes their keys at once (they are deleted with the member);
- every change is one transaction and one audit event (who, what, which member; no secrets).

``actor`` is the calling key's principal; ``None`` is the server's operator at the command line,
who may do anything but leave an organization without an owner.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import ROLE_SCOPES, Role, at_most
from sqlgate.errors import (
    AuthenticationError,
    AuthorizationError,
    Conflict,
    NotFound,
    ValidationError,
)
from sqlgate.services import attributes, orgs
from sqlgate.services.attributes import Attributes
from sqlgate.services.audit import AuditLog, AuditRecord, change
from sqlgate.store.db import Store
from sqlgate.store.models import ApiKey, Member, new_id

PERSON = "person"
SERVICE = "service"
ACTIVE = "active"
INVITED = "invited"

INVITE_PREFIX = "sqgi_"
#: Service accounts have no mailbox; their address is made from the name under a reserved
#: top-level domain (RFC 2606), so it can never collide with a person's or receive mail.
SERVICE_DOMAIN = "service.sqlgate.invalid"

_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
#: A pragmatic address check (what mail systems accept in practice, not all of RFC 5322):
#: a local part without spaces, quotes or brackets, and a domain of at least two labels.
_EMAIL = re.compile(rf"^[^@\s\"<>(),;:\\\[\]]{{1,64}}@{_LABEL}(?:\.{_LABEL})+$")
_SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


@dataclass(frozen=True)
class MemberInfo:
    """What may be shown about a member: never an invitation token or its hash."""

    id: str
    kind: str
    email: str | None
    name: str | None
    role: str
    status: str
    created_at: datetime
    invited_by: str | None
    invite_expires_at: datetime | None
    #: Typed values access policies may reference, set by the organization's admins.
    attributes: Attributes = field(default_factory=dict)


@dataclass(frozen=True)
class Invitation:
    member: MemberInfo
    token: str  # shown once; only its hash is stored


@dataclass(frozen=True)
class Accepted:
    member: MemberInfo
    key: orgs.IssuedKey


def normalize_email(email: str) -> str:
    """Lower-cased and checked; a malformed or reserved address is a 422 naming the field."""
    value = email.strip().lower()
    if len(value) > 320 or not _EMAIL.match(value):
        raise ValidationError(f"Invalid email address: {email!r}", field="email")
    if value.endswith(".invalid"):
        raise ValidationError("Addresses under .invalid are reserved", field="email")
    return value


def _info(row: Member) -> MemberInfo:
    service = row.kind == SERVICE
    return MemberInfo(
        id=row.id,
        kind=row.kind,
        email=None if service else row.email,
        name=row.name,
        role=row.role,
        status=row.status,
        created_at=row.created_at,
        invited_by=row.invited_by,
        invite_expires_at=row.invite_expires_at if row.status == INVITED else None,
        attributes=dict(row.attributes or {}),
    )


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TeamService:
    def __init__(self, store: Store, audit: AuditLog, *, invite_ttl: timedelta) -> None:
        self._store = store
        self._audit = audit
        self._invite_ttl = invite_ttl

    # -- reading -------------------------------------------------------------------------

    def members(self, org_id: str, *, kind: str | None = None) -> list[MemberInfo]:
        query = select(Member).where(Member.org_id == org_id)
        if kind is not None:
            query = query.where(Member.kind == kind)
        with self._store.session() as session:
            rows = session.scalars(query.order_by(Member.created_at, Member.id))
            return [_info(r) for r in rows]

    def get(self, org_id: str, member_id: str) -> MemberInfo:
        with self._store.session() as session:
            return _info(self._member(session, org_id, member_id))

    # -- changing ------------------------------------------------------------------------

    def invite(self, actor: Principal | None, org_id: str, email: str, role: Role) -> Invitation:
        """A pending member and the one-time token that activates them and yields a key."""
        address = normalize_email(email)
        self._may_grant(actor, role)
        token = INVITE_PREFIX + secrets.token_urlsafe(32)
        expires = datetime.now(UTC) + self._invite_ttl
        try:
            with self._store.session() as session:
                taken = session.scalar(
                    select(Member.status).where(Member.org_id == org_id, Member.email == address)
                )
                if taken is not None:
                    raise self._already(address, taken)
                row = Member(
                    id=new_id("mem"),
                    org_id=org_id,
                    email=address,
                    role=role.value,
                    kind=PERSON,
                    status=INVITED,
                    invite_hash=_hash_token(token),
                    invite_expires_at=expires,
                    invited_by=actor.member_id if actor else None,
                )
                session.add(row)
                session.flush()
                info = _info(row)
        except IntegrityError as exc:  # a concurrent invitation of the same address won
            raise self._already(address, INVITED) from exc
        self._record(actor, org_id, "member.invite", info.id, {"email": address, "role": role})
        return Invitation(info, token)

    def accept(self, token: str, *, key_name: str) -> Accepted:
        """Activate the invited member and issue their first API key; the token then dies."""
        invalid = AuthenticationError("Invalid, used or expired invitation token")
        if not token.startswith(INVITE_PREFIX) or not 20 <= len(token) <= 200:
            raise invalid
        now = datetime.now(UTC)
        with self._store.session() as session:
            row = session.scalars(
                select(Member).where(Member.invite_hash == _hash_token(token))
            ).one_or_none()
            if row is None or row.status != INVITED:
                raise invalid
            if row.invite_expires_at is None or row.invite_expires_at <= now:
                raise invalid
            # Conditional, so the same token accepted twice at once yields one key.
            done = session.execute(
                update(Member)
                .where(Member.id == row.id, Member.status == INVITED)
                .values(status=ACTIVE, invite_hash=None, invite_expires_at=None)
            )
            if done.rowcount != 1:  # type: ignore[attr-defined]
                raise invalid
            role = Role(row.role)
            key = orgs.add_key(session, row.org_id, row.id, key_name, ROLE_SCOPES[role], None)
            session.flush()
            session.refresh(row)
            info = _info(row)
        self._audit.record(
            AuditRecord(
                org_id=row.org_id,
                action="member.accept",
                status="ok",
                member_id=info.id,
                key_id=key.key_id,
                target_id=info.id,
                detail={"role": info.role},
            )
        )
        return Accepted(info, key)

    def create_service_account(
        self, actor: Principal | None, org_id: str, name: str, role: Role
    ) -> MemberInfo:
        """An account that belongs to the organization, not a person; keys are issued for it
        with ``/v1/keys`` (``service_account_id``)."""
        if not _SERVICE_NAME.match(name):
            raise ValidationError(
                "Service account names are 1-63 lower-case letters, digits, '.', '_' or '-', "
                "starting with a letter or digit",
                field="name",
            )
        self._may_grant(actor, role)
        address = f"{name}@{SERVICE_DOMAIN}"
        try:
            with self._store.session() as session:
                if session.scalar(
                    select(Member.id).where(Member.org_id == org_id, Member.email == address)
                ):
                    raise Conflict(f"A service account named {name!r} already exists")
                row = Member(
                    id=new_id("mem"),
                    org_id=org_id,
                    email=address,
                    name=name,
                    role=role.value,
                    kind=SERVICE,
                    status=ACTIVE,
                    invited_by=actor.member_id if actor else None,
                )
                session.add(row)
                session.flush()
                info = _info(row)
        except IntegrityError as exc:
            raise Conflict(f"A service account named {name!r} already exists") from exc
        self._record(actor, org_id, "service_account.create", info.id, {"name": name, "role": role})
        return info

    def change_role(
        self, actor: Principal | None, org_id: str, member_id: str, role: Role
    ) -> MemberInfo:
        self._may_grant(actor, role)
        with self._store.session() as session:
            row = self._member(session, org_id, member_id)
            before = Role(row.role)
            self._may_manage(actor, row)
            if before == Role.OWNER and role != Role.OWNER:
                self._keep_an_owner(session, org_id, row)
            row.role = role.value
            session.flush()
            info = _info(row)
        if before != role:
            self._record(
                actor, org_id, "member.update", member_id, {"role": role, "previous_role": before}
            )
        return info

    def update(
        self,
        actor: Principal | None,
        org_id: str,
        member_id: str,
        *,
        role: Role | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> MemberInfo:
        """Change a member's role and/or attributes (a JSON merge patch: ``null`` removes one)
        in one transaction; bad attributes are a 422 and nothing changes."""
        if role is not None:
            self._may_grant(actor, role)
        with self._store.session() as session:
            row = self._member(session, org_id, member_id)
            before = Role(row.role)
            self._may_manage(actor, row)
            if attrs is not None:
                row.attributes = attributes.merged(row.attributes, attrs)
            if role is not None:
                if before == Role.OWNER and role != Role.OWNER:
                    self._keep_an_owner(session, org_id, row)
                row.role = role.value
            session.flush()
            info = _info(row)
        if role is not None and before != role:
            self._record(
                actor, org_id, "member.update", member_id, {"role": role, "previous_role": before}
            )
        if attrs is not None:
            self._record(
                actor, org_id, "member.attributes", member_id, {"attributes": sorted(attrs)}
            )
        return info

    def remove(self, actor: Principal | None, org_id: str, member_id: str) -> list[str]:
        """Delete the member (an invited one: withdraw the invitation) and every key they hold;
        returns the keys' hashes so callers can drop them from authentication caches."""
        with self._store.session() as session:
            row = self._member(session, org_id, member_id)
            self._may_manage(actor, row)
            if row.role == Role.OWNER:
                self._keep_an_owner(session, org_id, row)
            hashes = list(
                session.scalars(select(ApiKey.key_hash).where(ApiKey.member_id == row.id))
            )
            detail: dict[str, Any] = {
                "email": None if row.kind == SERVICE else row.email,
                "name": row.name,
                "role": row.role,
                "kind": row.kind,
                "status": row.status,
                "keys_revoked": len(hashes),
            }
            session.execute(delete(ApiKey).where(ApiKey.member_id == row.id))
            session.delete(row)
        self._record(actor, org_id, "member.remove", member_id, detail)
        return hashes

    # -- rules ---------------------------------------------------------------------------

    @staticmethod
    def _member(session: Session, org_id: str, member_id: str) -> Member:
        row = session.get(Member, member_id)
        if row is None or row.org_id != org_id:  # another org's member is as unknown
            raise NotFound(f"Member {member_id!r} not found")
        return row

    @staticmethod
    def _may_grant(actor: Principal | None, role: Role) -> None:
        if actor is not None and not at_most(role, actor.role):
            raise AuthorizationError(
                f"A {actor.role} cannot grant the {role} role (nobody grants a role above "
                "their own)"
            )

    @staticmethod
    def _may_manage(actor: Principal | None, row: Member) -> None:
        if actor is not None and not at_most(Role(row.role), actor.role):
            raise AuthorizationError(f"A {actor.role} cannot change or remove a {row.role}")

    @staticmethod
    def _keep_an_owner(session: Session, org_id: str, leaving: Member) -> None:
        """Refuse a change that would leave ``org_id`` without an active owner. The owners'
        rows are locked (on PostgreSQL) so two concurrent demotions cannot both pass."""
        owners = session.scalars(
            select(Member.id)
            .where(
                Member.org_id == org_id,
                Member.role == Role.OWNER.value,
                Member.status == ACTIVE,
            )
            .with_for_update()
        ).all()
        if leaving.status == ACTIVE and [o for o in owners if o != leaving.id] == []:
            raise Conflict(
                "An organization must keep at least one owner: promote another member to "
                "owner first"
            )

    @staticmethod
    def _already(address: str, status: str) -> Conflict:
        if status == INVITED:
            return Conflict(f"{address} has already been invited")
        return Conflict(f"{address} is already a member")

    def _record(
        self,
        actor: Principal | None,
        org_id: str,
        action: str,
        target_id: str,
        detail: dict[str, Any],
    ) -> None:
        self._audit.record(
            change(
                actor,
                org_id,
                action,
                client=None if actor else "cli",
                target_id=target_id,
                detail={k: (str(v) if isinstance(v, Role) else v) for k, v in detail.items()},
            )
        )
