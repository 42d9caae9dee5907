"""SQL guard: is this text exactly one read-only query? If not, say why, and where.

Two layers keep a query read-only, and neither relies on the other:

* this guard, which parses the SQL with sqlglot in the connection's dialect and refuses anything
  outside a small allow-list, so the client gets a precise 4xx error naming the reason ("Function
  read_csv reads files and is not allowed") and the offset of the offending token;
* the engine's read-only session (READ ONLY transactions, DuckDB ``read_only`` with external
  access disabled and configuration locked, SQLite ``mode=ro`` with an authorizer and
  ``SQLITE_LIMIT_LENGTH``, timeouts, ...), which must hold on its own: a parser can be out of step
  with the server (versions, extensions, user-defined functions, server settings).

What :func:`analyze` checks, in order (the first failure is reported):

1. Size: empty input, more than :data:`MAX_SQL_CHARS` characters, NUL characters.
2. Tokens: sqlglot's tokenizer for the dialect (fail closed on unterminated strings/comments);
   comment-only input is empty.
3. Parse: sqlglot's parser on those tokens (no second tokenisation); any error fails closed.
4. Statements: exactly one; a single trailing ``;`` is fine.
5. Shape: the statement is SELECT, WITH ... SELECT, VALUES or UNION/INTERSECT/EXCEPT (possibly
   parenthesised). Everything else is refused, including every ``exp.Command`` (sqlglot's
   fallback for statements it does not understand) and odd roots such as PostgreSQL
   ``CHECKPOINT`` (parsed as a column) or ``DISCARD ALL`` (parsed as an alias).
6. Lexical: what the parser throws away, scanned on the raw text between tokens: MySQL
   executable comments ``/*! */`` and ``/*M! */`` and optimizer hints ``/*+ */``, nested block
   comments and carriage returns inside ``--`` comments (engines disagree on where those end),
   characters that are not plain letters/digits outside string literals (U+037E, fullwidth
   letters, non-ASCII spaces, format characters), and, for PostgreSQL and MySQL, a backslash
   before a string's closing quote (its meaning depends on server settings).
7. Tree: the whole tree is walked. Refused anywhere: DML/DDL/session statements (data-modifying
   CTEs), ``SELECT ... INTO``, locking clauses, denied functions (by the name as written *and*
   sqlglot's normalised name or node class, so quoting, case, schema qualification and sqlglot's
   renames do not matter), table functions outside a small allow-list, system catalogs, DuckDB
   file/URL replacement scans (``FROM '/x.csv'``, ``FROM x.csv``), DuckDB ``COLUMNS(...)`` and
   ``* LIKE``, whole-row references (``row_to_json(u)``, ``to_json(u.*)``) that bypass column
   allow-lists, and MySQL ``@`` / ``@@`` variables.

The text is never transformed: no Unicode normalisation, no comment stripping. What is analysed
is exactly what the engine will run; a character that could normalise into something else is
refused instead.

Reason codes (:attr:`Analysis.reason`): ``empty``, ``too_long``, ``too_complex`` (nesting too
deep for the parser), ``syntax_error``, ``multiple_statements``, ``not_read_only`` (any statement
or nested statement outside the allow-list, EXPLAIN included), ``select_into``,
``locking_clause``, ``executable_comment``, ``ambiguous_syntax`` (lexer disagreements: nested
comments, CR in ``--`` comments, backslash-quote, ``U&"..."``), ``suspicious_character``,
``denied_function``, ``denied_table`` (catalogs, file/URL table names), ``column_bypass``
(``COLUMNS(...)``, ``* LIKE``, whole rows), ``session_variable`` (MySQL ``@``/``@@``),
``resource_limit`` (SQLite blob sizes).

Decisions:

* EXPLAIN is refused in every form. ``EXPLAIN ANALYZE`` executes the statement, and options can
  hide it (``EXPLAIN (ANALYZE, BUFFERS)``); sqlglot parses EXPLAIN as an opaque Command in most
  dialects, so the inner statement could not be checked anyway.
* SQLite ``randomblob(n)`` / ``zeroblob(n)`` are capped rather than denied: a literal ``n`` up to
  :data:`~sqlgate.sql.denylist.MAX_BLOB_BYTES` is allowed (random ids), anything larger or
  computed is refused (``resource_limit``). They are therefore not in :func:`denied_functions`;
  the engine's ``SQLITE_LIMIT_LENGTH`` is the backstop when the guard is off.
* Executable comments (``/*!``, ``/*M!``) and optimizer hints (``/*+``, which can set session
  variables such as ``max_execution_time`` via ``SET_VAR``, or GUCs via pg_hint_plan) are refused
  in every dialect; in the non-MySQL dialects they are inert, so refusing them costs nothing.
* Unknown tables are not this module's business: :attr:`Analysis.tables` lists the base tables
  (CTE names excluded, scope-aware) for the service's table allow-list, which is what stops e.g.
  a DuckDB Python replacement scan of a DataFrame named like a table.
* Parameters are reported by name without their sigil (``:org`` and ``$org`` both give ``org``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokenizer_core import Token, TokenType

from sqlgate.sql.denylist import (
    BLOB_ALLOCATORS,
    MAX_BLOB_BYTES,
    POLICIES,
    READS_FILES,
    SEQUENCES,
    SERVER_VERSION,
    Policy,
)

__all__ = ["DIALECTS", "MAX_SQL_CHARS", "Analysis", "analyze", "denied_functions"]

DIALECTS = frozenset(POLICIES)
MAX_SQL_CHARS = 100_000  # same default as Settings.max_sql_chars

_READ_ONLY_SHAPES = "SELECT, WITH ... SELECT, VALUES, UNION/INTERSECT/EXCEPT"


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
    check = _Check(sql, dialect, _policy(dialect))
    try:
        return check.run()
    except _Refused as refused:
        line, column = _line_and_column(sql, refused.position)
        return Analysis(
            is_valid=False,
            query_type=check.query_type,
            tables=[],
            columns=[],
            parameters=[],
            error=refused.message,
            reason=refused.reason,
            position=refused.position,
            line=line,
            column=column,
        )


# ---------------------------------------------------------------------------------------------
# Internals

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
_QUERIES: tuple[type[exp.Expr], ...] = (exp.Select, exp.SetOperation, exp.Values)

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
# Predicates that, applied to `*`, select columns by pattern (DuckDB `SELECT * LIKE 'pw%'`).
_STAR_FILTERS: tuple[type[exp.Expr], ...] = (
    exp.Like,
    exp.ILike,
    exp.Glob,
    exp.SimilarTo,
    exp.RegexpLike,
)

# Token types whose text is data (string literals) or a quoted identifier: anything goes inside.
_LITERAL_TOKENS = frozenset(
    {
        TokenType.STRING,
        TokenType.IDENTIFIER,
        TokenType.HEREDOC_STRING,
        TokenType.BYTE_STRING,
        TokenType.NATIONAL_STRING,
        TokenType.NATIONAL_RAW_STRING,
        TokenType.RAW_STRING,
        TokenType.UNICODE_STRING,
        TokenType.HEX_STRING,
        TokenType.BIT_STRING,
    }
)
_QUERY_START_TOKENS = frozenset(
    {TokenType.SELECT, TokenType.WITH, TokenType.L_PAREN, TokenType.FROM, TokenType.TABLE}
)
_ASCII_SPACE = " \t\n\r\f\v"
# DuckDB reads a table reference that ends like a data file as that file (replacement scan).
_FILE_SUFFIXES = frozenset(
    {
        *("csv", "tsv", "tbl", "txt", "dat", "parquet", "json", "jsonl", "ndjson", "xlsx", "xls"),
        *("arrow", "feather", "ipc", "avro", "orc", "db", "duckdb", "sqlite", "sqlite3"),
        *("gz", "zst", "bz2", "xz", "lz4", "zip", "shp", "gpkg", "geojson", "fgb", "kml", "gpx"),
    }
)
_PATH_CHARACTERS = frozenset("/\\:*?~.")

_DIALECT_OBJECTS = {name: Dialect.get_or_raise(name) for name in POLICIES}


def _policy(dialect: str) -> Policy:
    policy = POLICIES.get(dialect)
    if policy is None:
        expected = ", ".join(sorted(POLICIES))
        raise ValueError(f"Unsupported SQL dialect {dialect!r}; expected one of {expected}")
    return policy


class _Refused(Exception):
    def __init__(self, reason: str, message: str, position: int | None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.position = position


class _Check:
    """One analysis: the state shared by the checks of a single SQL text."""

    def __init__(self, sql: str, dialect: str, policy: Policy) -> None:
        self.sql = sql
        self.dialect = dialect
        self.policy = policy
        self.query_type: str | None = None
        self.tokens: list[Token] = []
        self.tables: set[str] = set()
        self.columns: set[str] = set()
        self.parameters: list[str] = []
        # Relation names a bare identifier could use as a whole row, with what defines their
        # columns (a CTE, subquery or VALUES) or None for a base table (columns unknown).
        self.relations: dict[str, exp.Expr | None] = {}
        self.aliases: set[str] = set()  # CTE and table aliases (not function calls)
        self.bare_columns: list[exp.Column] = []

    # -- driver ---------------------------------------------------------------------------------

    def run(self) -> Analysis:
        sql = self.sql
        if not sql.strip():
            raise _Refused("empty", "The SQL is empty", None)
        if len(sql) > MAX_SQL_CHARS:
            raise _Refused(
                "too_long",
                f"The SQL is {len(sql):,} characters long; at most {MAX_SQL_CHARS:,} are allowed",
                MAX_SQL_CHARS,
            )
        nul = sql.find("\x00")
        if nul != -1:
            raise _Refused(
                "suspicious_character",
                "The SQL contains a NUL character, which some drivers treat as the end of the text",
                nul,
            )

        self.tokens = self._tokenize()
        if not self.tokens:
            raise _Refused("empty", "The SQL contains only comments; there is nothing to run", 0)
        statement = self._single_statement(self._parse())
        self._check_shape(statement)
        self._check_lexical()
        self._check_tree(statement)
        self._check_function_tokens()
        return Analysis(
            is_valid=True,
            query_type=self.query_type,
            tables=sorted(self.tables),
            columns=sorted(self.columns),
            parameters=self._ordered_parameters(),
        )

    # -- tokens and parse -----------------------------------------------------------------------

    def _tokenize(self) -> list[Token]:
        tokenizer = _DIALECT_OBJECTS[self.dialect].tokenizer()
        try:
            return tokenizer.tokenize(self.sql)
        except TokenError:
            position = self._first_text_after(tokenizer.tokens)
            raise _Refused(
                "syntax_error",
                "The SQL could not be read: a string, quoted identifier or comment is not closed",
                position,
            ) from None
        except RecursionError:
            raise _Refused("too_complex", "The SQL is nested too deeply to analyse", None) from None

    def _parse(self) -> list[exp.Expr]:
        try:
            parsed = _DIALECT_OBJECTS[self.dialect].parser().parse(self.tokens, self.sql)
        except ParseError as error:
            # A precise reason beats "syntax error" when the parser choked on something we
            # refuse anyway (e.g. MySQL's trailing `INTO @var` / `INTO OUTFILE`).
            self._check_lexical()
            self._check_into_tokens()
            detail = error.errors[0] if error.errors else {}
            position = self._token_start(detail.get("line"), detail.get("col"))
            # "... missing for <class 'sqlglot.expressions.core.Paren'>" -> "... for Paren"
            description = re.sub(
                r"<class '(?:[\w.]+\.)?(\w+)'>",
                r"\1",
                str(detail.get("description") or "invalid syntax"),
            )
            near = detail.get("highlight")
            where = f" near {near!r}" if near else ""
            raise _Refused(
                "syntax_error", f"Syntax error{where}: {description}", position
            ) from None
        except RecursionError:
            raise _Refused("too_complex", "The SQL is nested too deeply to analyse", None) from None
        except Exception:  # sqlglot bug or unexpected input: fail closed
            raise _Refused("syntax_error", "The SQL could not be parsed", None) from None
        return [node for node in parsed if node is not None and not isinstance(node, exp.Semicolon)]

    def _single_statement(self, statements: list[exp.Expr]) -> exp.Expr:
        if not statements:
            raise _Refused("empty", "The SQL contains no statement", 0)
        self.query_type = _query_type(statements[0])
        # Only a single trailing ';' may separate nothing from nothing.
        separators = [t for t in self.tokens if t.token_type == TokenType.SEMICOLON]
        extra = [t for t in separators if t is not self.tokens[-1]]
        if len(statements) > 1:
            raise _Refused(
                "multiple_statements",
                f"Only one statement is allowed; found {len(statements)}",
                extra[0].start if extra else None,
            )
        if extra:
            raise _Refused(
                "multiple_statements",
                "Only one statement is allowed, with at most one trailing ';'; remove the "
                "extra ';'",
                extra[0].start,
            )
        return statements[0]

    def _check_shape(self, statement: exp.Expr) -> None:
        if isinstance(_unwrap(statement), _QUERIES):
            return
        raise _Refused(
            "not_read_only",
            f"Only read-only queries ({_READ_ONLY_SHAPES}) are allowed; "
            f"{self._statement_word(statement)} statements are not",
            self.tokens[0].start,
        )

    def _statement_word(self, statement: exp.Expr) -> str:
        if isinstance(statement, exp.Command):
            return str(statement.this).upper()
        first = self.tokens[0]
        if first.token_type == TokenType.WITH:  # WITH ... INSERT: name the INSERT
            return statement.key.upper()
        return first.text.upper()

    # -- lexical checks on the raw text ---------------------------------------------------------

    def _check_lexical(self) -> None:
        scanned = 0
        for token in self.tokens:
            if token.start < scanned or token.end < token.start:
                # sqlglot gives the body of an opaque Command a synthetic span; such statements
                # are refused by shape, so skipping them here only affects the message.
                continue
            self._check_gap(scanned, token.start)
            self._check_token_text(token)
            scanned = token.end + 1
        self._check_gap(scanned, len(self.sql))
        if self.dialect == "postgres":
            self._check_unicode_identifiers()

    def _check_unicode_identifiers(self) -> None:
        """PostgreSQL reads U&"pg\\005fsleep" as the identifier pg_sleep; sqlglot reads
        `U & "pg\\005fsleep"`, so the name check would never see it."""
        tokens = self.tokens
        for index in range(len(tokens) - 2):
            u, amp, quoted = tokens[index], tokens[index + 1], tokens[index + 2]
            if (
                u.text in ("U", "u")
                and amp.text == "&"
                and amp.start == u.end + 1
                and quoted.start == amp.end + 1
                and quoted.token_type == TokenType.IDENTIFIER
            ):
                raise _Refused(
                    "ambiguous_syntax",
                    'Unicode-escaped identifiers (U&"...") are not allowed: they can spell any '
                    "name; write the name plainly",
                    u.start,
                )

    def _check_gap(self, start: int, end: int) -> None:
        """Between two tokens the tokenizer saw only whitespace and comments; make sure."""
        sql = self.sql
        i = start
        while i < end:
            char = sql[i]
            if char in _ASCII_SPACE:
                i += 1
            elif sql.startswith("--", i) or (char == "#" and self.dialect == "mysql"):
                newline = sql.find("\n", i, end)
                stop = end if newline == -1 else newline
                carriage = sql.find("\r", i, stop)
                if carriage != -1 and carriage != stop - 1:
                    raise _Refused(
                        "ambiguous_syntax",
                        "A carriage return inside a -- comment is not allowed: PostgreSQL ends "
                        "the comment there, other engines do not",
                        carriage,
                    )
                i = stop
            elif sql.startswith("/*", i):
                if sql.startswith(("/*!", "/*M!", "/*m!"), i):
                    raise _Refused(
                        "executable_comment",
                        "Executable comments (/*! ... */) are not allowed: MySQL and MariaDB run "
                        "their content",
                        i,
                    )
                if sql.startswith("/*+", i):
                    raise _Refused(
                        "executable_comment",
                        "Optimizer hint comments (/*+ ... */) are not allowed: they can change "
                        "session settings such as the statement timeout",
                        i,
                    )
                close = sql.find("*/", i + 2, end)
                nested = sql.find("/*", i + 2, end if close == -1 else close)
                if nested != -1:
                    raise _Refused(
                        "ambiguous_syntax",
                        "Nested block comments are not allowed: engines disagree on where they end",
                        nested,
                    )
                if close == -1:
                    raise _Refused("syntax_error", "A block comment is not closed", i)
                i = close + 2
            elif _is_suspicious(char) or not char.isascii():
                raise _Refused("suspicious_character", _character_message(char), i)
            else:
                raise _Refused("ambiguous_syntax", f"Unexpected character {char!r}", i)

    def _check_token_text(self, token: Token) -> None:
        kind = token.token_type
        raw = self.sql[token.start : token.end + 1]
        if kind == TokenType.HINT:
            raise _Refused(
                "executable_comment",
                "Optimizer hint comments (/*+ ... */) are not allowed: they can change session "
                "settings such as the statement timeout",
                token.start,
            )
        if kind in _LITERAL_TOKENS:
            if kind in (TokenType.STRING, TokenType.NATIONAL_STRING) and self.dialect in (
                "postgres",
                "mysql",
            ):
                escaped = _escaped_closing_quote(raw)
                if escaped is not None:
                    raise _Refused(
                        "ambiguous_syntax",
                        "A backslash before a quote inside a string literal is not allowed: "
                        "whether it escapes the quote depends on server settings; "
                        "double the quote instead ('')",
                        token.start + escaped,
                    )
            return
        if raw.isascii() and raw.isprintable():
            return
        for offset, char in enumerate(raw):
            if _is_suspicious(char):
                raise _Refused(
                    "suspicious_character", _character_message(char), token.start + offset
                )

    def _check_into_tokens(self) -> None:
        if self.tokens[0].token_type not in _QUERY_START_TOKENS:
            return
        for token in self.tokens:
            if token.token_type == TokenType.INTO:
                self.query_type = "select"
                raise _Refused("select_into", _INTO_MESSAGE, token.start)

    # -- tree checks ----------------------------------------------------------------------------

    def _check_tree(self, statement: exp.Expr) -> None:
        sqlite = self.dialect == "sqlite"
        for node in statement.walk(bfs=False):
            role = _role(type(node))
            if role is None:
                continue
            if role == "statement":
                word = _node_word(node)
                raise _Refused(
                    "not_read_only",
                    f"A {word} statement inside the query is not allowed: only read-only "
                    "queries may run",
                    self._keyword_position(word, node),
                )
            if role == "function":
                self._check_function(cast(exp.Func, node))
            elif role == "column":
                self._collect_column(cast(exp.Column, node), sqlite)
            elif role == "table":
                self._check_table(cast(exp.Table, node))
            elif role == "star":
                self._check_star(cast(exp.Star, node))
            elif role == "alias":
                self.aliases.add(node.name.lower())
            elif role == "cte":
                self._check_cte(cast(exp.CTE, node))
            elif role == "derived":
                if node.alias:
                    self.relations[node.alias.lower()] = node
            elif role == "placeholder":
                # `:name`, `$name`, `%(name)s`; bare `?` (whose .name is "?") is positional.
                this = node.this
                name = this.name if isinstance(this, exp.Expr) else this
                if isinstance(name, str) and name.isidentifier():
                    self._add_parameter(name)
            elif role == "parameter":
                self._check_parameter(cast(exp.Parameter, node), sqlite)
            elif role == "into":
                raise _Refused("select_into", _INTO_MESSAGE, self._token_position(TokenType.INTO))
            elif role == "lock":
                raise _Refused(
                    "locking_clause",
                    "Locking clauses (FOR UPDATE, FOR SHARE, LOCK IN SHARE MODE) are not "
                    "allowed: they block other sessions",
                    self._lock_position(),
                )
            elif role == "hint":
                raise _Refused(
                    "executable_comment",
                    "Optimizer hints are not allowed: they can change session settings",
                    self._token_position(TokenType.HINT),
                )
            elif role == "session_parameter":
                raise _Refused(
                    "session_variable",
                    f"System variable @@{node.name} discloses or changes server settings and "
                    "is not allowed",
                    self._token_position(TokenType.SESSION_PARAMETER),
                )
        if self.policy.whole_row_references:
            self._check_whole_rows()

    def _check_function(self, node: exp.Func) -> None:
        names = self._function_names(node)
        shown = names[0] if names else node.key
        for name in names:
            why = self._denied_why(name)
            if why:
                raise _Refused(
                    "denied_function",
                    f"Function {shown} {why} and is not allowed",
                    self._position(node),
                )
        for cls, why in _DENIED_FUNCTION_CLASSES:
            if isinstance(node, cls):
                raise _Refused(
                    "denied_function",
                    f"Function {shown} {why} and is not allowed",
                    self._position(node),
                )
        if isinstance(node, exp.Columns):
            raise _Refused(
                "column_bypass",
                "COLUMNS(...) selects columns by pattern, which bypasses column allow-lists, and "
                "is not allowed; name the columns",
                self._position(node),
            )
        if _in_from_position(node) and not (
            isinstance(node, _ALLOWED_TABLE_FUNCTION_CLASSES)
            or (names and names[0] in self.policy.table_functions)
        ):
            allowed = ", ".join(sorted(self.policy.table_functions))
            raise _Refused(
                "denied_function",
                f"Table function {shown} is not allowed in FROM; allowed: {allowed}",
                self._position(node),
            )
        if names and names[0] in BLOB_ALLOCATORS:
            self._check_blob_size(node, names[0])

    def _function_names(self, node: exp.Func) -> list[str]:
        """Lower-case names of a function call: as written first, then sqlglot's names."""
        names: list[str] = []
        start, end = node.meta.get("start"), node.meta.get("end")
        if isinstance(start, int) and isinstance(end, int):
            written = self.sql[start : end + 1]
            if len(written) >= 2 and written[0] in '"`[' and written[-1] in '"`]':
                written = written[1:-1]
            names.append(written.lower())
        if isinstance(node, exp.Anonymous):
            names.append(node.name.lower())
        else:
            names.extend(_sql_names(type(node)))
        return list(dict.fromkeys(name for name in names if name))

    def _denied_why(self, name: str) -> str | None:
        policy = self.policy
        why = policy.functions.get(name)
        if why is None and name not in policy.function_prefix_exceptions:
            for prefix, prefix_why in policy.function_prefixes:
                if name.startswith(prefix):
                    return prefix_why
        return why

    def _check_blob_size(self, node: exp.Func, name: str) -> None:
        arguments = node.expressions if isinstance(node, exp.Anonymous) else [node.this]
        size = arguments[0] if len(arguments) == 1 else None
        if (
            isinstance(size, exp.Literal)
            and not size.is_string
            and str(size.this).isdigit()
            and int(size.this) <= MAX_BLOB_BYTES
        ):
            return
        raise _Refused(
            "resource_limit",
            f"Function {name} allocates as many bytes as its argument; only a literal size up to "
            f"{MAX_BLOB_BYTES:,} is allowed",
            self._position(node),
        )

    def _check_table(self, node: exp.Table) -> None:
        if isinstance(node.this, exp.Func) or node.arg_key == "indexed":
            return  # table function (checked as a function) or SQLite INDEXED BY <index>
        if node.this is None and node.args.get("rows_from"):
            return  # PostgreSQL ROWS FROM (f(...), g(...)): the inner calls are checked
        if not isinstance(node.this, exp.Identifier):
            raise _Refused(
                "denied_table",
                f"Table reference {node.sql(dialect=self.dialect)} is not a plain table name "
                "and is not allowed",
                self._position(node),
            )
        parts = [part.name for part in node.parts]
        name = ".".join(parts)
        cte = self._resolve_cte(node) if len(parts) == 1 else None
        self.relations[node.alias_or_name.lower()] = cte
        if node.alias:
            self.aliases.add(node.alias.lower())
        if cte is not None:
            return
        policy = self.policy
        for qualifier in parts[:-1]:
            if qualifier.lower() in policy.schemas:
                raise _Refused(
                    "denied_table",
                    f"Table {name} {policy.schemas[qualifier.lower()]} and is not allowed",
                    self._position(node),
                )
        last = parts[-1].lower()
        why = policy.tables.get(last) or next(
            (why for prefix, why in policy.table_prefixes if last.startswith(prefix)), None
        )
        if why:
            raise _Refused(
                "denied_table", f"Table {name} {why} and is not allowed", self._position(node)
            )
        if policy.path_like_tables and _looks_like_path(parts):
            raise _Refused(
                "denied_table",
                f"Table reference {name!r} looks like a file path or URL; DuckDB would read it "
                "as a file, which is not allowed",
                self._position(node),
            )
        self.tables.add(name)

    def _resolve_cte(self, table: exp.Table) -> exp.CTE | None:
        """The CTE in scope that this one-part table name refers to, if any.

        Errs towards "base table": a base table reported as a table is merely checked by the
        allow-list, while a base table mistaken for a CTE would escape it.
        """
        key = self._identifier_key(table.this)
        child: exp.Expr = table
        parent = table.parent
        while parent is not None:
            if isinstance(parent, exp.With):
                # Inside a CTE body: only earlier CTEs (and itself, if recursive) are visible,
                # not the later ones nor the owner's main query; outer WITHs still are.
                cte = self._visible_ctes(parent, child).get(key)
                if cte is not None:
                    return cte
                owner = parent.parent
                if owner is None:
                    return None
                child, parent = owner, owner.parent
                continue
            with_ = parent.args.get("with_")
            if isinstance(with_, exp.With):
                cte = self._visible_ctes(with_, None).get(key)
                if cte is not None:
                    return cte
            child, parent = parent, parent.parent
        return None

    def _visible_ctes(self, with_: exp.With, inside: exp.Expr | None) -> dict[str, exp.CTE]:
        """CTEs visible from the main query (inside=None) or from inside one of them."""
        ctes = [cte for cte in with_.expressions if isinstance(cte, exp.CTE)]
        index = next((i for i, cte in enumerate(ctes) if cte is inside), None)
        if index is not None:
            ctes = ctes[: index + 1] if with_.args.get("recursive") else ctes[:index]
        visible: dict[str, exp.CTE] = {}
        for cte in ctes:
            alias = cte.args.get("alias")
            if isinstance(alias, exp.TableAlias) and isinstance(alias.this, exp.Identifier):
                visible.setdefault(self._identifier_key(alias.this), cte)
        return visible

    def _identifier_key(self, identifier: exp.Expr) -> str:
        """How the engine compares this name (PostgreSQL folds unquoted names only)."""
        name = identifier.name
        if self.dialect == "postgres":
            return name if identifier.args.get("quoted") else name.lower()
        if self.dialect == "mysql":
            return name  # case-sensitivity depends on the server: compare exactly
        return name.lower()

    def _check_cte(self, node: exp.CTE) -> None:
        if node.alias:
            self.aliases.add(node.alias.lower())
        body = _unwrap(node.this)
        if not isinstance(body, _QUERIES):
            raise _Refused(
                "not_read_only",
                f"WITH {node.alias} AS (...) must contain a read-only query; found "
                f"{_node_word(body)}",
                self._keyword_position(_node_word(body), body),
            )

    def _collect_column(self, node: exp.Column, sqlite: bool) -> None:
        if isinstance(node.this, exp.Star):
            return
        name = node.name
        if sqlite and name.startswith("$") and not node.this.args.get("quoted"):
            self._add_parameter(name[1:])  # SQLite's $name parameter; sqlglot reads a column
            return
        self.columns.add(name)
        if not node.table:
            self.bare_columns.append(node)

    def _check_star(self, node: exp.Star) -> None:
        if node.args.get("ilike") is not None:
            raise _Refused("column_bypass", _PATTERN_COLUMNS_MESSAGE, self._position(node))
        holder = node.parent
        if isinstance(holder, exp.Column):
            holder = holder.parent
        if isinstance(holder, _STAR_FILTERS):
            raise _Refused("column_bypass", _PATTERN_COLUMNS_MESSAGE, self._position(holder))
        if isinstance(holder, exp.Func) and not isinstance(holder, (exp.Count, exp.Columns)):
            raise _Refused(
                "column_bypass",
                "Passing a whole row (*) to a function bypasses column allow-lists and is not "
                "allowed; name the columns",
                self._position(node),
            )

    def _check_whole_rows(self) -> None:
        for column in self.bare_columns:
            key = column.name.lower()
            if key not in self.relations:
                continue
            source = self.relations[key]
            if source is not None and key in _output_names(source):
                continue  # a column of the CTE or subquery, which wins over the whole row
            raise _Refused(
                "column_bypass",
                f"Whole-row reference {column.name} bypasses column allow-lists and is not "
                f"allowed; name the columns (or qualify a column named {column.name})",
                self._position(column),
            )

    def _check_parameter(self, node: exp.Parameter, sqlite: bool) -> None:
        if self.policy.session_variables:
            raise _Refused(
                "session_variable",
                f"User variable @{node.name} is session state and is not allowed",
                self._token_position(TokenType.PARAMETER),
            )
        if sqlite and isinstance(node.this, exp.Var):
            self._add_parameter(node.name)  # SQLite's @name parameter

    def _add_parameter(self, name: str) -> None:
        if name not in self.parameters:
            self.parameters.append(name)

    def _ordered_parameters(self) -> list[str]:
        """Parameters in order of first appearance in the text (tree order breaks ties)."""
        if len(self.parameters) < 2:
            return list(self.parameters)
        first: dict[str, int] = {}
        tokens = self.tokens
        for index, token in enumerate(tokens):
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if token.text.startswith("$") and token.token_type == TokenType.VAR:
                first.setdefault(token.text[1:], token.start)
            elif following is not None and following.start == token.end + 1:
                if token.token_type in (TokenType.COLON, TokenType.PARAMETER):
                    first.setdefault(following.text, token.start)
                elif token.text == "%" and following.token_type == TokenType.L_PAREN:
                    name = tokens[index + 2].text if index + 2 < len(tokens) else ""
                    first.setdefault(name, token.start)
        order = {name: index for index, name in enumerate(self.parameters)}
        return sorted(
            self.parameters, key=lambda name: (first.get(name, len(self.sql)), order[name])
        )

    def _check_function_tokens(self) -> None:
        """Belt and braces: `name(` in the token stream, whatever node sqlglot built for it."""
        tokens = self.tokens
        for index, token in enumerate(tokens[:-1]):
            if (
                token.token_type in (TokenType.VAR, TokenType.IDENTIFIER)
                and tokens[index + 1].token_type == TokenType.L_PAREN
            ):
                name = token.text.lower()
                why = self._denied_why(name)
                if why and name not in self.aliases:
                    raise _Refused(
                        "denied_function",
                        f"Function {name} {why} and is not allowed",
                        token.start,
                    )

    # -- positions ------------------------------------------------------------------------------

    def _position(self, node: exp.Expr) -> int | None:
        """Offset of the leftmost token sqlglot recorded inside node."""
        starts = [start for n in node.walk() if isinstance(start := n.meta.get("start"), int)]
        return min(starts) if starts else None

    def _keyword_position(self, word: str, node: exp.Expr) -> int | None:
        """Offset of the keyword that opens node (e.g. DELETE), else of node's first token."""
        inner = self._position(node)
        limit = inner if inner is not None else len(self.sql)
        best = None
        for token in self.tokens:
            if token.start > limit:
                break
            if token.text.upper() == word:
                best = token.start
        return best if best is not None else inner

    def _token_position(self, kind: TokenType) -> int | None:
        return next((t.start for t in self.tokens if t.token_type == kind), None)

    def _lock_position(self) -> int | None:
        tokens = self.tokens
        for index, token in enumerate(tokens[:-1]):
            following = tokens[index + 1].text.upper()
            if token.token_type == TokenType.FOR and following in ("UPDATE", "SHARE", "NO", "KEY"):
                return token.start
            if token.text.upper() == "LOCK" and following == "IN":
                return token.start
        return None

    def _token_start(self, line: object, col: object) -> int | None:
        for token in self.tokens:
            if token.line == line and token.col == col:
                return token.start
        return None

    def _first_text_after(self, tokens: list[Token]) -> int | None:
        start = tokens[-1].end + 1 if tokens else 0
        for index in range(start, len(self.sql)):
            if not self.sql[index].isspace():
                return index
        return None


