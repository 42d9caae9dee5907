"""Enforcing an access policy on one query: qualify, wrap, then check the result independently.

After the guard has accepted a query, :func:`enforce` rewrites it for one caller's
:class:`~sqlgate.sql.access_bind.EffectivePolicy`:

1. **Qualify.** Every table reference is resolved in the dialect's rules: a one-part name that
   a CTE in scope defines is that CTE (renamed ``__sg_cN``, keeping the name the query uses as
   its alias); anything else must be exactly one visible table of sqlgate's catalog of the
   connection. Table functions, file scans, system catalogs, other catalogs or attached
   databases, ``ONLY``/sampling/time-travel clauses and names sqlgate reserves are refused.
2. **Wrap.** Each base table becomes the caller's wrapper subquery (visible columns, masks,
   row filter), aliased as the query named the table, so joins, outer joins, ``GROUP BY``,
   windows and predicates only ever see permitted rows and values.
3. **Verify.** The output text is parsed again (a fresh parse, nothing reused from steps 1-2)
   and, independently of steps 1-2, every table reference must either sit inside a subquery
   that is exactly one of the caller's wrappers (node for node the parse of a wrapper's text:
   what rendering it and comparing texts would decide, without rendering), or be a one-part
   name of a generated CTE (no physical table may carry the reserved prefix). Anything else
   refuses the query.

Step 1 reads the tree the guard parsed from the same text (a private copy) when it is at hand
(:func:`~sqlgate.sql.cache.parsed_query`), rather than parsing the text again.

Every failure raises :class:`~sqlgate.errors.SqlNotAllowed` with reason ``access_policy``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock

from sqlglot import exp, parse_one
from sqlglot.errors import SqlglotError

from sqlgate.errors import SqlNotAllowed
from sqlgate.sql._tables import _resolve_cte
from sqlgate.sql.access_bind import EffectivePolicy, Wrapper
from sqlgate.sql.access_document import RESERVED_PREFIX, SOURCE_ALIAS
from sqlgate.sql.access_names import TableKey
from sqlgate.sql.cache import parsed_query

REASON = "access_policy"
_CTE_PREFIX = RESERVED_PREFIX + "_c"
_TABLE_ARGS = frozenset({"this", "db", "alias"})
#: What a FROM or JOIN may read besides tables and subqueries: row sources that read nothing.
_ROW_SOURCES = (exp.Table, exp.Subquery, exp.Unnest, exp.Values, exp.Lateral)
_CACHE_SIZE = 4096


@dataclass(frozen=True)
class Enforced:
    """The query as it runs, and what the policy did to it (for the audit row)."""

    sql: str
    tables: tuple[str, ...]
    hidden: tuple[str, ...]  # "table.column"
    masked: tuple[str, ...]
    policies: tuple[str, ...]  # "table.policy"


def refuse(message: str) -> SqlNotAllowed:
    return SqlNotAllowed(message, reason=REASON)


_cache: OrderedDict[tuple[str, str], Enforced] = OrderedDict()
_cache_lock = Lock()


def enforce(sql: str, policy: EffectivePolicy) -> Enforced:
    """``sql`` rewritten for ``policy`` (see the module docstring), remembered per (text,
    policy fingerprint): the fingerprint covers the wrappers, so a change of policy version,
    attributes, role or schema is a new key."""
    key = (sql, policy.fingerprint)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    enforced = _enforce(sql, policy)
    with _cache_lock:
        _cache[key] = enforced
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return enforced


def _enforce(sql: str, policy: EffectivePolicy) -> Enforced:
    """Steps 1-3 of the module docstring. The query's own text is kept: only the spans of
    table names (and CTE names) are replaced, so everything else (column names of the result,
    parameters, comments) stays exactly as written; the verifier judges the result."""
    dialect = policy.dialect
    try:
        tree = parsed_query(sql, dialect)  # the guard's tree (a copy) when it is at hand
    except SqlglotError:
        raise refuse("The query could not be read for the access policy") from None
    nodes = list(tree.walk())  # breadth first, as find_all: one walk for every check below
    for node in nodes:
        if isinstance(node, exp.Identifier) and node.name.lower().startswith(RESERVED_PREFIX):
            raise refuse(f"Names starting with {RESERVED_PREFIX} are reserved")
    tables = [node for node in nodes if isinstance(node, exp.Table)]
    _check_sources(nodes)
    _check_catalog_probes(nodes, dialect)
    _check_names(tables)
    edits: list[tuple[int, int, str]] = []
    generated: dict[int, str] = {}
    ctes = (node for node in nodes if isinstance(node, exp.CTE))
    for number, defined in enumerate(ctes):
        alias = defined.args.get("alias")
        if not isinstance(alias, exp.TableAlias) or not isinstance(alias.this, exp.Identifier):
            raise refuse("A CTE without a plain name is not allowed under an access policy")
        generated[id(defined)] = f"{_CTE_PREFIX}{number}"
        edits.append((*_span(sql, alias.this), generated[id(defined)]))
    used: list[Wrapper] = []
    for table in tables:
        _check_plain(table)
        cte = _resolve(dialect, table)
        if cte is not None:
            replacement = generated[id(cte)]
        else:
            wrapper = policy.wrapper(table)
            if wrapper is None:
                raise refuse(f"Unknown table: {table.sql(dialect=dialect)}")
            used.append(wrapper)
            replacement = f"({wrapper.text})"
        start, end = _span(sql, *table.parts)
        if table.args.get("alias") is None:
            replacement += " AS " + sql[slice(*_span(sql, table.this))]
        edits.append((start, end, replacement))
    _check_filter_only(nodes, used)
    out = _spliced(sql, edits)
    verify(out, policy, frozenset(generated.values()))
    return _summary(out, used)


def _resolve(dialect: str, table: exp.Table) -> exp.CTE | None:
    """The CTE a one-part name refers to, as the engine resolves it. In SQLite every CTE of a
    WITH sees every other and itself, RECURSIVE or not (a cycle is an error there)."""
    if table.args.get("db"):
        return None
    if dialect != "sqlite":
        return _resolve_cte(dialect, table)
    name = table.name.lower()
    node = table.parent
    while node is not None:
        with_ = node if isinstance(node, exp.With) else node.args.get("with_")
        if isinstance(with_, exp.With):
            for cte in with_.expressions:
                if isinstance(cte, exp.CTE) and cte.alias.lower() == name:
                    return cte
        node = node.parent
    return None


def _span(sql: str, *identifiers: exp.Expr) -> tuple[int, int]:
    """Where ``identifiers`` (consecutive parts of one name) are in ``sql``: [start, end)."""
    starts = [i.meta.get("start") for i in identifiers]
    ends = [i.meta.get("end") for i in identifiers]
    known = [n for n in [*starts, *ends] if isinstance(n, int)]
    if not identifiers or len(known) != 2 * len(identifiers):
        raise refuse("The query could not be located for the access policy")
    start, end = min(known[: len(starts)]), max(known[len(starts) :]) + 1
    if not 0 <= start < end <= len(sql):
        raise refuse("The query could not be located for the access policy")
    return start, end


def _spliced(sql: str, edits: list[tuple[int, int, str]]) -> str:
    pieces: list[str] = []
    at = 0
    for start, end, replacement in sorted(edits):
        if start < at:
            raise refuse("The query could not be rewritten for the access policy")
        pieces += [sql[at:start], replacement]
        at = end
    pieces.append(sql[at:])
    return "".join(pieces)


def _check_plain(table: exp.Table) -> None:
    extra = {k for k, v in table.args.items() if v is not None and v != [] and k not in _TABLE_ARGS}
    if not isinstance(table.this, exp.Identifier):
        raise refuse(
            f"{table.sql()} is not a table; table functions are not allowed under an access policy"
        )
    if extra or not isinstance(table.parent, exp.From | exp.Join):
        raise refuse(f"This use of table {table.name} is not allowed under an access policy")


#: Where a filter-only column may appear: inside a condition, never in what a query returns.
_CONDITIONS = (exp.Where, exp.Having, exp.Join, exp.Qualify)


def _check_filter_only(nodes: list[exp.Expr], used: list[Wrapper]) -> None:
    """Columns a policy lets the caller filter on but not select: refused anywhere but in a
    WHERE, HAVING, QUALIFY or join condition, and ``*`` is refused while such a table is read
    (it would select them). Matched by name whatever the qualifier: erring towards refusal."""
    names = {n.lower() for w in used for n in w.filter_only}
    if not names:
        return
    for star in (node for node in nodes if isinstance(node, exp.Star)):
        holder = star.parent.parent if isinstance(star.parent, exp.Column) else star.parent
        if not isinstance(holder, exp.Count):
            raise refuse(
                "This query reads a table with columns that may be filtered on but not "
                "selected; name the columns instead of *"
            )
    for column in (node for node in nodes if isinstance(node, exp.Column)):
        if column.name.lower() not in names:
            continue
        node: exp.Expr | None = column.parent
        while node is not None and not isinstance(node, _CONDITIONS):
            if isinstance(node, exp.Select):
                node = None
                break
            node = node.parent
        if node is None:
            raise refuse(
                f"Column {column.name} may be filtered on (WHERE, HAVING, ON) but not selected, "
                "grouped or ordered by"
            )


#: Under a policy, what would tell whether a hidden table or column exists: PostgreSQL's
#: privilege and name-lookup functions, object comments, and casts to its reg* types.
_CATALOG_PROBES = ("has_", "to_reg", "obj_description", "col_description", "shobj_description")


def _check_catalog_probes(nodes: list[exp.Expr], dialect: str) -> None:
    if dialect != "postgres":
        return
    for func in (node for node in nodes if isinstance(node, exp.Func)):
        name = (func.name if isinstance(func, exp.Anonymous) else func.sql_name()).lower()
        if name.startswith(_CATALOG_PROBES):
            raise refuse(f"Function {name} is not allowed under an access policy")
    for cast in (node for node in nodes if isinstance(node, exp.Cast)):
        if cast.to.sql(dialect=dialect).lower().startswith("reg"):
            raise refuse("Casts to reg* types are not allowed under an access policy")


def _check_names(tables: list[exp.Table]) -> None:
    """DuckDB and SQLite name an unaliased result column by its text, which would be the
    rewritten text: such a column that reads a table needs an alias of its own. (Climbing from
    each table: is it, or is one of its ancestors, a projection of a SELECT without AS?)"""
    for table in tables:
        node: exp.Expr | None = table
        while node is not None:
            parent = node.parent
            if (
                isinstance(parent, exp.Select)
                and node.arg_key == "expressions"
                and not isinstance(node, exp.Alias)
            ):
                raise refuse(
                    "Under an access policy, a result column that reads a table (a scalar "
                    "subquery) needs a name: add AS name"
                )
            node = parent


def _check_sources(nodes: list[exp.Expr]) -> None:
    for node in nodes:
        if isinstance(node, exp.From | exp.Join) and not isinstance(node.this, _ROW_SOURCES):
            raise refuse(f"{node.this.sql()} is not allowed as a source under an access policy")
    for lateral in (node for node in nodes if isinstance(node, exp.Lateral)):
        if not isinstance(lateral.this, exp.Subquery | exp.Unnest):
            raise refuse("LATERAL over a function is not allowed under an access policy")


def verify(sql: str, policy: EffectivePolicy, ctes: frozenset[str]) -> None:
    """Independently of the rewrite: every table reference in ``sql`` sits inside one of the
    caller's wrappers, or names a generated CTE. Raises otherwise."""
    try:
        tree = parse_one(sql, read=policy.dialect)
    except SqlglotError:
        raise refuse("The rewritten query could not be checked") from None
    verdicts: dict[int, bool] = {}
    for table in tree.find_all(exp.Table):
        if _inside_wrapper(table, policy, verdicts):
            continue
        plain = isinstance(table.this, exp.Identifier) and not table.args.get("db")
        if plain and not table.args.get("catalog") and table.name in ctes:
            continue
        raise refuse("The query reads a table outside the access policy")


