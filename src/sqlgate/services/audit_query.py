"""Reading the audit history (newest first, keyset pages) and pruning it past retention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from sqlgate.store.db import Store
from sqlgate.store.models import AuditEvent, utcnow
from sqlgate.store.pages import as_utc, read_page


@dataclass(frozen=True)
class AuditFilter:
    member_id: str | None = None
    connection_id: str | None = None
    status: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    next_cursor: str | None


def list_events(
    store: Store, org_id: str, where: AuditFilter, *, limit: int, cursor: str | None = None
) -> AuditPage:
    """One page of ``org_id``'s events matching ``where``; never another organization's."""
    query = select(AuditEvent).where(AuditEvent.org_id == org_id)
    for column, value in (
        (AuditEvent.member_id, where.member_id),
        (AuditEvent.connection_id, where.connection_id),
        (AuditEvent.status, where.status),
        (AuditEvent.action, where.action),
    ):
        if value is not None:
            query = query.where(column == value)
    if where.since is not None:
        query = query.where(AuditEvent.created_at >= as_utc(where.since))
    if where.until is not None:
        query = query.where(AuditEvent.created_at < as_utc(where.until))
    return AuditPage(
        *read_page(
            store,
            query,
            AuditEvent.created_at,
            AuditEvent.id,
            cursor=cursor,
            limit=limit,
            id_type=int,
        )
    )


def prune(store: Store, older_than_days: int) -> int:
    """Delete every organization's events older than ``older_than_days``; returns how many."""
    cutoff = utcnow() - timedelta(days=older_than_days)
    with store.session() as session:
        result = session.execute(delete(AuditEvent).where(AuditEvent.created_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
