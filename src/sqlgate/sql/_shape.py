"""The statement allow-list: only read-only query shapes, at the top and anywhere inside.

The statement must be SELECT, WITH ... SELECT, VALUES or UNION/INTERSECT/EXCEPT, possibly
parenthesised. Everything else is refused, including every ``exp.Command`` (sqlglot's fallback
for statements it does not understand, which it logs at WARNING; the app's logging config decides
whether that record shows) and odd roots such as PostgreSQL ``CHECKPOINT`` (parsed as a column) or
``DISCARD ALL`` (parsed as an alias). EXPLAIN is refused in every form: ``EXPLAIN ANALYZE``
executes the statement, options can hide it (``EXPLAIN (ANALYZE, BUFFERS)``), and sqlglot parses
it as an opaque Command in most dialects, so the inner statement could not be checked anyway.
Inside the tree, data-modifying statements (``WITH d AS (DELETE ...)``), ``SELECT ... INTO``,
locking clauses and optimizer hints are refused wherever they appear.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.tokenizer_core import TokenType

from sqlgate.sql._source import Refused, Source
from sqlgate.sql._walk import NodeCheck, Walk

# Statements (and statement-like nodes) that must not appear anywhere in a read-only query.
# exp.DML covers INSERT/UPDATE/DELETE/MERGE/COPY, exp.DDL covers CREATE.
_STATEMENTS: tuple[type[exp.Expr], ...] = (
    exp.DML,
    exp.DDL,
    exp.Command,
    exp.Alter,
    exp.AlterSession,
    exp.Analyze,
    exp.Attach,
    exp.Cache,
    exp.Comment,
    exp.Commit,
    exp.ConnectTo,
    exp.Declare,
    exp.Describe,
    exp.Detach,
    exp.Disconnect,
    exp.Drop,
    exp.Execute,
    exp.Export,
    exp.Grant,
    exp.Install,
    exp.Kill,
    exp.LoadData,
    exp.Pragma,
    exp.Refresh,
    exp.Revoke,
    exp.Rollback,
    exp.Set,
    exp.Show,
    exp.Summarize,
    exp.Transaction,
    exp.TruncateTable,
    exp.Uncache,
    exp.Undrop,
    exp.Use,
)
QUERIES: tuple[type[exp.Expr], ...] = (exp.Select, exp.SetOperation, exp.Values)

_READ_ONLY_SHAPES = "SELECT, WITH ... SELECT, VALUES, UNION/INTERSECT/EXCEPT"
_QUERY_START_TOKENS = frozenset(
    {TokenType.SELECT, TokenType.WITH, TokenType.L_PAREN, TokenType.FROM, TokenType.TABLE}
)
_INTO_MESSAGE = (
    "SELECT ... INTO is not allowed: it creates a table or writes a file or variable; "
    "remove the INTO clause"
)


def unwrap(node: exp.Expr) -> exp.Expr:
    """The query inside any number of parentheses."""
    while isinstance(node, exp.Subquery) and isinstance(node.this, exp.Expr):
        node = node.this
    return node


def query_type_of(statement: exp.Expr) -> str:
    """What kind of statement this is (``select``, ``insert``, ...), as reported to clients."""
    node = unwrap(statement)
    if isinstance(node, (*QUERIES, *_STATEMENTS)):
        if isinstance(node, exp.TruncateTable):
            return "truncate"
        return node.key
    return "command"  # e.g. CHECKPOINT, which sqlglot reads as a bare column


def check_shape(source: Source, statement: exp.Expr) -> None:
    """The statement itself must be a read-only query."""
    if isinstance(unwrap(statement), QUERIES):
        return
    raise Refused(
        "not_read_only",
        f"Only read-only queries ({_READ_ONLY_SHAPES}) are allowed; "
        f"{_statement_word(source, statement)} statements are not",
        source.tokens[0].start,
    )


def refuse_into_tokens(source: Source) -> None:
    """SELECT ... INTO, seen in the tokens when the parser gave up (MySQL ``INTO @var``)."""
    if source.tokens[0].token_type not in _QUERY_START_TOKENS:
        return
    into = source.first_start(TokenType.INTO)
    if into is not None:
        raise Refused("select_into", _INTO_MESSAGE, into, query_type="select")


def _refuse_statement(walk: Walk, node: exp.Expr) -> None:
    word = _node_word(node)
    raise Refused(
        "not_read_only",
        f"A {word} statement inside the query is not allowed: only read-only queries may run",
        walk.source.keyword_start(word, node),
    )


def _refuse_non_query_cte(walk: Walk, node: exp.CTE) -> None:
    body = unwrap(node.this)
    if not isinstance(body, QUERIES):
        word = _node_word(body)
        raise Refused(
            "not_read_only",
            f"WITH {node.alias} AS (...) must contain a read-only query; found {word}",
            walk.source.keyword_start(word, body),
        )


def _refuse_into(walk: Walk, node: exp.Into) -> None:
    raise Refused("select_into", _INTO_MESSAGE, walk.source.first_start(TokenType.INTO))


def _refuse_lock(walk: Walk, node: exp.Lock) -> None:
    raise Refused(
        "locking_clause",
        "Locking clauses (FOR UPDATE, FOR SHARE, LOCK IN SHARE MODE) are not allowed: they block "
        "other sessions",
        _lock_start(walk.source),
    )


def _refuse_hint(walk: Walk, node: exp.Hint) -> None:
    raise Refused(
        "executable_comment",
        "Optimizer hints are not allowed: they can change session settings",
        walk.source.first_start(TokenType.HINT),
    )


NODE_CHECKS: tuple[tuple[tuple[type[exp.Expr], ...], NodeCheck], ...] = (
    (_STATEMENTS, _refuse_statement),
    ((exp.CTE,), _refuse_non_query_cte),
    ((exp.Into,), _refuse_into),
    ((exp.Lock,), _refuse_lock),
    ((exp.Hint,), _refuse_hint),
)


def _statement_word(source: Source, statement: exp.Expr) -> str:
    if isinstance(statement, exp.Command):
        return str(statement.this).upper()
    first = source.tokens[0]
    if first.token_type == TokenType.WITH:  # WITH ... INSERT: name the INSERT
        return statement.key.upper()
    return first.text.upper()


def _node_word(node: exp.Expr) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    if isinstance(node, exp.TruncateTable):
        return "TRUNCATE"
    if isinstance(node, exp.Column):
        return node.name.upper()  # an unknown keyword such as CHECKPOINT
    return node.key.upper()


def _lock_start(source: Source) -> int | None:
    tokens = source.tokens
    for index, token in enumerate(tokens[:-1]):
        following = tokens[index + 1].text.upper()
        if token.token_type == TokenType.FOR and following in ("UPDATE", "SHARE", "NO", "KEY"):
            return token.start
        if token.text.upper() == "LOCK" and following == "IN":
            return token.start
    return None
