"""An access policy bound to one caller: per visible table, the subquery that replaces it.

:func:`bind` takes the operator's document, the organization's restrictive additions and the
caller's :class:`PolicyContext` (organization, member, role, attributes) and builds, for every
table the caller may read, a *wrapper*::

    SELECT "id", "customer", CAST('***' AS TEXT) AS "email"
    FROM "main"."orders" AS "__sg_src"
    WHERE "__sg_src"."org_id" = 42
    OFFSET 0

Only visible columns, masked ones masked, rows filtered by the bound row policies. Attribute
values become literals built by sqlglot (quoted and escaped by the dialect's generator, never by
string formatting). An attribute the caller lacks makes its policy ``FALSE``. The ``OFFSET 0``
(``LIMIT -1 OFFSET 0`` in SQLite) keeps the engine from moving the query's own predicates below
the policy's filter, where an erroring expression could probe rows the policy hides.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlglot import exp, parse_one

from sqlgate.sql.access_document import (
    ATTRIBUTE_SCOPES,
    SOURCE_ALIAS,
    AccessDocument,
    RowPolicy,
    TablePolicy,
)
from sqlgate.sql.access_names import SchemaIndex, TableKey
from sqlgate.sql.access_native import settings_for
from sqlgate.vocabulary.schema import DatabaseSchema, SchemaTable


@dataclass(frozen=True)
class PolicyContext:
    """Who runs the query, as policies see it. Attributes are typed JSON values set by the
    operator (organization) and administrators (members), never taken from a request."""

    org_id: str
    member_id: str | None
    role: str
    org_attributes: Mapping[str, Any] = field(default_factory=dict)
    member_attributes: Mapping[str, Any] = field(default_factory=dict)

    def attribute(self, scope: str, name: str) -> Any:
        if scope == "org":
            return self.org_id if name == "id" else self.org_attributes.get(name)
        if name == "id":
            return self.member_id
        if name == "role":
            return self.role
        return self.member_attributes.get(name)


@dataclass(frozen=True)
class Wrapper:
    key: TableKey
    select: exp.Select
    text: str  # select.sql(dialect): what the verifier compares against
    hidden: tuple[str, ...]
    masked: tuple[str, ...]
    policies: tuple[str, ...]  # row policies that applied to the caller
    filter_only: frozenset[str] = frozenset()  # visible to predicates, never to results


@dataclass(frozen=True, eq=False)
class EffectivePolicy:
    """The policy as one caller sees one connection (see the module docstring)."""

    dialect: str
    index: SchemaIndex
    wrappers: Mapping[TableKey, Wrapper]
    versions: Mapping[str, int]  # layer ("operator" or the org id) -> version
    canonical: frozenset[str] = frozenset()
    fingerprint: str = ""
    #: PostgreSQL ``SET LOCAL`` values for native row-level security (empty without it).
    settings: Mapping[str, str] = field(default_factory=dict)

    def wrapper(self, table: exp.Table) -> Wrapper | None:
        found = self.index.lookup(table)
        return self.wrappers.get(found[0]) if found else None

    def canonical_tree(self, key: TableKey) -> exp.Expr | None:
        """The parse of the text of ``key``'s wrapper (None: no wrapper): what the verifier
        compares the subqueries of a rewritten query against. Read-only."""
        wrapper = self.wrappers.get(key)
        return None if wrapper is None else _parsed_wrapper(wrapper.text, self.dialect)


#: Parsed wrapper texts kept. Callers with the same attributes share texts (and trees).
_PARSED_WRAPPERS = 512


@lru_cache(maxsize=_PARSED_WRAPPERS)
def _parsed_wrapper(text: str, dialect: str) -> exp.Expr:
    # Shared between callers and threads: never changed after parsing.
    return parse_one(text, read=dialect)


def bind(
    base: AccessDocument,
    additions: Sequence[AccessDocument],
    schema: DatabaseSchema,
    context: PolicyContext,
    versions: Mapping[str, int],
) -> EffectivePolicy:
    """The wrappers for ``context`` (see the module docstring)."""
    dialect = base.dialect
    index = SchemaIndex(schema, dialect)
    wrappers: dict[TableKey, Wrapper] = {}
    for table in schema.tables:
        key = TableKey(table.schema, table.name)
        if key not in base.tables and not base.default_allow:
            continue
        added = [doc.tables[key] for doc in additions if key in doc.tables]
        wrapper = _wrapper(key, table, base.tables.get(key), added, context, dialect)
        if wrapper is not None:
            wrappers[key] = wrapper
    canonical = frozenset(w.text for w in wrappers.values())
    settings = settings_for(base, context.attribute) if base.native_rls else {}
    digest = hashlib.sha256(dialect.encode())
    for text in sorted(canonical):
        digest.update(b"\0" + text.encode())
    for name, value in sorted(settings.items()):
        digest.update(b"\1" + name.encode() + b"=" + value.encode())
    return EffectivePolicy(
        dialect, index, wrappers, dict(versions), canonical, digest.hexdigest(), settings
    )


def _wrapper(
    key: TableKey,
    table: SchemaTable,
    base: TablePolicy | None,
    added: Sequence[TablePolicy],
    context: PolicyContext,
    dialect: str,
) -> Wrapper | None:
    """The subquery that replaces ``table``. An organization's additions filter in a fenced
    layer of their own, above the operator's filter, so their conditions never see a row the
    operator's policy hides (an erroring condition cannot probe other tenants' rows)."""
    policies = [p for p in (base, *added) if p is not None]
    hidden = {name for p in policies for name in p.hidden}
    masks = dict(base.masks) if base is not None else {}
    columns: list[exp.Expr] = []
    for column in table.columns:
        if column.name in hidden:
            continue
        name = exp.to_identifier(column.name, quoted=True)
        mask = masks.get(column.name)
        if mask is not None:
            bound = _bound(mask, context, dialect) or exp.null()
            columns.append(exp.Alias(this=bound, alias=name))
        else:
            columns.append(exp.Column(this=name, table=exp.to_identifier(SOURCE_ALIAS)))
    if not columns:
        return None
    source: exp.Expr = exp.Table(
        this=exp.to_identifier(key.name, quoted=True),
        db=exp.to_identifier(key.schema, quoted=True) if key.schema else None,
        alias=exp.TableAlias(this=exp.to_identifier(SOURCE_ALIAS)),
    )
    condition, applied = _row_filter([base] if base else [], context, dialect)
    extra, more = _row_filter(added, context, dialect)
    if extra is not None:
        inner = exp.Select(expressions=[exp.Star()]).from_(source, copy=False)
        if condition is not None:
            inner = inner.where(condition, copy=False)
        source = exp.Subquery(
            this=_fenced(inner, dialect), alias=exp.TableAlias(this=exp.to_identifier(SOURCE_ALIAS))
        )
        condition = extra
    select = exp.Select(expressions=columns).from_(source, copy=False)
    if condition is not None:
        select = select.where(condition, copy=False)
    select = _fenced(select, dialect)
    masked = tuple(c.name for c in table.columns if c.name in masks and c.name not in hidden)
    filter_only = frozenset(n for p in policies for n in p.filter_only) - hidden
    text = select.sql(dialect=dialect)
    return Wrapper(key, select, text, tuple(sorted(hidden)), masked, applied + more, filter_only)


def _row_filter(
    policies: Sequence[TablePolicy], context: PolicyContext, dialect: str
) -> tuple[exp.Expr | None, tuple[str, ...]]:
    """PostgreSQL's rule: (any applicable permissive) AND (every applicable restrictive)."""
    applied: list[str] = []
    permissive: list[exp.Expr] = []
    parts: list[exp.Expr] = []
    declares_permissive = False
    for policy in policies:
        declares_permissive |= policy.has_permissive
        for row in policy.rows:
            if not _applies(row, context):
                continue
            applied.append(row.name)
            bound = _bound(row.condition, context, dialect) or exp.false()
            (parts if row.restrictive else permissive).append(exp.paren(bound, copy=False))
    if declares_permissive:
        parts.insert(0, exp.paren(exp.or_(*permissive), copy=False) if permissive else exp.false())
    if not parts:
        return None, tuple(applied)
    return exp.and_(*parts, copy=False), tuple(applied)