def _inside_wrapper(table: exp.Table, policy: EffectivePolicy, verdicts: dict[int, bool]) -> bool:
    node = table.parent
    while node is not None:
        if isinstance(node, exp.Subquery):
            verdict = verdicts.get(id(node))
            if verdict is None:
                verdict = _is_wrapper(node.this, policy)
                verdicts[id(node)] = verdict
            if verdict:
                return True
        node = node.parent
    return False


def _is_wrapper(body: exp.Expr | None, policy: EffectivePolicy) -> bool:
    """Whether ``body`` (parsed from the rewritten text) is, node for node, the parse of one of
    the caller's wrapper texts: the same tree renders the same text, so this is the text
    comparison without rendering. The candidates are the wrappers of the tables it reads."""
    if body is None or not _looks_like_wrapper(body):
        return False
    seen: set[TableKey] = set()
    for table in body.find_all(exp.Table):
        found = policy.index.lookup(table)
        if found is None or found[0] in seen:
            continue
        seen.add(found[0])
        canonical = policy.canonical_tree(found[0])
        if canonical is not None and same_tree(body, canonical):
            return True
    return False


def same_tree(a: exp.Expr, b: exp.Expr) -> bool:
    """Exact structural equality: the same node types, the same arguments (names compared
    case-sensitively, quoting included) and the same comments. (sqlglot's own ``==`` compares
    hashes that ignore the case of names, which is not enough here.)"""
    stack: list[tuple[object, object]] = [(a, b)]
    while stack:
        x, y = stack.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, exp.Expr):
            assert isinstance(y, exp.Expr)
            if (x.comments or None) != (y.comments or None):
                return False
            xa, ya = x.args, y.args
            if xa.keys() != ya.keys():  # both parsed by one parser: usually the same keys
                xa, ya = _present(x), _present(y)
                if xa.keys() != ya.keys():
                    return False
            stack.extend((v, ya[k]) for k, v in xa.items())
        elif isinstance(x, list):
            assert isinstance(y, list)
            if len(x) != len(y):
                return False
            stack.extend(zip(x, y, strict=True))
        elif x != y:
            return False
    return True


def _present(node: exp.Expr) -> dict[str, object]:
    return {k: v for k, v in node.args.items() if v is not None and not (type(v) is list and not v)}


def _looks_like_wrapper(body: exp.Expr | None) -> bool:
    """A cheap first test before rendering: wrappers read FROM something aliased __sg_src.
    (Only the comparison of the rendered text decides.)"""
    if not isinstance(body, exp.Select):
        return False
    source = body.args.get("from_")
    return isinstance(source, exp.From) and source.this.alias == SOURCE_ALIAS


def _summary(sql: str, used: list[Wrapper]) -> Enforced:
    unique = {w.key: w for w in used}
    wrappers = [unique[k] for k in sorted(unique)]
    return Enforced(
        sql=sql,
        tables=tuple(w.key.display() for w in wrappers),
        hidden=tuple(f"{w.key.display()}.{c}" for w in wrappers for c in w.hidden),
        masked=tuple(f"{w.key.display()}.{c}" for w in wrappers for c in w.masked),
        policies=tuple(f"{w.key.display()}.{p}" for w in wrappers for p in w.policies),
    )