_PATTERN_COLUMNS_MESSAGE = (
    "Selecting columns by pattern (* LIKE ..., * SIMILAR TO ...) bypasses column allow-lists and "
    "is not allowed; name the columns"
)
_INTO_MESSAGE = (
    "SELECT ... INTO is not allowed: it creates a table or writes a file or variable; "
    "remove the INTO clause"
)


# What the tree walk does with each node class, most specific first. Looked up once per class:
# a chain of isinstance calls per node would cost more than parsing.
_ROLES: tuple[tuple[str, tuple[type[exp.Expr], ...]], ...] = (
    ("statement", _STATEMENTS),
    ("function", (exp.Func,)),
    ("column", (exp.Column,)),
    ("table", (exp.Table,)),
    ("star", (exp.Star,)),
    ("alias", (exp.TableAlias,)),
    ("cte", (exp.CTE,)),
    ("derived", (exp.Subquery, exp.Values, exp.Lateral)),
    ("placeholder", (exp.Placeholder,)),
    ("parameter", (exp.Parameter,)),
    ("session_parameter", (exp.SessionParameter,)),
    ("into", (exp.Into,)),
    ("lock", (exp.Lock,)),
    ("hint", (exp.Hint,)),
)


_ROLE_OF_CLASS: dict[type[exp.Expr], str | None] = {}
_SQL_NAMES_OF_CLASS: dict[type[exp.Expr], tuple[str, ...]] = {}


