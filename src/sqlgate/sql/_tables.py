"""Table references: which base tables the query reads, and which of them are refused.

A one-part name is first resolved against the CTEs in scope (only earlier CTEs are visible inside
a CTE body, unless it is recursive; outer WITHs are), erring towards "base table": a base table
reported as a table is merely checked by the service's table allow-list, while one mistaken for a
CTE would escape it. Unknown tables are not this module's business, but system catalogs
(``pg_catalog``, ``information_schema``, ``sqlite_master``, ...) are refused, as are, in DuckDB,
names that look like files or URLs (``FROM '/x.csv'``, ``FROM x.csv``), which a replacement scan
would read. The allow-list on :attr:`~sqlgate.sql.guard.Analysis.tables` is also what stops e.g.
a DuckDB Python replacement scan of a DataFrame named like a table.
"""

from __future__ import annotations

from sqlglot import exp

from sqlgate.sql._source import Refused, node_start
from sqlgate.sql._walk import NodeCheck, Walk

# DuckDB reads a table reference that ends like a data file as that file (replacement scan).
_FILE_SUFFIXES = frozenset(
    {
        *("csv", "tsv", "tbl", "txt", "dat", "parquet", "json", "jsonl", "ndjson", "xlsx", "xls"),
        *("arrow", "feather", "ipc", "avro", "orc", "db", "duckdb", "sqlite", "sqlite3"),
        *("gz", "zst", "bz2", "xz", "lz4", "zip", "shp", "gpkg", "geojson", "fgb", "kml", "gpx"),
    }
)
_PATH_CHARACTERS = frozenset("/\\:*?~.")


def _check_table(walk: Walk, node: exp.Table) -> None:
    if isinstance(node.this, exp.Func) or node.arg_key == "indexed":
        return  # table function (checked as a function) or SQLite INDEXED BY <index>
    if node.this is None and node.args.get("rows_from"):
        return  # PostgreSQL ROWS FROM (f(...), g(...)): the inner calls are checked
    source = walk.source
    if not isinstance(node.this, exp.Identifier):
        raise Refused(
            "denied_table",
            f"Table reference {node.sql(dialect=source.dialect)} is not a plain table name "
            "and is not allowed",
            node_start(node),
        )
    parts = [part.name for part in node.parts]
    name = ".".join(parts)
    cte = _resolve_cte(source.dialect, node) if len(parts) == 1 else None
    walk.relations[node.alias_or_name.lower()] = cte
    if node.alias:
        walk.aliases.add(node.alias.lower())
    if cte is not None:
        return
    why = source.policy.why_table_denied(parts)
    if why:
        raise Refused("denied_table", f"Table {name} {why} and is not allowed", node_start(node))
    if source.policy.path_like_tables and _looks_like_path(parts):
        raise Refused(
            "denied_table",
            f"Table reference {name!r} looks like a file path or URL; DuckDB would read it "
            "as a file, which is not allowed",
            node_start(node),
        )
    walk.tables.add(name)


NODE_CHECKS: tuple[tuple[tuple[type[exp.Expr], ...], NodeCheck], ...] = (
    ((exp.Table,), _check_table),
)


def _resolve_cte(dialect: str, table: exp.Table) -> exp.CTE | None:
    """The CTE in scope that this one-part table name refers to, if any."""
    key = _identifier_key(dialect, table.this)
    child: exp.Expr = table
    parent = table.parent
    while parent is not None:
        if isinstance(parent, exp.With):
            # Inside a CTE body: only earlier CTEs (and itself, if recursive) are visible,
            # not the later ones nor the owner's main query; outer WITHs still are.
            cte = _visible_ctes(dialect, parent, child).get(key)
            if cte is not None:
                return cte
            owner = parent.parent
            if owner is None:
                return None
            child, parent = owner, owner.parent
            continue
        with_ = parent.args.get("with_")
        if isinstance(with_, exp.With):
            cte = _visible_ctes(dialect, with_, None).get(key)
            if cte is not None:
                return cte
        child, parent = parent, parent.parent
    return None


def _visible_ctes(dialect: str, with_: exp.With, inside: exp.Expr | None) -> dict[str, exp.CTE]:
    """CTEs visible from the main query (inside=None) or from inside one of them."""
    ctes = [cte for cte in with_.expressions if isinstance(cte, exp.CTE)]
    index = next((i for i, cte in enumerate(ctes) if cte is inside), None)
    if index is not None:
        ctes = ctes[: index + 1] if with_.args.get("recursive") else ctes[:index]
    visible: dict[str, exp.CTE] = {}
    for cte in ctes:
        alias = cte.args.get("alias")
        if isinstance(alias, exp.TableAlias) and isinstance(alias.this, exp.Identifier):
            visible.setdefault(_identifier_key(dialect, alias.this), cte)
    return visible


def _identifier_key(dialect: str, identifier: exp.Expr) -> str:
    """How the engine compares this name (PostgreSQL folds unquoted names only)."""
    name = identifier.name
    if dialect == "postgres":
        return name if identifier.args.get("quoted") else name.lower()
    if dialect == "mysql":
        return name  # case-sensitivity depends on the server: compare exactly
    return name.lower()


def _looks_like_path(parts: list[str]) -> bool:
    if any(char in _PATH_CHARACTERS for part in parts for char in part):
        return True
    return len(parts) > 1 and parts[-1].lower() in _FILE_SUFFIXES
