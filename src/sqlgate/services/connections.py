"""Registered connections: create, change, test, introspect, delete (by id or name, in one org).

Passwords are encrypted at rest (:mod:`sqlgate.services.secrets`) and never leave this module in
clear text except inside the :class:`ConnectionSpec` handed to an engine when it opens.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sqlgate.auth.principal import Principal
from sqlgate.engines.base import CONCEALED_FAILURE, ConnectionSpec, Engine, ServerInfo
from sqlgate.engines.registry import (
    CONNECTION_TYPES,
    EngineRegistry,
    dialect_for,
    engine_class,
    split_url,
)
from sqlgate.errors import (
    AuthorizationError,
    Conflict,
    ConnectionFailed,
    NotFound,
    ValidationError,
)
from sqlgate.services import _connection_lookup as lookups
from sqlgate.services.audit import AuditLog, audited
from sqlgate.services.remembered import Remembered
from sqlgate.services.secrets import SecretBox
from sqlgate.settings import Settings
from sqlgate.store.db import Store
from sqlgate.store.models import PLATFORM_ORG_ID, Connection, Organization, new_id, utcnow
from sqlgate.vocabulary.schema import DatabaseSchema

# Host names, IPv4 and IPv6 literals; nothing a driver could read as an option.
_HOST = re.compile(r"[A-Za-z0-9_.:%\[\]-]{1,255}\Z")


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
    password_encrypted: str | None = field(default=None, repr=False)
    #: Owned by the operator and granted to this organization: it may query it, never see
    #: where it points or change it.
    shared: bool = False

    @property
    def dialect(self) -> str:
        return dialect_for(self.type, self.database)


@dataclass
class ConnectionFields:
    """What a caller may set on a connection (create, or the changed subset on update)."""

    name: str
    type: str
    database: str | None = None
    host: str | None = None
    port: int | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssl_mode: str | None = None
    url: str | None = field(default=None, repr=False)  # sqlalchemy only; may hold a password


def _info(
    row: Connection, default_id: str | None, granted_name: str | None = None
) -> ConnectionInfo:
    """``granted_name``: the name a shared connection has in the organization it is granted
    to."""
    return ConnectionInfo(
        id=row.id,
        name=granted_name or row.name,
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
        password_encrypted=row.password_encrypted,
        shared=bool(row.shared),
    )


def _wrong_file_type(kind: str, path: str | None) -> str | None:
    """For a file that ``kind``'s engine could not open: what the file is instead, if another
    file engine's declared signature claims it, and how to register it."""
    declared = engine_class(kind)
    if declared.location != "file" or not path or declared.recognizes(path):
        return None
    for other in CONNECTION_TYPES:
        cls = engine_class(other)
        if cls.location == "file" and cls is not declared and cls.recognizes(path):
            return (
                f"`database` is {cls.summary}, not {declared.summary} (its first bytes say so): "
                f"register it with type `{other}`"
            )
    return None


def _name_free(session: Session, org_id: str, name: str) -> None:
    """A 409 when ``name`` is taken in the organization (by a connection or a grant)."""
    if session.execute(lookups.NAMES_TAKEN, {"org_id": org_id, "name": name}).first():
        raise Conflict(f"A connection named {name!r} already exists", field="name")


