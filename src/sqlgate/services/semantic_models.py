"""Deployed semantic models: one versioned model per connection, and the embedded engine over it.

A deploy validates the document (:func:`sqlgate.nl.semantic.parse_semantic_model`, in the
connection's dialect) *and* checks that every table and column it names exists in the
connection's introspected schema; only then is a new version (1, 2, ...) written, in one
transaction. With nothing deployed, the connection's model is the draft derived from its schema
(:func:`sqlgate.nl.draft.draft_from_schema`).

:meth:`SemanticModels.embedded_for` hands out a ready :class:`~sqlgate.nl.rules.RuleTranslator`
per (connection, connection settings, model version, schema read), from a small LRU. Sampling the
values of text columns costs one query per column, so the sample of a deployed version is stored
in its row the first time and reused by every later process; the draft's sample lives in memory.
The engine's modules are imported by the first question, not when the server starts.
"""

from __future__ import annotations

import difflib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from sqlgate.auth.principal import Principal
from sqlgate.errors import AuthorizationError, Conflict, NotFound, SqlgateError, ValidationError
from sqlgate.nl.draft import draft_from_schema, with_schema_types
from sqlgate.nl.draft_notes import draft_document
from sqlgate.nl.expand import expand_semantic_sql
from sqlgate.nl.semantic import SemanticModel, parse_semantic_model
from sqlgate.nl.values import ValueIndex, sample_values
from sqlgate.services.audit import AuditLog, audited
from sqlgate.services.connections import ConnectionInfo, ConnectionService
from sqlgate.services.documents import (
    Format,
    decode_document,
    invalid_document,
    stored_format,
)
from sqlgate.store.db import Store
from sqlgate.store.models import (
    PLATFORM_ORG_ID,
    Connection,
    SemanticModelVersion,
    new_id,
    utcnow,
)
from sqlgate.vocabulary.schema import DatabaseSchema, SchemaTable

if TYPE_CHECKING:  # the rule engine is loaded by the first question (see _build)
    from sqlgate.nl.rules import RuleTranslator

FORMATS: tuple[Format, ...] = ("yaml", "json")
DEFAULT_CACHE_SIZE = 32
#: Concurrent deploys race for the next version number; each round has a winner.
_INSERT_ATTEMPTS = 10


def _owner(org_id: str, conn: ConnectionInfo) -> str:
    """Whose models describe ``conn``: a shared connection's are the operator's, the same in
    every organization it is granted to."""
    return PLATFORM_ORG_ID if conn.shared else org_id


#: How long a process reuses its answer to "which model is deployed" before asking again.
_LATEST_TTL = 1.0


@dataclass(frozen=True)
class Deployed:
    """A connection's semantic model: a deployed version, or the draft (``version`` None)."""

    connection_id: str
    model: SemanticModel
    version: int | None
    deployed_at: datetime | None
    source: str | None = None  # exactly the deployed text; None for the draft
    format: Format | None = None  # how it was deployed
    member_id: str | None = None  # who deployed it (None: the CLI, or the draft)

    @property
    def deployed(self) -> bool:
        return self.version is not None

    def text(self, format: Format) -> str:
        """The model as a document: the deployed text itself when it was deployed in
        ``format`` (comments kept), else the normalized model written in ``format``."""
        if self.source is not None and self.format == format:
            return self.source
        return self.model.to_yaml() if format == "yaml" else self.model.to_json()


@dataclass(frozen=True)
class VersionInfo:
    version: int
    deployed_at: datetime
    format: Format
    member_id: str | None


_CacheKey = tuple[str, datetime, int | None, datetime]


