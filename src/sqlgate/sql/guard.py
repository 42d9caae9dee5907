"""SQL guard: is this text exactly one read-only query? If not, say why, and where.

Two layers keep a query read-only, and neither relies on the other:

* this guard, which parses the SQL with sqlglot in the connection's dialect and refuses anything
  outside a small allow-list, so the client gets a precise 4xx error naming the reason ("Function
  read_csv reads files and is not allowed") and the offset of the offending token;
* the engine's read-only session (READ ONLY transactions, DuckDB ``read_only`` with external
  access disabled and configuration locked, SQLite ``mode=ro`` with an authorizer and
  ``SQLITE_LIMIT_LENGTH``, timeouts, ...), which must hold on its own: a parser can be out of step
  with the server (versions, extensions, user-defined functions, server settings).

What :func:`analyze` checks, in order (the first failure is reported); each step's module
explains its decisions:

1. Size (``_lexical``): empty input, more than :data:`MAX_SQL_CHARS` characters, NUL characters.
2. Tokens (``_syntax``): sqlglot's tokenizer for the dialect, once (fail closed on unterminated
   strings/comments); comment-only input is empty.
3. Parse (``_syntax``): sqlglot's parser on those tokens; any error fails closed.
4. Statements (``_syntax``): exactly one; a single trailing ``;`` is fine.
5. Shape (``_shape``): SELECT, WITH ... SELECT, VALUES or UNION/INTERSECT/EXCEPT, possibly
   parenthesised; everything else is refused, every ``exp.Command`` and EXPLAIN included.
6. Lexical (``_lexical``): what the parser throws away, on the raw text: executable comments and
   optimizer hints, nested block comments, CR in ``--`` comments, characters outside literals
   that are not plain letters/digits, backslash-quote in PostgreSQL and MySQL strings.
7. Tree: one walk over the whole tree. Refused anywhere: nested statements (data-modifying CTEs),
   ``SELECT ... INTO``, locking clauses, hints (``_shape``); denied and table functions
   (``_functions``, with the deny-lists in ``_denylist_<engine>``); system catalogs and DuckDB
   file/URL table names (``_tables``); ``COLUMNS(...)``, ``* LIKE``, whole rows and MySQL
   ``@``/``@@`` variables (``_references``). Then whole-row references and, belt and braces,
   every ``name(`` in the tokens.

Policies: the deny-list (:class:`~sqlgate.sql._denylist.Policy`) belongs to the *dialect*, not
to an engine: the functions to refuse are the server's, whichever engine reaches it (a PostgreSQL
URL through the generic SQLAlchemy engine gets PostgreSQL's). So ``_POLICIES`` below is the one
place that pairs a dialect with its deny-list; an engine declares only its dialect
(``Engine.dialect``), callers pass that dialect, and ``sql`` never imports ``engines``. Dialects
without a deny-list of their own get every deny-list at once.

The text is never transformed: no Unicode normalisation, no comment stripping. What is analysed
is exactly what the engine will run. Nothing here logs the SQL text (sqlglot itself logs it at
WARNING when it falls back to ``exp.Command``; the app's logging config decides about that).

Reason codes (:attr:`Analysis.reason`): ``empty``, ``too_long``, ``too_complex`` (nesting too
deep for the parser), ``syntax_error``, ``multiple_statements``, ``not_read_only`` (any statement
or nested statement outside the allow-list, EXPLAIN included), ``select_into``,
``locking_clause``, ``executable_comment``, ``ambiguous_syntax`` (lexer disagreements: nested
comments, CR in ``--`` comments, backslash-quote, ``U&"..."``), ``suspicious_character``,
``denied_function``, ``denied_table`` (catalogs, file/URL table names), ``column_bypass``
(``COLUMNS(...)``, ``* LIKE``, whole rows), ``session_variable`` (MySQL ``@``/``@@``),
``resource_limit`` (SQLite blob sizes; ``repeat``, ``lpad``/``rpad``, ``space`` and scalar
``range`` with a constant size over 1 MiB, 4 KiB and bounded in DuckDB, see ``_sizes``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from sqlgate.errors import SqlgateError, SqlNotAllowed, SqlSyntaxError
from sqlgate.sql import _functions, _references, _shape, _sizes, _tables
from sqlgate.sql._denylist import Policy, strictest
from sqlgate.sql._denylist_duckdb import DUCKDB
from sqlgate.sql._denylist_mysql import MYSQL
from sqlgate.sql._denylist_postgres import POSTGRES
from sqlgate.sql._denylist_sqlite import SQLITE
from sqlgate.sql._lexical import MAX_SQL_CHARS, TEXT_CHECKS, check_lexical
from sqlgate.sql._source import Refused, Source, line_and_column
from sqlgate.sql._syntax import parse, single_statement, tokenize
from sqlgate.sql._walk import NodeChecks, Walk

__all__ = [
    "DIALECTS",
    "MAX_SQL_CHARS",
    "Analysis",
    "analyze",
    "denied_functions",
    "over_limit",
    "refusal",
]

# Dialect -> deny-list: the one place that pairs them (see "Policies" above).
_POLICIES: Mapping[str, Policy] = MappingProxyType(
    {"duckdb": DUCKDB, "sqlite": SQLITE, "postgres": POSTGRES, "mysql": MYSQL}
)
DIALECTS = frozenset(_POLICIES)
# Other sqlglot dialects (sqlalchemy connections): every engine's deny-list at once.
_STRICTEST = strictest(*_POLICIES.values())

# Checks on every node of the tree, in one walk; then checks that need the whole walk.
_NODE_CHECKS = NodeChecks(
    *_shape.NODE_CHECKS,
    *_functions.NODE_CHECKS,
    *_tables.NODE_CHECKS,
    *_references.NODE_CHECKS,
    *_sizes.NODE_CHECKS,
)
_AFTER_WALK: tuple[Callable[[Walk], None], ...] = (
    _references.check_whole_rows,
    _functions.check_function_tokens,
)


@dataclass(frozen=True)
class Analysis:
    """The guard's verdict on one SQL text."""

    is_valid: bool
    query_type: str | None
    tables: list[str]
    columns: list[str]
    parameters: list[str]
    warning: str | None = None
    error: str | None = None
    reason: str | None = None
    position: int | None = None
    line: int | None = None
    column: int | None = None


