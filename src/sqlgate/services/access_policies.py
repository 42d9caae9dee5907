"""Access policies as a use case: deploy versions, and bind the current one to each caller.

A connection's policy has layers (docs/access-policies.md): the *operator* layer, which binds
every organization reading the connection (deployed with ``sqlgate policy deploy`` or, on a
connection an organization owns, by its administrators), and, per organization, restrictive
additions its administrators deploy for their own members (only where the operator's layer is
not theirs to change). Each deploy is checked against the connection's schema in its dialect
(:mod:`sqlgate.sql.access_document`) and stored as the next version of its layer; nothing is
written unless every check passes.

On every query, :meth:`AccessPolicies.effective` takes the latest version of each layer (one
indexed query, remembered for ``cache_seconds`` as connection lookups are: a deploy through this
process applies to the next query at once, one from another process within that time),
compiles each version once per schema read, and binds it to the caller's role and attributes
(:mod:`sqlgate.sql.access_bind`), remembered per (versions, schema read, caller). With nothing
deployed it returns None and the query path behaves as it always has.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import yaml
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError

from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Role
from sqlgate.errors import AuthorizationError, Conflict, NotFound, SqlNotAllowed, ValidationError
from sqlgate.services import orgs
from sqlgate.services.audit import AuditLog, audited
from sqlgate.services.connections import ConnectionInfo, ConnectionService
from sqlgate.services.documents import (
    Format,
    decode_document,
    invalid_document,
    stored_format,
)
from sqlgate.services.remembered import Remembered
from sqlgate.sql.access_bind import EffectivePolicy, PolicyContext, bind
from sqlgate.sql.access_document import (
    AccessDocument,
    DocumentSpec,
    compile_document,
    spec_from_mapping,
)
from sqlgate.sql.access_native import postgres_rls
from sqlgate.sql.access_restrict import addition_problems
from sqlgate.store.db import Store
from sqlgate.store.models import (
    AccessPolicyVersion,
    Connection,
    Member,
    Organization,
    new_id,
    utcnow,
)
from sqlgate.vocabulary.schema import DatabaseSchema

OPERATOR = "operator"
_INSERT_ATTEMPTS = 10
_BOUND_CACHE = 1024
_ADMINS = frozenset({Role.OWNER, Role.ADMIN})

#: (org id, member id) -> (organization attributes, member attributes).
Attributes = Callable[[str, str | None], tuple[Mapping[str, Any], Mapping[str, Any]]]

_LATEST = (
    select(AccessPolicyVersion.layer, func.max(AccessPolicyVersion.version).label("version"))
    .where(
        AccessPolicyVersion.connection_id == bindparam("connection_id"),
        AccessPolicyVersion.layer.in_([OPERATOR, bindparam("org_id")]),
    )
    .group_by(AccessPolicyVersion.layer)
)


#: The caller's organization's attributes and their own (none once they left it).
_ATTRIBUTES = (
    select(Organization.attributes, Member.attributes)
    .select_from(Organization)
    .outerjoin(Member, (Member.id == bindparam("member_id")) & (Member.org_id == Organization.id))
    .where(Organization.id == bindparam("org_id"))
)


@dataclass(frozen=True)
class PolicyVersion:
    connection_id: str
    layer: str
    version: int
    format: Format
    source: str
    deployed_at: datetime
    member_id: str | None


class AccessPolicies:
    def __init__(
        self,
        store: Store,
        connections: ConnectionService,
        audit: AuditLog | None = None,
        attributes: Attributes | None = None,
        cache_seconds: float = 0.0,
    ) -> None:
        self._store = store
        self._connections = connections
        self._audit = audit
        #: Where callers' attributes come from: None reads them from the metadata store (the
        #: organization's and the member's, in the same round trip as the policy versions).
        self.attributes = attributes
        self._compiled: dict[tuple[str, str, int, int], AccessDocument] = {}
        self._bound: OrderedDict[tuple[Any, ...], EffectivePolicy] = OrderedDict()
        self._lock = threading.Lock()
        #: (connection id, org id) -> the latest version of each layer: see _versions.
        self._latest: Remembered[tuple[str, str], dict[str, int]] = Remembered(cache_seconds)

    # --- the query path -----------------------------------------------------------------------

    def effective(self, principal: Principal, conn: ConnectionInfo) -> EffectivePolicy | None:
        """The policy as ``principal`` sees ``conn``; None when none is deployed. Read on every
        query (one connection to the metadata store: the versions, then the attributes), so a
        deploy or an attribute change from any process applies to the next query."""
        org_id, member_id = principal.org_id, principal.member_id
        versions = self._versions(conn, org_id)
        if not versions:
            return None
        with self._store.engine.connect() as db:
            if self.attributes is None:
                found = db.execute(_ATTRIBUTES, {"org_id": org_id, "member_id": member_id})
                row = found.one_or_none()
                if row is None:
                    raise NotFound(f"Organization {org_id!r} not found")
                attributes: tuple[Mapping[str, Any], Mapping[str, Any]] = (
                    dict(row[0] or {}),
                    dict(row[1] or {}),
                )
            else:
                attributes = self.attributes(org_id, member_id)
        context = PolicyContext(org_id, member_id, str(principal.role), *attributes)
        return self.effective_for(context, conn, versions)

    def _versions(self, conn: ConnectionInfo, org_id: str) -> dict[str, int]:
        """The latest version of each layer binding ``org_id`` (not to be changed by callers).

        One indexed query (run without Core's execution machinery, see ``Store.rows``), on
        every query's path: remembered for ``cache_seconds``, as connection lookups are. A
        deploy through this object forgets them all at once; one from another process (the
        CLI, another worker) is seen within that time. A look-up that raced a deploy is not
        stored. (Under load the store's other writers, the audit log's above all, leave the
        query's pages to be read again each time: it cost a third of a ``SELECT 1``.)"""
        return self._latest.get((conn.id, org_id), lambda: self._read_versions(conn, org_id))

    def _read_versions(self, conn: ConnectionInfo, org_id: str) -> dict[str, int]:
        rows = self._store.rows(_LATEST, {"connection_id": conn.id, "org_id": org_id})
        return {layer: int(version) for layer, version in rows}

    def effective_for(
        self,
        context: PolicyContext,
        conn: ConnectionInfo,
        versions: Mapping[str, int] | None = None,
    ) -> EffectivePolicy | None:
        if versions is None:
            versions = self._versions(conn, context.org_id)
        if not versions:
            return None
        schema = self._connections.engine(conn).schema()
        key = (
            conn.id,
            tuple(sorted(versions.items())),
            id(schema),
            context.role,
            context.org_id,
            context.member_id,
            _canonical(context.org_attributes),
            _canonical(context.member_attributes),
        )
        with self._lock:
            hit = self._bound.get(key)
            if hit is not None:
                self._bound.move_to_end(key)
                return hit
        base = self._document(conn, OPERATOR, versions.get(OPERATOR), schema)
        additions = [
            self._document(conn, layer, version, schema)
            for layer, version in versions.items()
            if layer != OPERATOR
        ]
        if base is None:  # only an organization's additions: everything else as before
            base = AccessDocument(conn.dialect, True, {})
        bound = bind(base, [a for a in additions if a], schema, context, dict(versions))
        with self._lock:
            self._bound[key] = bound
            while len(self._bound) > _BOUND_CACHE:
                self._bound.popitem(last=False)
        return bound

    def _document(
        self, conn: ConnectionInfo, layer: str, version: int | None, schema: DatabaseSchema
    ) -> AccessDocument | None:
        if version is None:
            return None
        key = (conn.id, layer, version, id(schema))
        compiled = self._compiled.get(key)
        if compiled is not None:
            return compiled
        row = self._row(conn.id, layer, version)
        spec = _spec(row.source, stored_format(row.format))
        compiled, problems = compile_document(spec, schema, conn.dialect)
        if compiled is None:
            # The connection changed under the policy: refuse every query until redeployed.
            raise SqlNotAllowed(
                f"The access policy of connection {conn.name!r} no longer matches its schema "
                f"({problems[0][0]}: {problems[0][1]}); the operator must deploy it again",
                reason="access_policy",
            )
        if len(self._compiled) > _BOUND_CACHE:
            self._compiled.clear()
        self._compiled[key] = compiled
        return compiled

    def _row(self, connection_id: str, layer: str, version: int) -> AccessPolicyVersion:
        t = AccessPolicyVersion
        with self._store.session() as session:
            row = session.scalar(
                select(t).where(
                    t.connection_id == connection_id, t.layer == layer, t.version == version
                )
            )
            if row is None:
                raise NotFound(f"Access policy version {version} not found")
            session.expunge(row)
        return row

    def as_member(self, admin: Principal, member_id: str) -> Principal:
        """For an administrator's preview: ``admin`` acting as ``member_id`` of the same
        organization (their role today; the admin's key, so the audit row says who asked)."""
        if admin.role not in _ADMINS:
            raise AuthorizationError("Only administrators may preview as another member")
        member = orgs.active_member(self._store, admin.org_id, member_id)
        if member is None:
            raise NotFound(f"Member {member_id!r} not found")
        return replace(admin, member_id=member_id, role=Role(member.role))

    def native_rls(self, conn: ConnectionInfo) -> tuple[list[str], list[str]]:
        """The DDL installing the operator's row rules as PostgreSQL row-level security, and
        what is wrong with the connection's login for that layer to hold (empty: nothing)."""
        versions = self._versions(conn, OPERATOR)
        schema = self._connections.engine(conn).schema(refresh=True)
        base = self._document(conn, OPERATOR, versions.get(OPERATOR), schema)
        if base is None or not base.native_rls:
            raise ValidationError(
                f"The access policy of {conn.name!r} does not ask for native row-level "
                "security (`native_rls: true`)"
            )
        return postgres_rls(base, schema), self._login_problems(conn)

    def _login_problems(self, conn: ConnectionInfo) -> list[str]:
        sql = (
            "SELECT r.rolsuper, r.rolbypassrls, "
            "has_function_privilege('pg_catalog.set_config(text, text, boolean)', 'EXECUTE'), "
            "(SELECT count(*) FROM pg_catalog.pg_tables t WHERE t.tableowner = current_user) "
            "FROM pg_catalog.pg_roles r WHERE r.rolname = current_user"
        )
        row = self._connections.engine(conn).execute(sql, None, timeout=10, row_limit=1)
        superuser, bypass, set_config, owned = row.table.to_pylist()[0].values()
        problems = []
        if superuser:
            problems.append("the login is a superuser, which row-level security never binds")
        if bypass:
            problems.append("the login has BYPASSRLS")
        if set_config:
            problems.append("the login may call set_config (run the REVOKE below as a superuser)")
        if owned:
            problems.append(f"the login owns {owned} table(s): use a login that owns none")
        return problems

    def engine_schema(self, conn: ConnectionInfo) -> DatabaseSchema:
        return self._connections.engine(conn).schema()

    def visible_schema(self, principal: Principal, conn: ConnectionInfo) -> DatabaseSchema:
        """The connection's schema as ``principal`` may see it: visible tables and columns."""
        schema = self._connections.engine(conn).schema()
        policy = self.effective(principal, conn)
        return schema if policy is None else visible(schema, policy)

    # --- deploying and reading ----------------------------------------------------------------

    def layer_for(self, principal: Principal | None, conn: ConnectionInfo) -> str:
        """Which layer ``principal`` deploys to: the operator's (the CLI, or an administrator
        of the organization that owns the connection) or the organization's own."""
        if principal is None:
            return OPERATOR
        if principal.role not in _ADMINS:
            raise AuthorizationError("Only administrators may deploy access policies")
        with self._store.session() as session:
            owner = session.scalar(select(Connection.org_id).where(Connection.id == conn.id))
        return OPERATOR if owner == principal.org_id else principal.org_id

    def current(self, principal: Principal | None, conn: ConnectionInfo) -> list[PolicyVersion]:
        """The latest version of each layer ``principal`` may read (operator first)."""
        layers = [OPERATOR] if principal is None else [OPERATOR, principal.org_id]
        t = AccessPolicyVersion
        found: list[PolicyVersion] = []
        with self._store.session() as session:
            for layer in dict.fromkeys(layers):
                row = session.scalar(
                    select(t)
                    .where(t.connection_id == conn.id, t.layer == layer)
                    .order_by(t.version.desc())
                    .limit(1)
                )
                if row is not None:
                    found.append(_version(row))
        return found

    def deploy(
        self,
        principal: Principal | None,
        conn: ConnectionInfo,
        text: str | bytes,
        format: Format | None = None,
        *,
        client: str | None = None,
    ) -> PolicyVersion:
        """Check ``text`` (YAML or JSON) and store it as the next version of the caller's layer;
        ``principal`` None is the operator (the CLI)."""
        layer = self.layer_for(principal, conn)
        org_id = principal.org_id if principal else None
        with audited(
            self._audit,
            principal,
            org_id or _owner(self._store, conn.id),
            "access_policy.deploy",
            connection_id=conn.id,
            target_id=conn.id,
            client=client,
        ) as outcome:
            source = decode_document(text, "The access policy")
            fmt: Format = format or ("json" if source.lstrip().startswith("{") else "yaml")
            spec = _spec(source, fmt)
            self._check(conn, layer, spec)
            deployed = self._insert(principal, conn, layer, source, fmt)
            outcome["version"] = deployed.version
            outcome["layer"] = "operator" if layer == OPERATOR else "organization"
        return deployed

    def _check(self, conn: ConnectionInfo, layer: str, spec: DocumentSpec) -> None:
        schema = self._connections.engine(conn).schema(refresh=True)
        compiled, problems = compile_document(spec, schema, conn.dialect)
        if compiled is not None and layer != OPERATOR:
            versions = {v.layer: v.version for v in self._latest_operator(conn)}
            base = self._document(conn, OPERATOR, versions.get(OPERATOR), schema)
            problems = addition_problems(spec, compiled, base)
        if problems:
            raise invalid_document("access policy", problems)

    def _latest_operator(self, conn: ConnectionInfo) -> list[PolicyVersion]:
        return [v for v in self.current(None, conn) if v.layer == OPERATOR]

    def _insert(
        self,
        principal: Principal | None,
        conn: ConnectionInfo,
        layer: str,
        source: str,
        fmt: Format,
    ) -> PolicyVersion:
        t = AccessPolicyVersion
        for _attempt in range(_INSERT_ATTEMPTS):
            try:
                with self._store.session() as session:
                    latest = session.scalar(
                        select(func.max(t.version)).where(
                            t.connection_id == conn.id, t.layer == layer
                        )
                    )
                    row = AccessPolicyVersion(
                        id=new_id("ap"),
                        connection_id=conn.id,
                        layer=layer,
                        version=(latest or 0) + 1,
                        format=fmt,
                        source=source,
                        created_at=utcnow(),
                        org_id=principal.org_id if principal else None,
                        member_id=principal.member_id if principal else None,
                    )
                    session.add(row)
                    session.flush()
                    deployed = _version(row)
                self._latest.forget()  # a version was stored
            except IntegrityError:
                with self._store.session() as session:
                    if session.get(Connection, conn.id) is None:
                        raise NotFound(f"Connection {conn.name!r} not found") from None
                continue
            return deployed
        raise Conflict("Other deploys to this connection happened at the same moment; try again")


def visible(schema: DatabaseSchema, policy: EffectivePolicy) -> DatabaseSchema:
    """``schema`` cut down to what ``policy`` shows: its tables, their visible columns, and the
    foreign keys between visible columns."""
    from sqlgate.sql.access_names import TableKey

    tables = []
    for table in schema.tables:
        wrapper = policy.wrappers.get(TableKey(table.schema, table.name))
        if wrapper is None:
            continue
        hidden = set(wrapper.hidden)
        columns = tuple(c for c in table.columns if c.name not in hidden)
        keys = tuple(
            fk
            for fk in table.foreign_keys
            if not hidden.intersection(fk.columns)
            and TableKey(fk.references_schema or table.schema, fk.references_table)
            in policy.wrappers
        )
        primary = tuple(c for c in table.primary_key if c not in hidden)
        tables.append(
            type(table)(
                schema=table.schema,
                name=table.name,
                kind=table.kind,
                columns=columns,
                primary_key=primary,
                foreign_keys=keys,
                comment=table.comment,
            )
        )
    return DatabaseSchema(tuple(tables), read_at=schema.read_at)


def _canonical(values: Mapping[str, Any]) -> str:
    return json.dumps(values, sort_keys=True, default=repr) if values else ""


def _owner(store: Store, connection_id: str) -> str:
    with store.session() as session:
        owner = session.scalar(select(Connection.org_id).where(Connection.id == connection_id))
    if owner is None:
        raise NotFound("Connection not found")
    return owner


def _spec(source: str, fmt: Format) -> DocumentSpec:
    try:
        data = json.loads(source) if fmt == "json" else yaml.safe_load(source)
    except (ValueError, yaml.YAMLError) as exc:
        raise ValidationError(f"The access policy is not valid {fmt.upper()}: {exc}") from None
    spec, problems = spec_from_mapping(data)
    if spec is None:
        raise invalid_document("access policy", problems)
    return spec


def _version(row: AccessPolicyVersion) -> PolicyVersion:
    return PolicyVersion(
        connection_id=row.connection_id,
        layer=row.layer,
        version=row.version,
        format=stored_format(row.format),
        source=row.source,
        deployed_at=row.created_at,
        member_id=row.member_id,
    )