def _role(cls: type[exp.Expr]) -> str | None:
    try:
        return _ROLE_OF_CLASS[cls]
    except KeyError:
        role = next((role for role, classes in _ROLES if issubclass(cls, classes)), None)
        _ROLE_OF_CLASS[cls] = role
        return role


def _sql_names(cls: type[exp.Func]) -> tuple[str, ...]:
    names = _SQL_NAMES_OF_CLASS.get(cls)
    if names is None:
        try:
            names = tuple(name.lower() for name in cls.sql_names())
        except NotImplementedError:
            names = ()
        _SQL_NAMES_OF_CLASS[cls] = names
    return names


def _unwrap(node: exp.Expr) -> exp.Expr:
    while isinstance(node, exp.Subquery) and isinstance(node.this, exp.Expr):
        node = node.this
    return node


def _query_type(statement: exp.Expr) -> str:
    node = _unwrap(statement)
    if isinstance(node, (*_QUERIES, *_STATEMENTS)):
        if isinstance(node, exp.TruncateTable):
            return "truncate"
        return node.key
    return "command"  # e.g. CHECKPOINT, which sqlglot reads as a bare column


def _node_word(node: exp.Expr) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    if isinstance(node, exp.TruncateTable):
        return "TRUNCATE"
    if isinstance(node, exp.Column):
        return node.name.upper()  # an unknown keyword such as CHECKPOINT
    return node.key.upper()


