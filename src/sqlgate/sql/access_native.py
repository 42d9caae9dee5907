"""A second layer on PostgreSQL: the policy's row rules as native row-level security.

With ``native_rls: true`` in the operator's document (PostgreSQL connections only),
:func:`postgres_rls` writes the DDL that installs the row rules as PostgreSQL policies, for the
operator to run as the tables' owner, and every query of the connection runs with the caller's
attributes as transaction-local settings (:func:`settings_for`, sent as ``SET LOCAL`` by the
engine), which those policies read with ``current_setting``. The layer holds without sqlgate's
guard and rewrite, provided the login is neither the tables' owner, a superuser nor
``BYPASSRLS`` (``FORCE ROW LEVEL SECURITY`` binds owners too) and may not call ``set_config``
(the DDL revokes it from ``PUBLIC``; the engine sets the values with ``SET LOCAL``, which a
query cannot run: every query is wrapped in ``COPY (...) TO STDOUT``).

What it covers: row rules (``tenant``, ``rows`` with ``using``; permissive and restrictive,
per role), and tables the policy does not list (no rows, under ``default: deny``). Not covered
natively: hidden and masked columns (sqlgate's rewrite only; grant column privileges for a
second layer) and ``exists`` rules (refused with ``native_rls``). A missing attribute is an
empty setting, read as NULL: no rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlglot import exp

from sqlgate.sql.access_document import ATTRIBUTE_SCOPES, SOURCE_ALIAS, AccessDocument, RowPolicy
from sqlgate.sql.access_names import TableKey
from sqlgate.vocabulary.schema import DatabaseSchema, SchemaTable

_PREFIX = "sqlgate"
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ)


def setting_name(scope: str, name: str) -> str:
    return f"{_PREFIX}.{scope}_{name}".lower()


def attributes_used(document: AccessDocument) -> set[tuple[str, str]]:
    """(scope, name) of every attribute the document's row rules read, and the role."""
    used = {("member", "role")}
    for table in document.tables.values():
        for row in table.rows:
            for column in row.condition.find_all(exp.Column):
                if column.table in ATTRIBUTE_SCOPES:
                    used.add((column.table, column.name))
    return used


def settings_for(document: AccessDocument, attribute: Any) -> dict[str, str]:
    """The ``SET LOCAL`` values for one caller: ``attribute(scope, name)`` gives each value;
    missing ones (None, or a list/object) are sent empty, which the policies read as NULL."""
    out: dict[str, str] = {}
    for scope, name in sorted(attributes_used(document)):
        value = attribute(scope, name)
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int | float | str):
            text = str(value)
        else:
            text = ""
        out[setting_name(scope, name)] = text
    return out


def postgres_rls(document: AccessDocument, schema: DatabaseSchema) -> list[str]:
    """The DDL that installs ``document``'s row rules as PostgreSQL policies (idempotent)."""
    statements = [
        "REVOKE EXECUTE ON FUNCTION pg_catalog.set_config(text, text, boolean) FROM PUBLIC",
    ]
    for table in schema.tables:
        key = TableKey(table.schema, table.name)
        policy = document.tables.get(key)
        if policy is None and document.default_allow:
            continue
        name = _table_name(table)
        statements += [
            f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY",
        ]
        rows = policy.rows if policy is not None else ()
        names = [f"sqlgate_{row.name}" for row in rows]
        if policy is not None and not policy.has_permissive:
            names.append("sqlgate_all")
        for policy_name in names:
            statements.append(f'DROP POLICY IF EXISTS "{policy_name}" ON {name}')
        for row in rows:
            statements.append(_create_policy(name, row, table))
        if policy is not None and not policy.has_permissive:
            statements.append(
                f'CREATE POLICY "sqlgate_all" ON {name} AS PERMISSIVE FOR SELECT USING (true)'
            )
    return statements


def _table_name(table: SchemaTable) -> str:
    parts = [table.schema, table.name] if table.schema else [table.name]
    return ".".join(exp.to_identifier(p, quoted=True).sql(dialect="postgres") for p in parts)


def _create_policy(name: str, row: RowPolicy, table: SchemaTable) -> str:
    condition = _native(row.condition, table)
    if row.roles is not None:
        role = _setting("member", "role", "TEXT")
        allowed = exp.In(this=role, expressions=[exp.Literal.string(r) for r in sorted(row.roles)])
        if row.restrictive:  # binds only the listed roles
            condition = exp.or_(exp.Not(this=exp.paren(allowed)), exp.paren(condition))
        else:
            condition = exp.and_(allowed, exp.paren(condition))
    kind = "RESTRICTIVE" if row.restrictive else "PERMISSIVE"
    using = condition.sql(dialect="postgres")
    return f'CREATE POLICY "sqlgate_{row.name}" ON {name} AS {kind} FOR SELECT USING ({using})'


def _native(condition: exp.Expr, table: SchemaTable) -> exp.Expr:
    """The condition for a PostgreSQL policy: the table's columns unqualified, attributes read
    from the settings, cast to the type of the column they are compared with."""
    types: Mapping[str, str] = {c.name: c.type for c in table.columns}
    copy = condition.copy()
    for column in list(copy.find_all(exp.Column)):
        if column.table == SOURCE_ALIAS:
            column.set("table", None)
            continue
        if column.table not in ATTRIBUTE_SCOPES:
            continue
        type_name = "TEXT"
        parent = column.parent
        if isinstance(parent, _COMPARISONS):
            other = parent.expression if parent.this is column else parent.this
            if isinstance(other, exp.Column) and other.name in types:
                type_name = types[other.name] or "TEXT"
        column.replace(_setting(column.table, column.name, type_name))
    return copy


def _setting(scope: str, name: str, type_name: str) -> exp.Expr:
    read = exp.func("current_setting", exp.Literal.string(setting_name(scope, name)), exp.true())
    value = exp.func("NULLIF", read, exp.Literal.string(""))
    return exp.Cast(this=value, to=exp.DataType.build(type_name, dialect="postgres"))
