"""Keyset pages over ``(created_at, id)``, newest first, with opaque cursors.

A cursor is the position of the last row of a page; the next page starts strictly after it, so
pages never repeat or skip a row written meanwhile, and the ``(org_id, created_at)`` indexes
serve both the filter and the order.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from sqlgate.errors import ValidationError
from sqlgate.store.db import Store


def as_utc(value: datetime) -> datetime:
    """Naive datetimes (from a client, or SQLite's storage) are taken to be UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def encode_cursor(created_at: datetime, row_id: int | str) -> str:
    raw = json.dumps([as_utc(created_at).isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, id_type: type[int] | type[str]) -> tuple[datetime, Any]:
    """The position after which the next page starts; anything else is a 422."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, row_id = json.loads(raw)
        if type(row_id) is not id_type:  # also refuses true/false for an int id
            raise TypeError(row_id)
        return as_utc(datetime.fromisoformat(when)), row_id
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValidationError("Invalid request: cursor is malformed", field="cursor") from exc


def newest_first(
    query: Select[Any],
    created_at: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[Any],
    *,
    cursor: str | None,
    id_type: type[int] | type[str],
    limit: int,
) -> Select[Any]:
    """``query`` ordered newest first, from after ``cursor``, one row more than ``limit`` (so
    the caller knows whether another page follows)."""
    if cursor is not None:
        when, after = decode_cursor(cursor, id_type)
        query = query.where(or_(created_at < when, and_(created_at == when, row_id < after)))
    return query.order_by(created_at.desc(), row_id.desc()).limit(limit + 1)


class _Keyed(Protocol):
    @property
    def created_at(self) -> datetime: ...

    @property
    def id(self) -> Any: ...


Row = TypeVar("Row", bound=_Keyed)


def split_page(rows: list[Row], limit: int) -> tuple[list[Row], str | None]:
    """The rows of a page read by :func:`newest_first` (``limit + 1`` at most), and the cursor
    of the next page (None on the last)."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].created_at, rows[-1].id)


def read_page(
    store: Store,
    query: Select[Any],
    created_at: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[Any],
    *,
    cursor: str | None,
    limit: int,
    id_type: type[int] | type[str] = str,
) -> tuple[list[Any], str | None]:
    """One page of ``query``'s rows, newest first from after ``cursor``, and the cursor of the
    next page (None on the last): :func:`newest_first`, read, then :func:`split_page`."""
    paged = newest_first(query, created_at, row_id, cursor=cursor, id_type=id_type, limit=limit)
    with store.session() as session:
        rows = list(session.scalars(paged))
    return split_page(rows, limit)
