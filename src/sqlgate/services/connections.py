"""Registered connections: create, list, look up (by id or name, within one org), delete."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, bindparam, delete, or_, select
from sqlalchemy.exc import IntegrityError

from sqlgate.engines.registry import ENGINE_TYPES, ConnectionSpec, EngineRegistry
from sqlgate.errors import Conflict, ConnectionFailed, NotFound, ValidationError
from sqlgate.settings import Settings
from sqlgate.store.db import Store
from sqlgate.store.models import Connection, Organization, new_id

FILE_TYPES = frozenset({"duckdb", "sqlite"})


@dataclass(frozen=True)
class ConnectionInfo:
    """A connection as callers may see it: never the password, only whether one is set."""

    id: str
    name: str
    type: str
    database: str | None
    host: str | None
    port: int | None
    username: str | None
    ssl_mode: str | None
    password_set: bool
    is_default: bool
    created_at: datetime
    updated_at: datetime

    def spec(self) -> ConnectionSpec:
        return ConnectionSpec(self.id, self.type, self.database, self.updated_at)


def _info(row: Connection, default_id: str | None) -> ConnectionInfo:
    return ConnectionInfo(
        id=row.id,
        name=row.name,
        type=row.type,
        database=row.database,
        host=row.host,
        port=row.port,
        username=row.username,
        ssl_mode=row.ssl_mode,
        password_set=row.password_encrypted is not None,
        is_default=row.id == default_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _lookup_query(by_ref: bool) -> Select[Any]:
    conn_t, org_t = Connection.__table__, Organization.__table__
    match = (
        or_(conn_t.c.id == bindparam("ref"), conn_t.c.name == bindparam("ref"))
        if by_ref
        else conn_t.c.id == org_t.c.default_connection_id
    )
    return (
        select(org_t.c.default_connection_id.label("default_id"), conn_t)
        .select_from(org_t.outerjoin(conn_t, (conn_t.c.org_id == org_t.c.id) & match))
        .where(org_t.c.id == bindparam("org_id"))
        .limit(1)
    )


_LOOKUP_BY_REF = _lookup_query(by_ref=True)
_LOOKUP_DEFAULT = _lookup_query(by_ref=False)


class ConnectionService:
    def __init__(self, store: Store, settings: Settings, engines: EngineRegistry) -> None:
        self._store = store
        self._settings = settings
        self._engines = engines

    def create(
        self,
        org_id: str,
        *,
        name: str,
        type: str,
        database: str | None,
        trusted_path: bool = False,
    ) -> ConnectionInfo:
        """Register a file database. ``trusted_path`` (the CLI) skips the data-roots check."""
        if type not in FILE_TYPES:
            supported = ", ".join(sorted(ENGINE_TYPES))
            raise ValidationError(
                f"Connection type {type!r} is not supported yet; supported: {supported}",
                field="type",
            )
        path = self._check_path(database, trusted=trusted_path)
        row = Connection(id=new_id("conn"), org_id=org_id, name=name, type=type, database=path)
        self._probe(ConnectionSpec(row.id, type, path, datetime.min))
        try:
            with self._store.session() as session:
                session.add(row)
                session.flush()
                org = session.get(Organization, org_id)
                if org is None:
                    raise NotFound(f"Organization {org_id!r} not found")
                if org.default_connection_id is None:
                    org.default_connection_id = row.id
                default_id = org.default_connection_id
        except IntegrityError:
            raise Conflict(f"A connection named {name!r} already exists", field="name") from None
        return _info(row, default_id)

    def list(self, org_id: str) -> list[ConnectionInfo]:
        with self._store.session() as session:
            default_id = session.scalar(
                select(Organization.default_connection_id).where(Organization.id == org_id)
            )
            rows = session.scalars(
                select(Connection)
                .where(Connection.org_id == org_id)
                .order_by(Connection.created_at)
            ).all()
        return [_info(r, default_id) for r in rows]

    def get(self, org_id: str, ref: str | None) -> ConnectionInfo:
        """By id or name within ``org_id``; ``None`` means the org's default connection.

        On every query's path: one Core query built once (see ``_lookup_query``)."""
        query = _LOOKUP_DEFAULT if ref is None else _LOOKUP_BY_REF
        with self._store.engine.connect() as db:
            row = db.execute(query, {"org_id": org_id, "ref": ref}).mappings().first()
        if row is None or row["id"] is None:
            if ref is None:
                raise NotFound(
                    "This organization has no default connection; name one with `connection_id`"
                )
            raise NotFound(f"Connection {ref!r} not found")
        columns = Connection.__table__.c
        return _info(Connection(**{c.name: row[c.name] for c in columns}), row["default_id"])

    def delete(self, org_id: str, ref: str) -> None:
        info = self.get(org_id, ref)
        with self._store.session() as session:
            session.execute(delete(Connection).where(Connection.id == info.id))
            org = session.get(Organization, org_id)
            if org is not None and org.default_connection_id == info.id:
                org.default_connection_id = None
        self._engines.discard(info.id)

    def _check_path(self, database: str | None, *, trusted: bool) -> str:
        if not database:
            raise ValidationError("`database` (a file path) is required", field="database")
        if "\x00" in database:
            raise ValidationError("`database` is not a valid path", field="database")
        path = Path(database).expanduser()
        if not trusted:
            roots = self._settings.roots
            if not path.is_absolute():
                path = roots[0] / path
            resolved = path.resolve()
            if not any(resolved.is_relative_to(root) for root in roots):
                raise ValidationError(
                    "`database` must be a file under one of the configured data roots "
                    "(SQLGATE_DATA_ROOTS)",
                    field="database",
                )
        resolved = path.resolve()
        private = {
            (self._settings.data_dir / name).resolve()
            for name in ("sqlgate.db", "sqlgate.db-wal", "secret_key")
        }
        if resolved in private:
            raise ValidationError(
                "`database` may not point at sqlgate's own files", field="database"
            )
        if not resolved.is_file():
            raise ValidationError("`database` does not name an existing file", field="database")
        return str(resolved)

    def _probe(self, spec: ConnectionSpec) -> None:
        """Open the database once, so a file that is not a database is refused at registration."""
        probe = EngineRegistry(self._settings)
        try:
            probe.get(spec)
        except ConnectionFailed as exc:
            raise ValidationError(exc.message, field="database") from None
        finally:
            probe.close()
