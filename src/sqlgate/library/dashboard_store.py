"""Dashboards and their shared links in the metadata store. A dashboard is one row (its
widgets and filters are one JSON document), so every change is written whole or not at all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from sqlgate.errors import NotFound
from sqlgate.services.orgs import ActiveMember, active_member
from sqlgate.store.db import Store
from sqlgate.store.models import Dashboard, DashboardShare, new_id
from sqlgate.store.pages import read_page


@dataclass(frozen=True)
class DashboardInfo:
    id: str
    org_id: str
    member_id: str
    name: str
    description: str | None
    document: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @property
    def widgets(self) -> list[dict[str, Any]]:
        return list(self.document.get("widgets", []))

    @property
    def filters(self) -> list[dict[str, Any]]:
        return list(self.document.get("filters", []))

    @property
    def refresh_interval(self) -> int:
        return int(self.document.get("refresh_interval", 0))

    def stored(self) -> dict[str, Any]:
        """As :func:`sqlgate.library.dashboard_spec.validate` takes ``current``."""
        return {"name": self.name, "description": self.description, "document": self.document}


@dataclass(frozen=True)
class DashboardPage:
    items: list[DashboardInfo]
    next_cursor: str | None


@dataclass(frozen=True)
class ShareInfo:
    id: str
    org_id: str
    dashboard_id: str
    member_id: str
    expires_at: datetime
    revoked_at: datetime | None
    created_at: datetime


def _info(row: Dashboard) -> DashboardInfo:
    return DashboardInfo(
        id=row.id,
        org_id=row.org_id,
        member_id=row.member_id,
        name=row.name,
        description=row.description,
        document=dict(row.document or {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _share(row: DashboardShare) -> ShareInfo:
    return ShareInfo(
        id=row.id,
        org_id=row.org_id,
        dashboard_id=row.dashboard_id,
        member_id=row.member_id,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        created_at=row.created_at,
    )


class DashboardStore:
    def __init__(self, store: Store) -> None:
        self._store = store

    def create(self, org_id: str, member_id: str, fields: dict[str, Any]) -> DashboardInfo:
        row = Dashboard(id=new_id("dash"), org_id=org_id, member_id=member_id, **fields)
        with self._store.session() as session:
            session.add(row)
            session.flush()
            return _info(row)

    def page(self, org_id: str, *, limit: int, cursor: str | None) -> DashboardPage:
        query = select(Dashboard).where(Dashboard.org_id == org_id)
        page, next_cursor = read_page(
            self._store, query, Dashboard.created_at, Dashboard.id, cursor=cursor, limit=limit
        )
        return DashboardPage([_info(r) for r in page], next_cursor)

    def get(self, org_id: str, dashboard_id: str) -> DashboardInfo:
        with self._store.session() as session:
            return _info(self._row(session, org_id, dashboard_id))

    def replace(self, org_id: str, dashboard_id: str, fields: dict[str, Any]) -> DashboardInfo:
        with self._store.session() as session:
            row = self._row(session, org_id, dashboard_id)
            for name, value in fields.items():
                setattr(row, name, value)
            session.flush()
            return _info(row)

    def delete(self, org_id: str, dashboard_id: str) -> None:
        with self._store.session() as session:
            session.delete(self._row(session, org_id, dashboard_id))

    @staticmethod
    def _row(session: Any, org_id: str, dashboard_id: str) -> Dashboard:
        row = session.get(Dashboard, dashboard_id)
        if row is None or row.org_id != org_id:
            raise NotFound(f"Dashboard {dashboard_id!r} not found")
        return row  # type: ignore[no-any-return]

    # --- shared links ----------------------------------------------------------------------------

    def add_share(
        self, org_id: str, dashboard_id: str, member_id: str, expires_at: datetime
    ) -> ShareInfo:
        row = DashboardShare(
            id=new_id("dsh"),
            org_id=org_id,
            dashboard_id=dashboard_id,
            member_id=member_id,
            expires_at=expires_at,
        )
        with self._store.session() as session:
            self._row(session, org_id, dashboard_id)
            session.add(row)
            session.flush()
            return _share(row)

    def shares(self, org_id: str, dashboard_id: str) -> list[ShareInfo]:
        query = (
            select(DashboardShare)
            .where(DashboardShare.org_id == org_id, DashboardShare.dashboard_id == dashboard_id)
            .order_by(DashboardShare.created_at.desc(), DashboardShare.id)
        )
        with self._store.session() as session:
            self._row(session, org_id, dashboard_id)
            return [_share(r) for r in session.scalars(query)]

    def share(self, share_id: str) -> ShareInfo | None:
        with self._store.session() as session:
            row = session.get(DashboardShare, share_id)
            return None if row is None else _share(row)

    def revoke_share(self, org_id: str, dashboard_id: str, share_id: str) -> ShareInfo:
        with self._store.session() as session:
            row = session.get(DashboardShare, share_id)
            if row is None or row.org_id != org_id or row.dashboard_id != dashboard_id:
                raise NotFound(f"Shared link {share_id!r} not found")
            if row.revoked_at is None:
                row.revoked_at = datetime.now(UTC)
            session.flush()
            return _share(row)

    def sharer(self, org_id: str, member_id: str) -> ActiveMember | None:
        """The link creator's organization slug and current role; None once they have left."""
        return active_member(self._store, org_id, member_id)