class ConnectionService:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        engines: EngineRegistry,
        box: SecretBox,
        audit: AuditLog | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._engines = engines
        self._box = box
        self._audit = audit
        # Lookups on the query path, by (org id, ref): see ``get`` and ``_changed``.
        self._lookups: Remembered[tuple[str, str | None], ConnectionInfo] = Remembered(
            settings.connection_cache_seconds
        )

    def _audited(
        self, actor: Principal | None, org_id: str, action: str, connection_id: str
    ) -> AbstractContextManager[dict[str, Any]]:
        """Record a change to connections in the audit history: who, which, and the outcome
        (never the settings or secrets)."""
        return audited(self._audit, actor, org_id, action, connection_id=connection_id)

    # --- reading ------------------------------------------------------------------------------

    def list(self, org_id: str) -> list[ConnectionInfo]:
        """The organization's own connections, then the shared ones granted to it."""
        with self._store.engine.connect() as db:
            rows = db.execute(lookups.ALL, {"org_id": org_id}).mappings().all()
        return [_info(lookups.connection_of(r), r["default_id"], r["granted_name"]) for r in rows]

    def get(self, org_id: str, ref: str | None) -> ConnectionInfo:
        """By id or name within ``org_id``; ``None`` means the org's default connection.

        On every query's path, so remembered for ``connection_cache_seconds``: a change made
        through this service forgets everything at once (``_changed``); one made by another
        process (the CLI, another worker) is seen within that time. Misses are not
        remembered, and a lookup that raced a change is not stored."""
        return self._lookups.get((org_id, ref), lambda: self._lookup(org_id, ref))

    def _changed(self) -> None:
        """Connections changed (or may have): no cached lookup may be used again."""
        self._lookups.forget()

    def forget_lookups(self) -> None:
        """Connections or grants changed elsewhere in this process (grants, organizations)."""
        self._changed()

    def _lookup(self, org_id: str, ref: str | None) -> ConnectionInfo:
        """One Core query built once (see :mod:`._connection_lookup`)."""
        query = lookups.DEFAULT if ref is None else lookups.BY_REF
        with self._store.engine.connect() as db:
            row = db.execute(query, {"org_id": org_id, "ref": ref}).mappings().first()
        if row is None or row["id"] is None:
            if ref is None:
                raise NotFound(
                    "This organization has no default connection; name one with `connection_id`"
                )
            raise NotFound(f"Connection {ref!r} not found")
        return _info(lookups.connection_of(row), row["default_id"], row["granted_name"])

    def engine(self, info: ConnectionInfo) -> Engine:
        """The open engine for ``info`` (opened on first use, reopened after a change). A
        shared connection that cannot be opened does not say where it points."""
        try:
            engine = self._engines.get(info.id, info.updated_at, lambda: self._spec(info))
        except ConnectionFailed:
            if not info.shared:
                raise
            raise ConnectionFailed(CONCEALED_FAILURE) from None
        engine.conceal_location = info.shared
        return engine

    def _owned(self, org_id: str, info: ConnectionInfo) -> None:
        """Refuse to change a shared connection from an organization it is granted to."""
        if info.shared and org_id != PLATFORM_ORG_ID:
            raise AuthorizationError(
                f"Connection {info.name!r} is shared by the operator of this deployment: an "
                "organization can query it, not change or delete it"
            )

    def test(self, org_id: str, ref: str, *, actor: Principal | None = None) -> ServerInfo:
        """Reach the database now: version, round-trip time, and whether it could write (for
        a shared connection seen from an organization, not which role or privilege)."""
        info = self.get(org_id, ref)
        with self._audited(actor, org_id, "connection.test", info.id):
            try:
                found = self.engine(info).probe()
                hide = info.shared and org_id != PLATFORM_ORG_ID
                return dataclasses.replace(found, write_detail=None) if hide else found
            except ConnectionFailed as exc:
                if info.shared:
                    raise ConnectionFailed(CONCEALED_FAILURE) from None
                wrong_type = _wrong_file_type(info.type, info.database)
                if wrong_type:
                    raise ConnectionFailed(wrong_type) from exc
                raise

    def schema(self, org_id: str, ref: str, *, refresh: bool = False) -> DatabaseSchema:
        info = self.get(org_id, ref)
        return self.engine(info).schema(refresh=refresh)

    # --- writing ------------------------------------------------------------------------------

    def create(
        self,
        org_id: str,
        *,
        name: str,
        type: str,
        database: str | None = None,
        host: str | None = None,
        port: int | None = None,
        username: str | None = None,
        password: str | None = None,
        ssl_mode: str | None = None,
        url: str | None = None,
        trusted_path: bool = False,
        actor: Principal | None = None,
    ) -> ConnectionInfo:
        """Register a connection after opening it once. ``trusted_path`` (the CLI) skips the
        data-roots check for file databases."""
        fields = ConnectionFields(
            name, type, database, host, port, username, password, ssl_mode, url
        )
        row = Connection(
            id=new_id("conn"),
            org_id=org_id,
            name=name,
            type=type,
            shared=org_id == PLATFORM_ORG_ID,
        )
        with self._audited(actor, org_id, "connection.create", row.id):
            try:
                return self._create(row, org_id, fields, trusted_path=trusted_path)
            finally:
                self._changed()

    def _create(
        self, row: Connection, org_id: str, fields: ConnectionFields, *, trusted_path: bool
    ) -> ConnectionInfo:
        name = fields.name
        self._apply(row, org_id, fields, trusted_path=trusted_path)
        self._probe(row)
        try:
            with self._store.session() as session:
                _name_free(session, org_id, name)
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

    def update(
        self,
        org_id: str,
        ref: str,
        changes: dict[str, Any],
        *,
        make_default: bool = False,
        actor: Principal | None = None,
    ) -> ConnectionInfo:
        """Rename, move, or rotate credentials. ``changes`` holds only the fields the caller
        sent (a ``password`` of ``None`` removes the stored one). The connection is opened
        with the new settings before anything is saved."""
        current = self.get(org_id, ref)
        self._owned(org_id, current)
        with self._audited(actor, org_id, "connection.update", current.id):
            try:
                return self._update(current, org_id, changes, make_default=make_default)
            finally:
                self._changed()

    def _update(
        self,
        current: ConnectionInfo,
        org_id: str,
        changes: dict[str, Any],
        *,
        make_default: bool,
    ) -> ConnectionInfo:
        ref = current.id
        if "type" in changes and changes["type"] != current.type:
            raise ValidationError(
                "A connection's type cannot change; create a new connection", field="type"
            )
        try:
            with self._store.session() as session, session.no_autoflush:
                row = session.get(Connection, current.id)
                if row is None:
                    raise NotFound(f"Connection {ref!r} not found")
                if changes.get("name") not in (None, row.name):
                    _name_free(session, org_id, changes["name"])
                self._change(row, org_id, changes)
                org = session.get(Organization, org_id)
                if org is not None and make_default:
                    org.default_connection_id = row.id
                default_id = org.default_connection_id if org else None
                session.flush()
                info = _info(row, default_id)
        except IntegrityError:
            name = changes.get("name")
            raise Conflict(f"A connection named {name!r} already exists", field="name") from None
        self._engines.discard(info.id)
        return info

    def _change(self, row: Connection, org_id: str, changes: dict[str, Any]) -> None:
        merged = ConnectionFields(
            name=changes.get("name", row.name),
            type=row.type,
            database=changes.get("database", row.database),
            host=changes.get("host", row.host),
            port=changes.get("port", row.port),
            username=changes.get("username", row.username),
            ssl_mode=changes.get("ssl_mode", row.ssl_mode),
            url=changes.get("url"),
        )
        if "password" in changes or merged.url:
            merged.password = changes.get("password")
        elif row.password_encrypted:
            merged.password = self._box.decrypt(row.password_encrypted)
        self._apply(row, org_id, merged, trusted_path=False)
        self._probe(row)
        row.updated_at = utcnow()

    def delete(self, org_id: str, ref: str, *, actor: Principal | None = None) -> None:
        info = self.get(org_id, ref)
        self._owned(org_id, info)
        with (
            self._audited(actor, org_id, "connection.delete", info.id),
            self._store.session() as session,
        ):
            session.execute(delete(Connection).where(Connection.id == info.id))
            org = session.get(Organization, org_id)
            if org is not None and org.default_connection_id == info.id:
                org.default_connection_id = None
        self._changed()
        self._engines.discard(info.id)

    def rotate_secrets(self) -> tuple[int, int]:
        """Re-encrypt every stored password with the current key: ``(rotated, unchanged)``."""
        rotated = unchanged = 0
        with self._store.session() as session:
            rows = session.scalars(
                select(Connection).where(Connection.password_encrypted.is_not(None))
            ).all()
            for row in rows:
                token = row.password_encrypted or ""
                if self._box.is_current(token):
                    unchanged += 1
                    continue
                row.password_encrypted = self._box.rotate(token)
                rotated += 1
        self._changed()
        return rotated, unchanged

    # --- internals ----------------------------------------------------------------------------

    def _apply(
        self, row: Connection, org_id: str, fields: ConnectionFields, *, trusted_path: bool
    ) -> None:
        """Validate ``fields`` for the connection's type (what its engine class declares) and
        copy them onto ``row``."""
        kind = fields.type
        if kind not in CONNECTION_TYPES:
            supported = ", ".join(sorted(CONNECTION_TYPES))
            raise ValidationError(
                f"Unknown connection type {kind!r}; supported: {supported}", field="type"
            )
        declared = engine_class(kind)
        row.name = fields.name
        if declared.location == "file":
            for extra in ("host", "port", "username", "password", "ssl_mode", "url"):
                if getattr(fields, extra) is not None:
                    raise ValidationError(
                        f"`{extra}` does not apply to {kind} file databases", field=extra
                    )
            row.database = self._check_path(fields.database, trusted=trusted_path)
            row.host = row.port = row.username = row.ssl_mode = row.password_encrypted = None
            return
        if declared.location == "url":
            self._apply_url(row, org_id, fields)
            return
        if fields.url is not None:
            raise ValidationError("`url` applies only to sqlalchemy connections", field="url")
        if not fields.host or not _HOST.match(fields.host):
            raise ValidationError("`host` must be a host name or IP address", field="host")
        self._check_host(fields.host)
        if not fields.database or "\x00" in fields.database:
            raise ValidationError("`database` (the database name) is required", field="database")
        if not fields.username or "\x00" in fields.username:
            raise ValidationError("`username` is required", field="username")
        if fields.ssl_mode is not None and fields.ssl_mode not in declared.ssl_modes:
            modes = ", ".join(declared.ssl_modes)
            raise ValidationError(
                f"`ssl_mode` for {kind} must be one of: {modes}", field="ssl_mode"
            )
        if fields.password is not None and "\x00" in fields.password:
            raise ValidationError("`password` may not contain NUL", field="password")
        row.host, row.port = fields.host, fields.port or declared.default_port
        row.database, row.username, row.ssl_mode = fields.database, fields.username, fields.ssl_mode
        row.password_encrypted = self._seal(fields.password)

    def _apply_url(self, row: Connection, org_id: str, fields: ConnectionFields) -> None:
        if not self._sqlalchemy_allowed(org_id):
            raise ValidationError(
                "This organization may not register `sqlalchemy` connections; the operator "
                "allows it with SQLGATE_SQLALCHEMY_ORGS",
                field="type",
            )
        for extra in ("host", "port", "username", "ssl_mode"):
            if getattr(fields, extra) is not None:
                raise ValidationError(
                    f"`{extra}` does not apply to sqlalchemy connections; put it in `url`",
                    field=extra,
                )
        if fields.database not in (None, row.database):
            raise ValidationError(
                "`database` does not apply to sqlalchemy connections; put it in `url`",
                field="database",
            )
        if fields.url is None:
            if row.database is None:
                raise ValidationError("`url` (a SQLAlchemy URL) is required", field="url")
            row.password_encrypted = self._seal(fields.password)
            return
        try:
            safe_url, url_password, url_host = split_url(fields.url)
        except ValueError as exc:
            raise ValidationError(str(exc), field="url") from None
        if url_host:
            self._check_host(url_host, field="url")
        row.database = safe_url
        row.password_encrypted = self._seal(url_password or fields.password)

    def _check_host(self, host: str, *, field: str = "host") -> None:
        patterns = self._settings.connection_hosts
        if not any(fnmatch.fnmatchcase(host.lower(), p.lower()) for p in patterns):
            raise ValidationError(
                f"Connections to {host!r} are not allowed here (SQLGATE_CONNECTION_HOSTS)",
                field=field,
            )

    def _sqlalchemy_allowed(self, org_id: str) -> bool:
        allowed = set(self._settings.sqlalchemy_orgs)
        if "*" in allowed or org_id in allowed or org_id == PLATFORM_ORG_ID:
            return True
        with self._store.session() as session:
            slug = session.scalar(select(Organization.slug).where(Organization.id == org_id))
        return slug in allowed

    def _seal(self, password: str | None) -> str | None:
        return self._box.encrypt(password) if password else None

    def _spec(self, info: ConnectionInfo | Connection) -> ConnectionSpec:
        token = info.password_encrypted
        return ConnectionSpec(
            id=info.id,
            type=info.type,
            database=info.database,
            updated_at=info.updated_at or datetime.min,
            host=info.host,
            port=info.port,
            username=info.username,
            password=self._box.decrypt(token) if token else None,
            ssl_mode=info.ssl_mode,
        )

    def _probe(self, row: Connection) -> None:
        """Open the connection once: a file that is not a database is a 422 (bad input), a
        server that cannot be reached or refuses the login is a 502 naming the problem."""
        spec = self._spec(row)
        probe = EngineRegistry(self._settings)
        try:
            probe.get(spec.id, datetime.min, lambda: spec)
        except ConnectionFailed as exc:
            if engine_class(row.type).location == "file":
                message = _wrong_file_type(row.type, row.database) or exc.message
                raise ValidationError(message, field="database") from None
            raise
        finally:
            probe.close()

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
                allowed = ", ".join(str(root) for root in roots)
                raise ValidationError(
                    f"`database` must be a file under a data root ({allowed}). Copy the file "
                    "under one of them and register that path (a relative path is read from "
                    f"{roots[0]}), or add its directory to SQLGATE_DATA_ROOTS and restart",
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
