"""Organizations, their first owner, and API keys."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from sqlgate.auth.keys import display_prefix, generate_key, hash_key
from sqlgate.auth.principal import ORG_ACTIVE, Principal
from sqlgate.auth.scopes import ROLE_SCOPES, Role, Scope, format_scopes
from sqlgate.errors import Conflict, NotFound, ValidationError
from sqlgate.services.attributes import Attributes
from sqlgate.store.db import Store
from sqlgate.store.models import PLATFORM_ORG_ID, ApiKey, Member, Organization, new_id


@dataclass(frozen=True)
class IssuedKey:
    """A freshly created key. ``api_key`` is the only time the secret is ever available."""

    key_id: str
    api_key: str
    prefix: str
    org_id: str
    member_id: str
    scopes: list[str]
    expires_at: datetime | None


@dataclass(frozen=True)
class InitResult:
    created: bool
    org_id: str
    org_slug: str
    member_id: str
    key: IssuedKey | None


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:100] or "org"


def first_organization(store: Store) -> Organization | None:
    with store.session() as session:
        return session.scalars(
            select(Organization)
            .where(Organization.id != PLATFORM_ORG_ID)
            .order_by(Organization.created_at)
        ).first()


def init_organization(store: Store, *, name: str, owner_email: str) -> InitResult:
    """Create the first organization, its owner and an owner key; idempotent.

    A second call finds the existing organization and issues nothing (``created`` is false).
    """
    existing = first_organization(store)
    if existing is not None:
        with store.session() as session:
            owner = session.scalars(
                select(Member).where(Member.org_id == existing.id, Member.role == Role.OWNER)
            ).first()
        return InitResult(False, existing.id, existing.slug, owner.id if owner else "", None)
    return create_organization(store, name=name, owner_email=owner_email)


def create_organization(
    store: Store,
    *,
    name: str,
    owner_email: str,
    slug: str | None = None,
    attributes: Attributes | None = None,
) -> InitResult:
    """A new organization with its owner and an owner key, in one transaction (a taken slug is
    a 409). ``attributes`` must be checked already (:func:`attributes.validated`)."""
    slug = slug or slugify(name)
    with store.session() as session:
        if session.scalar(select(Organization.id).where(Organization.slug == slug)):
            raise Conflict(f"An organization with slug {slug!r} already exists")
        org = Organization(id=new_id("org"), name=name, slug=slug, attributes=attributes or {})
        owner = Member(id=new_id("mem"), org_id=org.id, email=owner_email, role=Role.OWNER)
        session.add(org)
        session.flush()
        session.add(owner)
        session.flush()
        key = add_key(session, org.id, owner.id, "owner key", ROLE_SCOPES[Role.OWNER], None)
    return InitResult(True, org.id, org.slug, owner.id, key)


def first_owner_id(store: Store, org_id: str) -> str | None:
    """The organization's longest-standing active owner."""
    with store.session() as session:
        return session.scalar(
            select(Member.id)
            .where(Member.org_id == org_id, Member.role == Role.OWNER, Member.status == "active")
            .order_by(Member.created_at)
        )


@dataclass(frozen=True)
class ActiveMember:
    """Whom something a member saved runs as (a shared link, a workflow): their organization's
    slug and their role as it is today."""

    org_slug: str
    role: str


_ACTIVE_MEMBER = (  # built once: a workflow's every run asks it
    select(Organization.slug, Organization.status.label("org_status"), Member.role, Member.status)
    .join(Member, Member.org_id == Organization.id)
    .where(Organization.id == bindparam("b_org"), Member.id == bindparam("b_member"))
)