def _applies(row: RowPolicy, context: PolicyContext) -> bool:
    return row.roles is None or context.role in row.roles


def _bound(expression: exp.Expr, context: PolicyContext, dialect: str) -> exp.Expr | None:
    """``expression`` with the caller's attributes as literals; None when one is missing (or
    of a type a literal cannot carry), which the caller turns into FALSE."""
    copy = expression.copy()
    for column in list(copy.find_all(exp.Column)):
        scope = column.table
        if scope not in ATTRIBUTE_SCOPES:
            continue
        value = context.attribute(scope, column.name)
        parent = column.parent
        if isinstance(value, list | tuple):
            if not isinstance(parent, exp.In) or column.arg_key != "expressions":
                return None
            literals = [_literal(v, dialect) for v in value]
            if not literals or any(lit is None for lit in literals):
                return None
            parent.set("expressions", literals)
            continue
        literal = _literal(value, dialect)
        if literal is None:
            return None
        column.replace(literal)
    return copy


#: Dialects where a server setting can make a backslash escape a quote inside a string literal
#: (PostgreSQL's standard_conforming_strings=off, MySQL by default): a string attribute with a
#: backslash is not bound there (its policy admits no rows) rather than trusted to the setting.
_BACKSLASH_ESCAPES = frozenset({"postgres", "mysql"})


def _literal(value: Any, dialect: str) -> exp.Expr | None:
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, float):
        return exp.Literal.number(repr(value)) if math.isfinite(value) else None
    if isinstance(value, str):
        if "\x00" in value or (dialect in _BACKSLASH_ESCAPES and "\\" in value):
            return None
        return exp.Literal.string(value)
    return None


def _fenced(select: exp.Select, dialect: str) -> exp.Select:
    if dialect == "sqlite":
        return select.limit(exp.Neg(this=exp.Literal.number(1)), copy=False).offset(0, copy=False)
    if dialect in ("postgres", "duckdb"):
        return select.offset(0, copy=False)
    return select
