"""Reading the audit history (newest first, keyset pages) and pruning it past retention.

Pages are keyed on ``(created_at, id)`` so the ``(org_id, created_at)`` index serves both the
time filters and the order, and a page never repeats or skips an event written meanwhile.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, or_, select

from sqlgate.errors import ValidationError
from sqlgate.store.db import Store
from sqlgate.store.models import AuditEvent, utcnow


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


def as_utc(value: datetime) -> datetime:
    """Naive datetimes (from a client, or SQLite's storage) are taken to be UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def encode_cursor(event: AuditEvent) -> str:
    raw = json.dumps([as_utc(event.created_at).isoformat(), event.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The position after which the next page starts; anything else is a 422."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, event_id = json.loads(raw)
        if not isinstance(event_id, int) or isinstance(event_id, bool):
            raise TypeError(event_id)
        return as_utc(datetime.fromisoformat(when)), event_id
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValidationError("Invalid request: cursor is malformed", field="cursor") from exc


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
    if cursor is not None:
        when, event_id = decode_cursor(cursor)
        query = query.where(
            or_(
                AuditEvent.created_at < when,
                and_(AuditEvent.created_at == when, AuditEvent.id < event_id),
            )
        )
    query = query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).limit(limit + 1)
    with store.session() as session:
        events = list(session.scalars(query))
    more = len(events) > limit
    events = events[:limit]
    return AuditPage(events, encode_cursor(events[-1]) if more else None)


def prune(store: Store, older_than_days: int) -> int:
    """Delete every organization's events older than ``older_than_days``; returns how many."""
    cutoff = utcnow() - timedelta(days=older_than_days)
    with store.session() as session:
        result = session.execute(delete(AuditEvent).where(AuditEvent.created_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