class SemanticModels:
    def __init__(
        self,
        store: Store,
        connections: ConnectionService,
        audit: AuditLog | None = None,
        *,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self._store = store
        self._connections = connections
        self._audit = audit
        self._cache_size = max(1, cache_size)
        self._cache: OrderedDict[_CacheKey, RuleTranslator] = OrderedDict()
        self._building: dict[_CacheKey, threading.Lock] = {}
        self._lock = threading.Lock()
        self._latest_models: dict[str, tuple[float, SemanticModel | None]] = {}

    # --- reading ------------------------------------------------------------------------------

    def current(self, org_id: str, conn: ConnectionInfo) -> Deployed:
        """The latest deployed version, or the draft derived from the connection's schema."""
        row = self._latest(org_id, conn)
        if row is None:
            return self.draft(org_id, conn)
        return _deployed(row)

    def native_sql(self, org_id: str, conn: ConnectionInfo, sql: str) -> str:
        """``sql`` with the deployed model's names, calculated fields and metrics expanded for
        the connection: every query surface takes semantic SQL. SQL that does not expand
        (native SQL the model does not describe, or SQL the guard refuses) passes unchanged,
        so the query path judges and audits it like any other."""
        model = self._deployed_model(org_id, conn)
        if model is None:  # the draft names tables and columns as they are
            return sql
        try:
            return expand_semantic_sql(sql, model, conn.dialect)
        except SqlgateError:
            return sql

    def _deployed_model(self, org_id: str, conn: ConnectionInfo) -> SemanticModel | None:
        """The latest deployed model, remembered for a second per connection (on the path of
        every query); a deploy in another process is seen within that second."""
        now = time.monotonic()
        with self._lock:
            hit = self._latest_models.get(conn.id)
        if hit is not None and hit[0] > now:
            return hit[1]
        row = self._latest(org_id, conn)
        model = _deployed(row).model if row is not None else None
        with self._lock:
            self._latest_models[conn.id] = (now + _LATEST_TTL, model)
        return model

    def _latest(self, org_id: str, conn: ConnectionInfo) -> SemanticModelVersion | None:
        with self._store.session() as session:
            return session.scalars(
                select(SemanticModelVersion)
                .where(
                    SemanticModelVersion.org_id == _owner(org_id, conn),
                    SemanticModelVersion.connection_id == conn.id,
                )
                .order_by(SemanticModelVersion.version.desc())
                .limit(1)
            ).first()

    def draft(self, org_id: str, conn: ConnectionInfo) -> Deployed:
        """The model derived from schema introspection (what a fresh connection answers with)."""
        schema = self._connections.schema(org_id, conn.id)
        return Deployed(conn.id, draft_from_schema(schema), None, None)

    @staticmethod
    def draft_of(conn: ConnectionInfo, schema: DatabaseSchema) -> Deployed:
        """The draft derived from ``schema`` (e.g. what an access policy shows a caller)."""
        return Deployed(conn.id, draft_from_schema(schema), None, None)

    def draft_document(self, org_id: str, conn: ConnectionInfo) -> str:
        """The draft as an editable YAML document, headed by what it guessed."""
        schema = self._connections.schema(org_id, conn.id)
        return draft_document(draft_from_schema(schema), schema, conn.name)

    def get(self, org_id: str, conn: ConnectionInfo, version: int) -> Deployed:
        with self._store.session() as session:
            row = session.scalars(
                select(SemanticModelVersion).where(
                    SemanticModelVersion.org_id == _owner(org_id, conn),
                    SemanticModelVersion.connection_id == conn.id,
                    SemanticModelVersion.version == version,
                )
            ).first()
        if row is None:
            raise NotFound(f"Connection {conn.name!r} has no semantic model version {version}")
        return _deployed(row)

    def versions(self, org_id: str, conn: ConnectionInfo) -> list[VersionInfo]:
        """Every deployed version, newest first."""
        t = SemanticModelVersion
        with self._store.session() as session:
            rows = session.execute(
                select(t.version, t.created_at, t.format, t.member_id)
                .where(t.org_id == _owner(org_id, conn), t.connection_id == conn.id)
                .order_by(t.version.desc())
            ).all()
        return [
            VersionInfo(r.version, r.created_at, stored_format(r.format), r.member_id) for r in rows
        ]

    # --- deploying ----------------------------------------------------------------------------

    def deploy(
        self,
        principal: Principal | None,
        conn: ConnectionInfo,
        text: str | bytes,
        format: Format | None = None,
        *,
        client: str | None = None,
    ) -> Deployed:
        """Validate ``text`` (YAML or JSON; ``None`` guesses: JSON when it starts with ``{``)
        against the model rules and the connection's schema, then store it as the next version.
        ``principal`` is None for the CLI. Nothing is written unless every check passes."""
        with self._store.session() as session:
            org_id = session.scalar(select(Connection.org_id).where(Connection.id == conn.id))
        if principal is not None and conn.shared and org_id == PLATFORM_ORG_ID:
            raise AuthorizationError(
                f"Connection {conn.name!r} is shared by the operator of this deployment, who "
                "deploys its semantic model; an organization cannot replace it"
            )
        if org_id is None or (principal is not None and principal.org_id != org_id):
            raise NotFound(f"Connection {conn.name!r} not found")
        with audited(
            self._audit,
            principal,
            org_id,
            "semantic_model.deploy",
            connection_id=conn.id,
            target_id=conn.id,
            client=client,
        ) as outcome:
            source = decode_document(text, "The semantic model")
            fmt = format or ("json" if source.lstrip().startswith("{") else "yaml")
            if fmt not in FORMATS:
                raise ValidationError(f"Unknown format {fmt!r}: yaml or json", field="format")
            model = parse_semantic_model(source, format=fmt, dialect=conn.dialect)
            self._check_schema(org_id, conn, model)
            deployed = self._insert(principal, org_id, conn, model, source, fmt)
            outcome["version"] = deployed.version
        self._evict(conn.id)
        return deployed

    def _check_schema(self, org_id: str, conn: ConnectionInfo, model: SemanticModel) -> None:
        """Every model's table and column exists in the connection (the cached schema first;
        on a miss, read again, so a table added since the last read is found)."""
        schema = self._connections.schema(org_id, conn.id)
        problems = schema_problems(model, schema, conn.name)
        if problems:
            schema = self._connections.schema(org_id, conn.id, refresh=True)
            problems = schema_problems(model, schema, conn.name)
        if problems:
            raise invalid_document("semantic model", problems)

    def _insert(
        self,
        principal: Principal | None,
        org_id: str,
        conn: ConnectionInfo,
        model: SemanticModel,
        source: str,
        fmt: Format,
    ) -> Deployed:
        t = SemanticModelVersion
        for _attempt in range(_INSERT_ATTEMPTS):
            try:
                with self._store.session() as session:
                    latest = session.scalar(
                        select(func.max(t.version)).where(t.connection_id == conn.id)
                    )
                    row = SemanticModelVersion(
                        id=new_id("sm"),
                        org_id=org_id,
                        connection_id=conn.id,
                        version=(latest or 0) + 1,
                        format=fmt,
                        source=source,
                        document=model.to_dict(),
                        sampled_values=None,
                        created_at=utcnow(),
                        member_id=principal.member_id if principal else None,
                    )
                    session.add(row)
                    session.flush()
            except IntegrityError:
                # Another deploy took this version number (or the connection was deleted).
                with self._store.session() as session:
                    if session.get(Connection, conn.id) is None:
                        raise NotFound(f"Connection {conn.name!r} not found") from None
                continue
            return Deployed(conn.id, model, row.version, row.created_at, source, fmt, row.member_id)
        raise Conflict("Other deploys to this connection happened at the same moment; try again")

    # --- the embedded engine ------------------------------------------------------------------

    def embedded_for(self, conn: ConnectionInfo) -> RuleTranslator:
        """The embedded engine over the connection's current model (deployed or draft).

        Built once per (connection, its settings, model version, schema read) and kept in a
        small LRU; concurrent first calls for the same key build it once."""
        t = SemanticModelVersion
        with self._store.session() as session:
            latest = session.execute(
                select(t.id, t.version)
                .where(t.connection_id == conn.id)
                .order_by(t.version.desc())
                .limit(1)
            ).first()
        engine = self._connections.engine(conn)
        schema = engine.schema()
        version = latest.version if latest else None
        key: _CacheKey = (conn.id, conn.updated_at, version, schema.read_at)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
            build_lock = self._building.setdefault(key, threading.Lock())
        with build_lock:
            with self._lock:
                hit = self._cache.get(key)
                if hit is not None:
                    self._cache.move_to_end(key)
                    return hit
            try:
                built = self._build(conn, schema, latest.id if latest else None)
            except BaseException:
                with self._lock:
                    self._building.pop(key, None)
                raise
            with self._lock:
                self._cache[key] = built
                self._building.pop(key, None)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return built

    def _build(
        self, conn: ConnectionInfo, schema: DatabaseSchema, row_id: str | None
    ) -> RuleTranslator:
        from sqlgate.nl.prepare import prepare_embedded

        engine = self._connections.engine(conn)
        stamp = conn.updated_at.isoformat()
        if row_id is None:
            return prepare_embedded(engine, conn.dialect, draft_from_schema(schema))
        with self._store.session() as session:
            row = session.get(SemanticModelVersion, row_id)
            if row is None:  # deleted with its connection meanwhile
                raise NotFound(f"Connection {conn.name!r} not found")
            document, cached = row.document, row.sampled_values
        model = SemanticModel.model_validate(document)
        values: ValueIndex | None = None
        if cached and cached.get("connection_updated_at") == stamp:
            values = ValueIndex.from_dict(cached.get("columns") or {})
        if values is None:
            values = sample_values(engine, with_schema_types(model, schema), conn.dialect)
            with self._store.session() as session:
                session.execute(
                    update(SemanticModelVersion)
                    .where(SemanticModelVersion.id == row_id)
                    .values(
                        sampled_values={
                            "connection_updated_at": stamp,
                            "sampled_at": utcnow().isoformat(),
                            "columns": values.to_dict(),
                        }
                    )
                )
        return prepare_embedded(engine, conn.dialect, model, values=values)

    def _evict(self, connection_id: str) -> None:
        with self._lock:
            self._latest_models.pop(connection_id, None)
            for key in [k for k in self._cache if k[0] == connection_id]:
                del self._cache[key]


# --- checks against the connection ------------------------------------------------------------


def schema_problems(
    model: SemanticModel, schema: DatabaseSchema, connection: str
) -> list[tuple[str, str]]:
    """``(path, message)`` for every model table and column the connection does not have."""
    problems: list[tuple[str, str]] = []
    if not model.models:
        problems.append(("models", "a semantic model needs at least one model"))
    default_schema = schema.tables[0].schema if schema.tables else None
    for i, m in enumerate(model.models):
        where = f"models[{i}]"
        table_path = f"{where}.table" if m.table else f"{where}.name"
        in_schema = m.table_schema or default_schema
        candidates = [
            t for t in schema.tables if (t.schema or "").lower() == (in_schema or "").lower()
        ]
        table = _find_table(candidates, m.physical)
        if table is None:
            elsewhere = _find_table(list(schema.tables), m.physical)
            if m.table_schema and not any(
                (t.schema or "").lower() == m.table_schema.lower() for t in schema.tables
            ):
                problems.append(
                    (f"{where}.table_schema",
                     f"unknown schema {m.table_schema!r} in connection {connection!r}")
                )  # fmt: skip
            elif elsewhere is not None:
                problems.append(
                    (table_path,
                     f"table {m.physical!r} is not in schema {in_schema!r} but in "
                     f"{elsewhere.schema!r}: set `table_schema: {elsewhere.schema}`")
                )  # fmt: skip
            else:
                names = [t.name for t in candidates]
                problems.append(
                    (table_path,
                     f"unknown table {m.physical!r} in connection {connection!r}"
                     + _suggest(m.physical, names))
                )  # fmt: skip
            continue
        physical = {c.name.lower() for c in table.columns}
        for j, column in enumerate(m.columns):
            if column.physical.lower() in physical:
                continue
            path = f"{where}.columns[{j}].column" if column.column else f"{where}.columns[{j}].name"
            problems.append(
                (path,
                 f"unknown column {column.physical!r} in table {table.name!r}"
                 + _suggest(column.physical, [c.name for c in table.columns]))
            )  # fmt: skip
    return problems


def _find_table(tables: list[SchemaTable], name: str) -> SchemaTable | None:
    for table in tables:
        if table.name == name:
            return table
    lowered = name.lower()
    for table in tables:
        if table.name.lower() == lowered:
            return table
    return None


def _suggest(name: str, choices: list[str]) -> str:
    by_lower = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""


# --- rows -------------------------------------------------------------------------------------


def _deployed(row: SemanticModelVersion) -> Deployed:
    return Deployed(
        connection_id=row.connection_id,
        model=SemanticModel.model_validate(row.document),
        version=row.version,
        deployed_at=row.created_at,
        source=row.source,
        format=stored_format(row.format),
        member_id=row.member_id,
    )
