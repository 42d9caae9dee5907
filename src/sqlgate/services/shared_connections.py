"""Shared connections: databases the operator registers once and grants to organizations.

A shared connection is kept under the platform organization (``PLATFORM_ORG_ID``), which has
no members and no keys. A grant makes it appear in one organization under a name of the
grant's (by default the connection's own): listed, queried, described and asked about like the
organization's own connections, but where it points and how it logs in are never shown there,
and the organization cannot change or delete it. Revoking the grant makes it unknown there at
once (in this process; other processes within ``connection_cache_seconds``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from sqlgate.errors import Conflict, NotFound, ValidationError
from sqlgate.services.audit import AuditLog, change
from sqlgate.services.connections import ConnectionInfo, ConnectionService
from sqlgate.services.organizations import CLI, Operator, find
from sqlgate.store.db import Store
from sqlgate.store.models import (
    PLATFORM_ORG_ID,
    Connection,
    ConnectionGrant,
    Organization,
    new_id,
)


@dataclass(frozen=True)
class Grant:
    connection_id: str
    connection: str  # the shared connection's own name
    org_id: str
    org_slug: str
    name: str  # what the organization calls it
    created_at: datetime


class SharedConnections:
    def __init__(self, store: Store, connections: ConnectionService, audit: AuditLog) -> None:
        self._store = store
        self._connections = connections
        self._audit = audit

    def add(self, *, name: str, type: str, **fields: Any) -> ConnectionInfo:
        """Register a shared connection (opened once first, like any connection). Names are
        unique among shared connections."""
        self._ensure_platform()
        return self._connections.create(
            PLATFORM_ORG_ID, name=name, type=type, trusted_path=True, **fields
        )

    def connections(self) -> list[ConnectionInfo]:
        return self._connections.list(PLATFORM_ORG_ID)

    def get(self, ref: str) -> ConnectionInfo:
        try:
            return self._connections.get(PLATFORM_ORG_ID, ref)
        except NotFound:
            raise NotFound(f"Shared connection {ref!r} not found") from None

    def update(self, ref: str, changes: dict[str, Any]) -> ConnectionInfo:
        """Point it elsewhere or rotate its credentials, for every organization at once."""
        return self._connections.update(PLATFORM_ORG_ID, self.get(ref).id, changes)

    def remove(self, ref: str) -> ConnectionInfo:
        """Delete it, and with it every grant: it disappears from every organization."""
        info = self.get(ref)
        with self._store.session() as session:
            session.execute(
                update(Organization)
                .where(Organization.default_connection_id == info.id)
                .values(default_connection_id=None)
            )
        self._connections.delete(PLATFORM_ORG_ID, info.id)
        return info

    def grants(self, ref: str | None = None) -> list[Grant]:
        """Every grant (of one shared connection, with ``ref``)."""
        query = (
            select(ConnectionGrant, Connection.name, Organization.slug)
            .join(Connection, Connection.id == ConnectionGrant.connection_id)
            .join(Organization, Organization.id == ConnectionGrant.org_id)
            .order_by(Connection.name, Organization.slug)
        )
        if ref is not None:
            query = query.where(ConnectionGrant.connection_id == self.get(ref).id)
        with self._store.session() as session:
            rows = session.execute(query).all()
        return [
            Grant(g.connection_id, conn_name, g.org_id, slug, g.name, g.created_at)
            for g, conn_name, slug in rows
        ]

    def grant(self, ref: str, org: str, *, name: str | None = None, by: Operator = CLI) -> Grant:
        """Make the shared connection appear in ``org`` as ``name`` (default: its own name).
        A name the organization already uses is a 409, as is granting twice. The first
        connection an organization gets becomes its default."""
        info = self.get(ref)
        shown = (name if name is not None else info.name).strip()
        if not 1 <= len(shown) <= 200:
            raise ValidationError("The name must be 1 to 200 characters", field="name")
        try:
            with self._store.session() as session:
                target = find(session, org)
                already = session.scalar(
                    select(ConnectionGrant.id).where(
                        ConnectionGrant.connection_id == info.id,
                        ConnectionGrant.org_id == target.id,
                    )
                )
                if already:
                    raise Conflict(f"{info.name!r} is already granted to {target.slug!r}")
                taken = session.scalar(
                    select(Connection.id).where(
                        Connection.org_id == target.id, Connection.name == shown
                    )
                )
                if taken:
                    raise Conflict(
                        f"Organization {target.slug!r} already has a connection named "
                        f"{shown!r}; grant it under another name (--as NAME)",
                        field="name",
                    )
                row = ConnectionGrant(
                    id=new_id("grant"), connection_id=info.id, org_id=target.id, name=shown
                )
                session.add(row)
                if target.default_connection_id is None:
                    target.default_connection_id = info.id
                session.flush()
                granted = Grant(info.id, info.name, target.id, target.slug, shown, row.created_at)
        except IntegrityError:
            raise Conflict(
                f"Organization {org!r} already has a connection named {shown!r}", field="name"
            ) from None
        self._connections.forget_lookups()
        self._record(by, granted.org_id, "connection.grant", info.id, {"name": shown})
        return granted

    def revoke(self, ref: str, org: str, *, by: Operator = CLI) -> Grant:
        """The shared connection is gone from ``org`` at once (a 404 there afterwards)."""
        info = self.get(ref)
        with self._store.session() as session:
            target = find(session, org)
            row = session.scalars(
                select(ConnectionGrant).where(
                    ConnectionGrant.connection_id == info.id, ConnectionGrant.org_id == target.id
                )
            ).first()
            if row is None:
                raise NotFound(f"{info.name!r} is not granted to {target.slug!r}")
            revoked = Grant(info.id, info.name, target.id, target.slug, row.name, row.created_at)
            session.execute(delete(ConnectionGrant).where(ConnectionGrant.id == row.id))
            if target.default_connection_id == info.id:
                target.default_connection_id = None
        self._connections.forget_lookups()
        self._record(by, revoked.org_id, "connection.revoke", info.id, {"name": revoked.name})
        return revoked

    def _ensure_platform(self) -> None:
        with self._store.session() as session:
            if session.get(Organization, PLATFORM_ORG_ID) is None:
                session.add(
                    Organization(
                        id=PLATFORM_ORG_ID,
                        name="Shared connections (operator)",
                        slug="-platform",  # no organization's slug starts with a dash
                        attributes={},
                    )
                )

    def _record(
        self, by: Operator, org_id: str, action: str, connection_id: str, detail: dict[str, Any]
    ) -> None:
        self._audit.record(
            change(None, org_id, action, client=by.client, connection_id=connection_id,
                   target_id=connection_id, detail=detail)
        )  # fmt: skip
