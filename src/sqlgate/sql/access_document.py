"""Access policy documents: what an organization may see of a connection's tables.

A document (YAML or JSON, loaded by the service) names the tables an organization may read and,
per table, the rows and columns it sees::

    tables:
      orders:
        tenant: {column: org_id, attribute: tenant_id}   # org_id = the org's tenant_id
        columns: {note: hide, email: {mask: "'***'"}, org_id: filter}
        rows:
          - {name: eu_only, type: restrictive, roles: [viewer], using: "region = member.region"}
    default: deny        # tables not listed do not exist

Row policies combine as PostgreSQL's do: the permissive ones that apply to the caller's role are
ORed, the restrictive ones ANDed on top (a table that declares permissive policies, none of which
applies to the caller, shows no rows). ``tenant`` is a restrictive policy. Expressions are SQL in
the connection's dialect; ``org.NAME`` and ``member.NAME`` are the caller's attributes, bound as
literals when a query runs, and a policy that names an attribute the caller lacks admits no rows.

:func:`compile_document` checks a document against the connection's schema (tables and columns
exist, expressions parse in the dialect and pass the SQL guard) and returns the
:class:`AccessDocument` the rewriter binds per caller (:mod:`sqlgate.sql.access_bind`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError
from sqlglot import exp, parse_one
from sqlglot.errors import SqlglotError

from sqlgate.sql.access_names import SchemaIndex, TableKey
from sqlgate.sql.guard import analyze
from sqlgate.vocabulary.schema import DatabaseSchema, SchemaTable

#: Qualifiers that name the caller's attributes inside policy expressions.
ATTRIBUTE_SCOPES = ("org", "member")
#: Where the rewrite is known to hold (its fence against reordered predicates, name rules).
SUPPORTED_DIALECTS = frozenset({"duckdb", "sqlite", "postgres"})
#: Names sqlgate gives its own wrappers and CTEs; refused in user SQL and in catalogs.
RESERVED_PREFIX = "__sg"

Problem = tuple[str, str]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TenantSpec(_Strict):
    column: str = Field(min_length=1)
    attribute: str = Field(min_length=1)


class MaskSpec(_Strict):
    mask: str = Field(min_length=1)


class ExistsSpec(_Strict):
    table: str = Field(min_length=1)
    match: dict[str, str] = Field(min_length=1)
    using: str | None = None


class RowSpec(_Strict):
    name: str = Field(min_length=1, max_length=100)
    type: Literal["permissive", "restrictive"] = "permissive"
    roles: list[str] | None = None
    using: str | None = None
    exists: ExistsSpec | None = None


class TableSpec(_Strict):
    tenant: TenantSpec | None = None
    columns: dict[str, Literal["hide", "filter"] | MaskSpec] = Field(default_factory=dict)
    rows: list[RowSpec] = Field(default_factory=list)


class DocumentSpec(_Strict):
    tables: dict[str, TableSpec] = Field(default_factory=dict)
    default: Literal["deny", "allow"] = "deny"
    native_rls: bool = False


@dataclass(frozen=True)
class RowPolicy:
    """One row policy: ``condition`` over the table (qualified with the wrapper's alias) and
    the caller's attributes (``org.x``, ``member.x`` columns, bound later)."""

    name: str
    restrictive: bool
    roles: frozenset[str] | None
    condition: exp.Expr


@dataclass(frozen=True)
class TablePolicy:
    key: TableKey
    table: SchemaTable
    hidden: frozenset[str]  # catalog column names
    masks: Mapping[str, exp.Expr]  # catalog column name -> expression (already typed)
    rows: tuple[RowPolicy, ...]
    filter_only: frozenset[str] = frozenset()  # may be filtered on, never selected

    @property
    def has_permissive(self) -> bool:
        return any(not r.restrictive for r in self.rows)


@dataclass(frozen=True)
class AccessDocument:
    """A compiled document: per table key, what its readers see."""

    dialect: str
    default_allow: bool
    tables: Mapping[TableKey, TablePolicy]
    #: Also enforced by PostgreSQL's row-level security (:mod:`sqlgate.sql.access_native`).
    native_rls: bool = False


#: The alias every wrapper gives the physical table (and its mapping tables get ``__sg_m``).
SOURCE_ALIAS = "__sg_src"
MAPPING_ALIAS = "__sg_m"


def spec_from_mapping(data: Any) -> tuple[DocumentSpec | None, list[Problem]]:
    """The document's structure checked: the spec, or the problems (path, message)."""
    if not isinstance(data, Mapping):
        return None, [("", "an access policy is a mapping with `tables` (and `default`)")]
    try:
        return DocumentSpec.model_validate(data), []
    except PydanticError as exc:
        problems = []
        for error in exc.errors():
            path = ".".join(str(p) for p in error["loc"] if p not in ("literal['hide']",))
            problems.append((path, error["msg"]))
        return None, problems


def compile_document(
    spec: DocumentSpec, schema: DatabaseSchema, dialect: str
) -> tuple[AccessDocument | None, list[Problem]]:
    """Check ``spec`` against the connection's schema and compile it, or say what is wrong."""
    index = SchemaIndex(schema, dialect)
    problems: list[Problem] = []
    if dialect not in SUPPORTED_DIALECTS:
        problems.append(
            ("", "access policies are enforced on DuckDB, SQLite and PostgreSQL connections only")
        )
    for table in schema.tables:
        if table.name.lower().startswith(RESERVED_PREFIX):
            problems.append(("", f"table {table.name} uses the reserved prefix {RESERVED_PREFIX}"))
    tables: dict[TableKey, TablePolicy] = {}
    for name, table_spec in spec.tables.items():
        path = f"tables.{name}"
        found = index.lookup_name(name)
        if found is None:
            problems.append((path, f"no table {name} in the connection"))
            continue
        key, table = found
        if key in tables:
            problems.append((path, f"table {name} is listed twice"))
            continue
        compiled = _compile_table(path, table_spec, key, table, index, dialect, problems)
        if compiled is not None:
            tables[key] = compiled
    if spec.native_rls:
        problems += _native_problems(spec, dialect)
    if problems:
        return None, problems
    return AccessDocument(dialect, spec.default == "allow", tables, spec.native_rls), []


def _native_problems(spec: DocumentSpec, dialect: str) -> list[Problem]:
    if dialect != "postgres":
        return [("native_rls", "native row-level security is PostgreSQL's")]
    return [
        (f"tables.{name}.rows.{number}.exists", "`exists` rules have no native form")
        for name, table in spec.tables.items()
        for number, row in enumerate(table.rows)
        if row.exists is not None
    ]


def _compile_table(
    path: str,
    spec: TableSpec,
    key: TableKey,
    table: SchemaTable,
    index: SchemaIndex,
    dialect: str,
    problems: list[Problem],
) -> TablePolicy | None:
    start = len(problems)
    columns = {c.name.lower(): c for c in table.columns}
    hidden: set[str] = set()
    filter_only: set[str] = set()
    masks: dict[str, exp.Expr] = {}
    for name, rule in spec.columns.items():
        column = columns.get(name.lower())
        if column is None:
            problems.append((f"{path}.columns.{name}", f"no column {name} in {table.name}"))
        elif rule == "hide":
            hidden.add(column.name)
        elif rule == "filter":
            filter_only.add(column.name)
        elif isinstance(rule, MaskSpec):
            mask = _expression(f"{path}.columns.{name}.mask", rule.mask, table, dialect, problems)
            if mask is not None:
                masks[column.name] = _typed(mask, column.type, dialect)
    rows: list[RowPolicy] = []
    if spec.tenant is not None:
        tenant = _tenant(f"{path}.tenant", spec.tenant, table, dialect, problems)
        if tenant is not None:
            rows.append(tenant)
    for number, row in enumerate(spec.rows):
        compiled = _row_policy(f"{path}.rows.{number}", row, table, index, dialect, problems)
        if compiled is not None:
            rows.append(compiled)
    if len({r.name for r in rows}) != len(rows):
        problems.append((f"{path}.rows", "row policy names must be unique within a table"))
    if len(problems) > start:
        return None
    return TablePolicy(key, table, frozenset(hidden), masks, tuple(rows), frozenset(filter_only))


def _tenant(
    path: str, spec: TenantSpec, table: SchemaTable, dialect: str, problems: list[Problem]
) -> RowPolicy | None:
    scope, _, name = spec.attribute.rpartition(".")
    scope = scope or "org"
    if scope not in ATTRIBUTE_SCOPES or not name:
        problems.append((f"{path}.attribute", "an attribute is NAME, org.NAME or member.NAME"))
        return None
    if not any(c.name.lower() == spec.column.lower() for c in table.columns):
        problems.append((f"{path}.column", f"no column {spec.column} in {table.name}"))
        return None
    column = exp.column(spec.column, quoted=True)
    condition = exp.EQ(this=column, expression=exp.column(name, table=scope))
    qualified = _qualify(condition, table, SOURCE_ALIAS, path, problems)
    if qualified is None:
        return None
    return RowPolicy("tenant", True, None, qualified)


def _row_policy(
    path: str,
    spec: RowSpec,
    table: SchemaTable,
    index: SchemaIndex,
    dialect: str,
    problems: list[Problem],
) -> RowPolicy | None:
    if (spec.using is None) == (spec.exists is None):
        problems.append((path, "a row policy has exactly one of `using` and `exists`"))
        return None
    if spec.name == "tenant":
        problems.append((f"{path}.name", "`tenant` is the name of the tenant policy"))
        return None
    roles = frozenset(spec.roles) if spec.roles is not None else None
    if spec.using is not None:
        condition = _expression(f"{path}.using", spec.using, table, dialect, problems)
    else:
        assert spec.exists is not None
        condition = _exists(f"{path}.exists", spec.exists, table, index, dialect, problems)
    if condition is None:
        return None
    return RowPolicy(spec.name, spec.type == "restrictive", roles, condition)


def _exists(
    path: str,
    spec: ExistsSpec,
    table: SchemaTable,
    index: SchemaIndex,
    dialect: str,
    problems: list[Problem],
) -> exp.Expr | None:
    found = index.lookup_name(spec.table)
    if found is None:
        problems.append((f"{path}.table", f"no table {spec.table} in the connection"))
        return None
    _, mapping = found
    mapping_columns = {c.name.lower(): c.name for c in mapping.columns}
    table_columns = {c.name.lower(): c.name for c in table.columns}
    conditions: list[exp.Expr] = []
    for left, right in spec.match.items():
        if left.lower() not in mapping_columns:
            problems.append((f"{path}.match.{left}", f"no column {left} in {mapping.name}"))
        elif right.lower() not in table_columns:
            problems.append((f"{path}.match.{left}", f"no column {right} in {table.name}"))
        else:
            conditions.append(
                exp.EQ(
                    this=exp.column(mapping_columns[left.lower()], MAPPING_ALIAS, quoted=True),
                    expression=exp.column(table_columns[right.lower()], SOURCE_ALIAS, quoted=True),
                )
            )
    if spec.using is not None:
        extra = _expression(f"{path}.using", spec.using, mapping, dialect, problems, MAPPING_ALIAS)
        if extra is not None:
            conditions.append(exp.paren(extra, copy=False))
    if len(conditions) != len(spec.match) + (spec.using is not None):
        return None
    source = exp.Table(
        this=exp.to_identifier(mapping.name, quoted=True),
        db=exp.to_identifier(mapping.schema, quoted=True) if mapping.schema else None,
        alias=exp.TableAlias(this=exp.to_identifier(MAPPING_ALIAS)),
    )
    subquery = exp.select("1").from_(source).where(exp.and_(*conditions, copy=False))
    return exp.Exists(this=subquery)


def _expression(
    path: str,
    text: str,
    table: SchemaTable,
    dialect: str,
    problems: list[Problem],
    alias: str = SOURCE_ALIAS,
) -> exp.Expr | None:
    """One SQL expression over ``table``'s columns and the caller's attributes: parsed in the
    dialect, checked by the guard, no subqueries, aggregates or placeholders, every column
    qualified with ``alias``."""
    verdict = analyze(f"SELECT {text} FROM t", dialect)
    if not verdict.is_valid:
        problems.append((path, f"{verdict.error}"))
        return None
    try:
        parsed = parse_one(text, read=dialect)
    except SqlglotError as exc:
        problems.append((path, f"not an expression in {dialect}: {exc}"))
        return None
    banned = (exp.Query, exp.Table, exp.Star, exp.AggFunc, exp.Window, exp.Placeholder)
    if isinstance(parsed, exp.Query) or any(parsed.find_all(*banned)):
        problems.append((path, "subqueries, aggregates, windows, * and parameters are refused"))
        return None
    if any(
        isinstance(n, exp.Identifier) and n.name.startswith(RESERVED_PREFIX) for n in parsed.walk()
    ):
        problems.append((path, f"names starting with {RESERVED_PREFIX} are reserved"))
        return None
    return _qualify(parsed, table, alias, path, problems)


def _qualify(
    expression: exp.Expr, table: SchemaTable, alias: str, path: str, problems: list[Problem]
) -> exp.Expr | None:
    columns = {c.name.lower(): c.name for c in table.columns}
    ok = True
    for column in list(expression.find_all(exp.Column)):
        if column.table in ATTRIBUTE_SCOPES and not column.args.get("db"):
            continue
        if column.table and column.table.lower() != table.name.lower():
            problems.append(
                (path, f"{column.sql()} is neither a column of {table.name} nor an attribute")
            )
            ok = False
            continue
        name = columns.get(column.name.lower())
        if name is None:
            problems.append((path, f"no column {column.name} in {table.name}"))
            ok = False
            continue
        column.replace(exp.column(name, alias, quoted=True))
    return expression if ok else None


def _typed(mask: exp.Expr, type_name: str, dialect: str) -> exp.Expr:
    """A mask keeps its column's type: CAST to the catalog's type where sqlglot can read it."""
    try:
        data_type = exp.DataType.build(type_name, dialect=dialect) if type_name else None
    except (SqlglotError, ValueError):
        data_type = None
    if data_type is None or data_type.is_type(exp.DataType.Type.UNKNOWN):
        return mask
    return exp.Cast(this=mask, to=data_type)