def _output_names(source: exp.Expr) -> set[str]:
    """Lower-case column names a CTE, subquery or VALUES list produces, as far as known."""
    alias = source.args.get("alias")
    if isinstance(alias, exp.TableAlias) and alias.columns:
        return {column.name.lower() for column in alias.columns}
    body = _unwrap(source.this) if isinstance(source.this, exp.Expr) else None
    if isinstance(body, exp.Query):
        return {name.lower() for name in body.named_selects}
    return set()


def _in_from_position(node: exp.Expr) -> bool:
    """Is this function call a table function (FROM f(...), JOIN f(...), LATERAL f(...))?"""
    parent = node.parent
    return node.arg_key == "this" and isinstance(
        parent, (exp.Table, exp.From, exp.Join, exp.Lateral)
    )


def _looks_like_path(parts: Iterable[str]) -> bool:
    parts = list(parts)
    if any(char in _PATH_CHARACTERS for part in parts for char in part):
        return True
    return len(parts) > 1 and parts[-1].lower() in _FILE_SUFFIXES


def _is_suspicious(char: str) -> bool:
    """Outside literals, only ASCII and plain letters/digits that NFKC leaves alone are fine."""
    code = ord(char)
    if code < 128:
        return (code < 32 and char not in _ASCII_SPACE) or code == 127
    return unicodedata.category(char)[0] not in "LMN" or unicodedata.normalize("NFKC", char) != char


def _character_message(char: str) -> str:
    name = unicodedata.name(char, "control character")
    return (
        f"Character U+{ord(char):04X} ({name}) is not allowed outside string literals and "
        "quoted identifiers"
    )


def _escaped_closing_quote(raw: str) -> int | None:
    """Offset of a quote preceded by an odd run of backslashes in a quoted literal, if any."""
    start = raw.find("'")
    quote_index = start if start != -1 else raw.find('"')
    if quote_index == -1:
        return None
    quote = raw[quote_index]
    backslashes = 0
    for offset in range(quote_index + 1, len(raw)):
        char = raw[offset]
        if char == "\\":
            backslashes += 1
            continue
        if char == quote and backslashes % 2 == 1:
            return offset - 1
        backslashes = 0
    return None


def _line_and_column(sql: str, position: int | None) -> tuple[int | None, int | None]:
    """1-based line and column of a 0-based offset; \\n, \\r\\n and a lone \\r end a line."""
    if position is None:
        return None, None
    before = sql[:position]
    line = before.count("\n") + before.count("\r") - before.count("\r\n") + 1
    line_start = max(before.rfind("\n"), before.rfind("\r")) + 1
    return line, position - line_start + 1