def active_member(
    store: Store, org_id: str, member_id: str, *, session: Session | Connection | None = None
) -> ActiveMember | None:
    """The member's organization slug and current role; None once they have left, or while
    their organization is suspended. Read in ``session`` (or a connection) when given (one
    transaction with the caller's other reads)."""
    params = {"b_org": org_id, "b_member": member_id}
    if session is not None:
        row = session.execute(_ACTIVE_MEMBER, params).one_or_none()
    else:
        with store.session() as own:
            row = own.execute(_ACTIVE_MEMBER, params).one_or_none()
    if row is None or row.status != "active" or row.org_status != ORG_ACTIVE:
        return None
    return ActiveMember(row.slug, row.role)


def operator(store: Store, org_id: str) -> Principal:
    """The server's operator at the command line, acting as the organization's longest-standing
    owner (so what they ask is saved and logged under a member)."""
    owner = first_owner_id(store, org_id)
    with store.session() as session:
        org = session.get(Organization, org_id)
    if org is None or owner is None:
        raise NotFound(f"Organization {org_id!r} has no owner")
    return Principal(
        org_id=org.id,
        org_slug=org.slug,
        member_id=owner,
        role=Role.OWNER,
        key_id="cli",
        scopes=ROLE_SCOPES[Role.OWNER],
    )


def create_key(
    store: Store,
    org: str,
    *,
    name: str,
    scopes: set[Scope] | None = None,
    member_email: str | None = None,
    expires_at: datetime | None = None,
) -> IssuedKey:
    """Issue a key for a member (the org's first owner by default), no wider than their role."""
    with store.session() as session:
        org_row = session.scalars(
            select(Organization).where((Organization.id == org) | (Organization.slug == org))
        ).first()
        if org_row is None:
            raise NotFound(f"Organization {org!r} not found")
        query = select(Member).where(Member.org_id == org_row.id, Member.status == "active")
        query = (
            query.where(Member.email == member_email)
            if member_email
            else query.where(Member.role == Role.OWNER).order_by(Member.created_at)
        )
        member = session.scalars(query).first()
        if member is None:
            raise NotFound("Member not found in this organization")
        allowed = ROLE_SCOPES[Role(member.role)]
        wanted = frozenset(scopes) if scopes else allowed
        if not wanted <= allowed:
            extra = ", ".join(sorted(s.value for s in wanted - allowed))
            raise ValidationError(f"Scopes wider than the member's role ({member.role}): {extra}")
        return add_key(session, org_row.id, member.id, name, wanted, expires_at)


def add_key(
    session: Session,
    org_id: str,
    member_id: str,
    name: str,
    scopes: frozenset[Scope],
    expires_at: datetime | None,
) -> IssuedKey:
    secret = generate_key()
    row = ApiKey(
        id=new_id("key"),
        org_id=org_id,
        member_id=member_id,
        name=name,
        prefix=display_prefix(secret),
        key_hash=hash_key(secret),
        scopes=format_scopes(set(scopes)),
        expires_at=expires_at,
    )
    session.add(row)
    return IssuedKey(
        key_id=row.id,
        api_key=secret,
        prefix=row.prefix,
        org_id=org_id,
        member_id=member_id,
        scopes=sorted(s.value for s in scopes),
        expires_at=expires_at,
    )


def attributes_for(store: Store, org_id: str, member_id: str) -> tuple[Attributes, Attributes]:
    """The organization's attributes (set by the operator) and the member's (set by the org's
    admins), as stored: ``({"tenant_id": 42, "region": "eu"}, {"team": "sales"})``.

    Values keep their type (str, int, float, bool). An attribute not set is absent, never
    defaulted; a member who is not (or no longer) in the organization has no attributes. An
    unknown organization is a NotFound. Read from the store on every call (no cache), so a
    change is seen at once.
    """
    with store.engine.connect() as db:
        org = db.execute(
            select(Organization.attributes).where(Organization.id == org_id)
        ).one_or_none()
        member = db.execute(
            select(Member.attributes).where(Member.id == member_id, Member.org_id == org_id)
        ).one_or_none()
    if org is None:
        raise NotFound(f"Organization {org_id!r} not found")
    return dict(org.attributes or {}), dict(member.attributes or {}) if member else {}
