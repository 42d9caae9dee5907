"""Organizations as the operator manages them: create (with an owner key), list, show, change
attributes, suspend, resume, delete.

The operator acts from the command line (``sqlgate orgs ...``) or with an operator key
(``/v1/platform/organizations``); no organization's key reaches any of this. Every change is in
the audit history of the organization it concerns, as done by the operator.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from sqlgate.auth.principal import ORG_ACTIVE
from sqlgate.errors import Conflict, NotFound, ValidationError
from sqlgate.services import attributes, orgs
from sqlgate.services.audit import AuditLog, change
from sqlgate.services.team import normalize_email
from sqlgate.store.db import Store
from sqlgate.store.models import (
    PLATFORM_ORG_ID,
    AuditEvent,
    Connection,
    Member,
    Organization,
    QueryJob,
)

SUSPENDED = "suspended"
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,99}\Z")


@dataclass(frozen=True)
class OrgInfo:
    id: str
    name: str
    slug: str
    status: str
    attributes: attributes.Attributes
    created_at: datetime
    members: int


@dataclass(frozen=True)
class Operator:
    """Who acts on the operator's behalf: an operator key (its id), or the command line."""

    key_id: str | None = None

    @property
    def client(self) -> str:
        return f"operator:{self.key_id}" if self.key_id else "cli"


CLI = Operator()


def find(session: Session, ref: str) -> Organization:
    """An organization by id or slug (never the platform's own row), else a 404."""
    row = session.scalars(
        select(Organization).where(
            (Organization.id == ref) | (Organization.slug == ref),
            Organization.id != PLATFORM_ORG_ID,
        )
    ).first()
    if row is None:
        raise NotFound(f"Organization {ref!r} not found")
    return row


class Organizations:
    def __init__(
        self,
        store: Store,
        audit: AuditLog,
        *,
        on_access_change: Callable[[], None],
        on_delete: Callable[[str, list[str], list[str]], None],
    ) -> None:
        """``on_access_change``: forget remembered keys and connections (a suspension or a
        deletion applies at once in this process). ``on_delete(org_id, connection_ids,
        job_ids)``: close the deleted organization's engines and remove its result files."""
        self._store = store
        self._audit = audit
        self._on_access_change = on_access_change
        self._on_delete = on_delete

    def create(
        self,
        name: str,
        *,
        slug: str | None = None,
        owner_email: str | None = None,
        attrs: Mapping[str, Any] | None = None,
        by: Operator = CLI,
    ) -> tuple[OrgInfo, orgs.IssuedKey]:
        """A new organization, its owner and the owner's key (shown once). A taken slug is a
        409; bad attributes a 422, and nothing is created. The owner is ``owner_email``
        (default ``owner@<slug>.localhost``)."""
        name = _check_name(name)
        slug = _check_slug(slug) if slug is not None else orgs.slugify(name)
        values = attributes.validated(attrs or {})
        # An address under the reserved .localhost domain unless one is given.
        email = normalize_email(owner_email or f"owner@{slug}.localhost")
        created = orgs.create_organization(
            self._store, name=name, owner_email=email, slug=slug, attributes=values
        )
        assert created.key is not None
        self._record(by, created.org_id, "org.create", {"name": name, "slug": slug})
        return self.get(created.org_id), created.key

    def list(self) -> list[OrgInfo]:
        with self._store.session() as session:
            rows = session.scalars(
                select(Organization)
                .where(Organization.id != PLATFORM_ORG_ID)
                .order_by(Organization.created_at, Organization.id)
            ).all()
            counts = dict(
                session.execute(select(Member.org_id, func.count()).group_by(Member.org_id)).all()
            )
        return [_info(r, counts.get(r.id, 0)) for r in rows]

    def get(self, ref: str) -> OrgInfo:
        with self._store.session() as session:
            row = find(session, ref)
            count = session.scalar(select(func.count(Member.id)).where(Member.org_id == row.id))
            return _info(row, count or 0)

    def update(
        self,
        ref: str,
        *,
        name: str | None = None,
        attrs: Mapping[str, Any] | None = None,
        by: Operator = CLI,
    ) -> OrgInfo:
        """Rename it, and change its attributes as a JSON merge patch (``null`` removes one)."""
        with self._store.session() as session:
            row = find(session, ref)
            if name is not None:
                row.name = _check_name(name)
            if attrs is not None:
                row.attributes = attributes.merged(row.attributes, attrs)
            org_id = row.id
        detail: dict[str, Any] = {}
        if name is not None:
            detail["name"] = name
        if attrs is not None:
            detail["attributes"] = sorted(attrs)
        self._record(by, org_id, "org.update", detail)
        return self.get(org_id)

    def suspend(self, ref: str, *, by: Operator = CLI) -> OrgInfo:
        """Its keys answer 403 (at once in this process; see ``auth_cache_seconds`` for other
        processes), its shared links and workflows stop. Suspending twice is a 409."""
        return self._set_status(ref, SUSPENDED, "org.suspend", by)

    def resume(self, ref: str, *, by: Operator = CLI) -> OrgInfo:
        return self._set_status(ref, ORG_ACTIVE, "org.resume", by)

    def _set_status(self, ref: str, status: str, action: str, by: Operator) -> OrgInfo:
        with self._store.session() as session:
            row = find(session, ref)
            if row.status == status:
                raise Conflict(f"Organization {row.slug!r} is already {status}")
            row.status = status
            org_id = row.id
        self._on_access_change()
        self._record(by, org_id, action, None)
        return self.get(org_id)

    def delete(self, ref: str, *, by: Operator = CLI) -> OrgInfo:
        """Remove the organization and everything saved under it: members, keys, its own
        connections, grants, semantic models, saved queries, threads, prompt logs, dashboards,
        workflows, async jobs and their result files, and its audit history. Shared
        connections granted to it stay (only the grants go)."""
        self._audit.flush()  # its history still on the way to the store goes with the rest
        with self._store.session() as session:
            row = find(session, ref)
            info = _info(row, 0)
            connection_ids = list(
                session.scalars(select(Connection.id).where(Connection.org_id == row.id))
            )
            job_ids = list(session.scalars(select(QueryJob.id).where(QueryJob.org_id == row.id)))
            session.execute(delete(AuditEvent).where(AuditEvent.org_id == row.id))
            session.delete(row)  # the store cascades to everything that names the org
        self._on_access_change()
        self._on_delete(info.id, connection_ids, job_ids)
        # Kept under the platform's history: the organization's own is gone with it.
        self._record(by, PLATFORM_ORG_ID, "org.delete", {"slug": info.slug}, target=info.id)
        return info

    def _record(
        self,
        by: Operator,
        org_id: str,
        action: str,
        detail: dict[str, Any] | None,
        *,
        target: str | None = None,
    ) -> None:
        self._audit.record(
            change(None, org_id, action, client=by.client, target_id=target or org_id,
                   detail=detail)
        )  # fmt: skip


def _info(row: Organization, members: int) -> OrgInfo:
    return OrgInfo(
        id=row.id,
        name=row.name,
        slug=row.slug,
        status=row.status,
        attributes=dict(row.attributes or {}),
        created_at=row.created_at,
        members=members,
    )


def _check_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 200 or "\x00" in name:
        raise ValidationError("`name` must be 1 to 200 characters", field="name")
    return name


def _check_slug(slug: str) -> str:
    if not _SLUG.match(slug):
        raise ValidationError(
            "`slug` must be lower-case letters, digits and dashes (at most 100), starting with "
            "a letter or digit",
            field="slug",
        )
    return slug
