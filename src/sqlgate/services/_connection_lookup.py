"""The queries that find an organization's connections: its own, and the operator's shared
connections granted to it (under the name of the grant). Built once; each is one round trip."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Select,
    and_,
    bindparam,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
)

from sqlgate.store.models import Connection, ConnectionGrant, Organization

_conn = Connection.__table__
_org = Organization.__table__
_grant = ConnectionGrant.__table__
#: Labelled, so the union's ORDER BY can name them on every store.
_COLUMNS = [c.label(c.name) for c in _conn.c]


def _own(match: Any) -> Select[Any]:
    return (
        select(
            _org.c.default_connection_id.label("default_id"),
            null().label("granted_name"),
            literal(0).label("rank"),
            *_COLUMNS,
        )
        .select_from(_org.join(_conn, and_(_conn.c.org_id == _org.c.id, match)))
        .where(_org.c.id == bindparam("org_id"))
    )


def _granted(match: Any) -> Select[Any]:
    return (
        select(
            _org.c.default_connection_id.label("default_id"),
            _grant.c.name.label("granted_name"),
            literal(1).label("rank"),
            *_COLUMNS,
        )
        .select_from(
            _org.join(_grant, and_(_grant.c.org_id == _org.c.id, match)).join(
                _conn, _conn.c.id == _grant.c.connection_id
            )
        )
        .where(_org.c.id == bindparam("org_id"))
    )


def _by_ref() -> CompoundSelect[Any]:
    ref: Any = bindparam("ref")
    own = _own(or_(_conn.c.id == ref, _conn.c.name == ref))
    granted = _granted(or_(_grant.c.connection_id == ref, _grant.c.name == ref))
    return union_all(own, granted).order_by("rank").limit(1)


def _default() -> CompoundSelect[Any]:
    own = _own(_conn.c.id == _org.c.default_connection_id)
    granted = _granted(_grant.c.connection_id == _org.c.default_connection_id)
    return union_all(own, granted).order_by("rank").limit(1)


def _all() -> CompoundSelect[Any]:
    return union_all(_own(true()), _granted(true())).order_by("rank", "created_at", "id")


#: By id or name (an own connection first); the default; every one.
BY_REF, DEFAULT, ALL = _by_ref(), _default(), _all()

#: The names taken in an organization: its connections' and its grants'.
NAMES_TAKEN = union_all(
    select(_conn.c.name).where(
        _conn.c.org_id == bindparam("org_id"), _conn.c.name == bindparam("name")
    ),
    select(_grant.c.name).where(
        _grant.c.org_id == bindparam("org_id"), _grant.c.name == bindparam("name")
    ),
)


def connection_of(row: Any) -> Connection:
    """The connection row of a lookup's result row."""
    return Connection(**{c.name: row[c.name] for c in _conn.c})