def denied_functions(dialect: str) -> frozenset[str]:
    """Lower-case names of the functions the guard always refuses in this dialect.

    Exact names only; the guard additionally refuses name prefixes (``pg_*``, ``read_*``,
    ``pragma_*``, ...) and table functions outside its allow-list.
    """
    return frozenset(_policy(dialect).functions)


def analyze(sql: str, dialect: str) -> Analysis:
    """Check that ``sql`` is exactly one read-only query in ``dialect``; never raises for bad SQL.

    Raises ValueError only for an unsupported dialect (a programming error, not a client error).
    """
    return analyze_tree(sql, dialect)[0]


def analyze_tree(sql: str, dialect: str) -> tuple[Analysis, exp.Expr | None]:
    """:func:`analyze`, and the statement it parsed when it accepted ``sql`` (None when it
    refused it). Callers that read the tree further must treat it as read-only."""
    policy = _policy(dialect)
    query_type: str | None = None
    try:
        for check_text in TEXT_CHECKS:
            check_text(sql)
        source = Source(sql, dialect, policy, tokenize(sql, dialect))
        statements = parse(source)
        query_type = _shape.query_type_of(statements[0])
        statement = single_statement(source, statements)
        _shape.check_shape(source, statement)
        check_lexical(source)
        walk = _NODE_CHECKS.walk(source, statement)
        for check in _AFTER_WALK:
            check(walk)
    except Refused as refused:
        return _refused(sql, refused, query_type), None
    analysis = Analysis(
        is_valid=True,
        query_type=query_type,
        tables=sorted(walk.tables),
        columns=sorted(walk.columns),
        parameters=_references.ordered_parameters(walk),
    )
    return analysis, statement


def _refused(sql: str, refused: Refused, query_type: str | None) -> Analysis:
    line, column = line_and_column(sql, refused.position)
    return Analysis(
        is_valid=False,
        query_type=refused.query_type or query_type,
        tables=[],
        columns=[],
        parameters=[],
        error=refused.message,
        reason=refused.reason,
        position=refused.position,
        line=line,
        column=column,
    )


def _policy(dialect: str) -> Policy:
    policy = _POLICIES.get(dialect)
    if policy is not None:
        return policy
    if dialect == "" or dialect in Dialect.classes:
        return _STRICTEST
    raise ValueError(f"Unsupported SQL dialect {dialect!r}")


def over_limit(sql: str, limit: int) -> Analysis | None:
    """The ``too_long`` verdict against the operator's limit (``SQLGATE_MAX_SQL_CHARS``), for
    callers to ask before anything parses the text; ``None`` when ``sql`` is short enough."""
    if len(sql) <= limit:
        return None
    message = (
        f"The SQL is {len(sql):,} characters long; at most {limit:,} are allowed "
        "(SQLGATE_MAX_SQL_CHARS)"
    )
    return Analysis(False, None, [], [], [], error=message, reason="too_long", position=limit)


def refusal(analysis: Analysis) -> SqlgateError:
    """The error a client sees for SQL the guard refused: a syntax error, or SQL not allowed,
    with the reason and where it is."""
    details: dict[str, Any] = {
        "reason": analysis.reason,
        "query_type": analysis.query_type,
        "position": analysis.position,
        "line": analysis.line,
        "column": analysis.column,
    }
    message = analysis.error or "The SQL is not allowed"
    if analysis.reason == "syntax_error":
        return SqlSyntaxError(message, **details)
    return SqlNotAllowed(message, **details)
