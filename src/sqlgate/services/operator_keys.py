"""Creating, listing and revoking the operator's keys (``sqlgate operator-key ...``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update

from sqlgate.auth.operator import generate_operator_key, hash_operator_key, operator_prefix
from sqlgate.errors import Conflict, NotFound, ValidationError
from sqlgate.store.db import Store
from sqlgate.store.models import OperatorKey, new_id


@dataclass(frozen=True)
class OperatorKeyInfo:
    """What may be shown about an operator key: never its secret or hash."""

    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _info(row: OperatorKey) -> OperatorKeyInfo:
    return OperatorKeyInfo(
        row.id, row.name, row.prefix, row.created_at, row.last_used_at, row.revoked_at
    )


def create(store: Store, name: str) -> tuple[OperatorKeyInfo, str]:
    """A new operator key and its secret, shown only now (only its hash is stored)."""
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise ValidationError("The key's name must be 1 to 200 characters", field="name")
    secret = generate_operator_key()
    row = OperatorKey(
        id=new_id("opk"),
        name=name,
        prefix=operator_prefix(secret),
        key_hash=hash_operator_key(secret),
    )
    with store.session() as session:
        session.add(row)
        session.flush()
        info = _info(row)
    return info, secret


def list_keys(store: Store) -> list[OperatorKeyInfo]:
    with store.session() as session:
        rows = session.scalars(select(OperatorKey).order_by(OperatorKey.created_at)).all()
        return [_info(r) for r in rows]


def revoke(store: Store, key_id: str) -> OperatorKeyInfo:
    """It stops working at once (operator keys are not remembered between requests)."""
    with store.session() as session:
        row = session.get(OperatorKey, key_id)
        if row is None:
            raise NotFound(f"Operator key {key_id!r} not found")
        done = session.execute(
            update(OperatorKey)
            .where(OperatorKey.id == key_id, OperatorKey.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        if done.rowcount == 0:  # type: ignore[attr-defined]
            raise Conflict(f"Operator key {key_id!r} is already revoked")
        session.refresh(row)
        return _info(row)
