"""The operator's keys: they open ``/v1/platform`` (managing organizations) and nothing else.

They are separate from every organization's keys: another prefix (``sqgop_``), another table,
no organization, member or scopes. An organization's key presented to the platform API is a
403; an operator key presented anywhere inside an organization is unknown there (401).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update

from sqlgate.auth.keys import looks_like_key
from sqlgate.errors import AuthenticationError, AuthorizationError
from sqlgate.store.db import Store
from sqlgate.store.models import OperatorKey

OPERATOR_PREFIX = "sqgop_"
_DISPLAY_CHARS = 8


@dataclass(frozen=True)
class OperatorPrincipal:
    key_id: str


def generate_operator_key() -> str:
    return OPERATOR_PREFIX + secrets.token_urlsafe(32)


def hash_operator_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def operator_prefix(key: str) -> str:
    return key[: len(OPERATOR_PREFIX) + _DISPLAY_CHARS]


def authenticate_operator(store: Store, key: str) -> OperatorPrincipal:
    """The operator key's id; 403 for an organization's key, 401 for anything else."""
    if looks_like_key(key):
        raise AuthorizationError(
            "This route needs an operator key (create one with `sqlgate operator-key create`); "
            "an organization's API key has no access to the platform API"
        )
    invalid = AuthenticationError("Invalid or revoked operator key")
    if not (key.startswith(OPERATOR_PREFIX) and 20 <= len(key) <= 200 and key.isascii()):
        raise invalid
    with store.engine.connect() as db:
        row = db.execute(
            select(OperatorKey.id, OperatorKey.revoked_at).where(
                OperatorKey.key_hash == hash_operator_key(key)
            )
        ).one_or_none()
    if row is None or row.revoked_at is not None:
        raise invalid
    with store.engine.begin() as db:
        db.execute(
            update(OperatorKey)
            .where(OperatorKey.id == row.id)
            .values(last_used_at=datetime.now(UTC))
        )
    return OperatorPrincipal(key_id=row.id)
