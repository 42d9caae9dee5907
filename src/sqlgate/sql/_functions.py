"""Function calls: deny-listed functions, table functions outside the allow-list, blob sizes.

A call is refused if any of its names is denied: the name as written (unquoted, lower-cased,
schema-qualified or not) *and* sqlglot's names for the node it built, or the node's class, so
quoting, case and sqlglot's renames (``read_csv`` to ``ReadCSV``) do not matter. In ``FROM`` only
the policy's row generators may be called. As belt and braces, every ``name(`` in the token stream
is checked too, whatever node sqlglot built for it. SQLite ``randomblob(n)`` / ``zeroblob(n)`` are
capped rather than denied: a literal ``n`` up to :data:`MAX_BLOB_BYTES` is fine (random ids,
padding), anything larger or computed is refused (``resource_limit``), and they are therefore not
in :func:`sqlgate.sql.guard.denied_functions`; the engine's ``SQLITE_LIMIT_LENGTH`` is the
backstop when the guard is off. ``COLUMNS(...)`` is refused here too, as a column bypass.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.tokenizer_core import TokenType

from sqlgate.sql._denylist import READS_FILES, SEQUENCES, SERVER_VERSION
from sqlgate.sql._source import Refused, node_start
from sqlgate.sql._walk import NodeCheck, Walk

MAX_BLOB_BYTES = 1_048_576
BLOB_ALLOCATORS = frozenset({"randomblob", "zeroblob"})

# Function nodes sqlglot builds under its own name; matched by class whatever was written.
_DENIED_FUNCTION_CLASSES: tuple[tuple[type[exp.Expr], str], ...] = (
    (exp.ReadCSV, READS_FILES),
    (exp.ReadParquet, READS_FILES),
    (exp.NextValueFor, SEQUENCES),
    (exp.CurrentVersion, SERVER_VERSION),
)
# Row generators that are fine in FROM whatever sqlglot calls them.
_ALLOWED_TABLE_FUNCTION_CLASSES: tuple[type[exp.Expr], ...] = (
    exp.Unnest,
    exp.GenerateSeries,
    exp.JSONTable,
)
_SQL_NAMES_OF_CLASS: dict[type[exp.Func], tuple[str, ...]] = {}


def check_function_tokens(walk: Walk) -> None:
    """Belt and braces: `name(` in the token stream, whatever node sqlglot built for it."""
    policy = walk.source.policy
    tokens = walk.source.tokens
    for index, token in enumerate(tokens[:-1]):
        if (
            token.token_type in (TokenType.VAR, TokenType.IDENTIFIER)
            and tokens[index + 1].token_type == TokenType.L_PAREN
        ):
            name = token.text.lower()
            why = policy.why_function_denied(name)
            if why and name not in walk.aliases:
                raise _denied(name, why, token.start)


def _check_function(walk: Walk, node: exp.Func) -> None:
    policy = walk.source.policy
    names = _function_names(walk.source.sql, node)
    shown = names[0] if names else node.key
    for name in names:
        why = policy.why_function_denied(name)
        if why:
            raise _denied(shown, why, node_start(node))
    for cls, why in _DENIED_FUNCTION_CLASSES:
        if isinstance(node, cls):
            raise _denied(shown, why, node_start(node))
    if isinstance(node, exp.Columns):
        raise Refused(
            "column_bypass",
            "COLUMNS(...) selects columns by pattern, which bypasses column allow-lists, and is "
            "not allowed; name the columns",
            node_start(node),
        )
    if _in_from_position(node) and not (
        isinstance(node, _ALLOWED_TABLE_FUNCTION_CLASSES)
        or (names and names[0] in policy.table_functions)
    ):
        allowed = ", ".join(sorted(policy.table_functions))
        raise Refused(
            "denied_function",
            f"Table function {shown} is not allowed in FROM; allowed: {allowed}",
            node_start(node),
        )
    if names and names[0] in BLOB_ALLOCATORS:
        _check_blob_size(node, names[0])


NODE_CHECKS: tuple[tuple[tuple[type[exp.Expr], ...], NodeCheck], ...] = (
    ((exp.Func,), _check_function),
)


def _denied(name: str, why: str, position: int | None) -> Refused:
    return Refused("denied_function", f"Function {name} {why} and is not allowed", position)


def _function_names(sql: str, node: exp.Func) -> list[str]:
    """Lower-case names of a function call: as written first, then sqlglot's names."""
    names: list[str] = []
    start, end = node.meta.get("start"), node.meta.get("end")
    if isinstance(start, int) and isinstance(end, int):
        written = sql[start : end + 1]
        if len(written) >= 2 and written[0] in '"`[' and written[-1] in '"`]':
            written = written[1:-1]
        names.append(written.lower())
    if isinstance(node, exp.Anonymous):
        names.append(node.name.lower())
    else:
        names.extend(_sql_names(type(node)))
    return list(dict.fromkeys(name for name in names if name))


def _sql_names(cls: type[exp.Func]) -> tuple[str, ...]:
    names = _SQL_NAMES_OF_CLASS.get(cls)
    if names is None:
        try:
            names = tuple(name.lower() for name in cls.sql_names())
        except NotImplementedError:
            names = ()
        _SQL_NAMES_OF_CLASS[cls] = names
    return names


def _in_from_position(node: exp.Expr) -> bool:
    """Is this function call a table function (FROM f(...), JOIN f(...), LATERAL f(...))?"""
    parent = node.parent
    return node.arg_key == "this" and isinstance(
        parent, (exp.Table, exp.From, exp.Join, exp.Lateral)
    )


def _check_blob_size(node: exp.Func, name: str) -> None:
    arguments = node.expressions if isinstance(node, exp.Anonymous) else [node.this]
    size = arguments[0] if len(arguments) == 1 else None
    if (
        isinstance(size, exp.Literal)
        and not size.is_string
        and str(size.this).isdigit()
        and int(size.this) <= MAX_BLOB_BYTES
    ):
        return
    raise Refused(
        "resource_limit",
        f"Function {name} allocates as many bytes as its argument; only a literal size up to "
        f"{MAX_BLOB_BYTES:,} is allowed",
        node_start(node),
    )
