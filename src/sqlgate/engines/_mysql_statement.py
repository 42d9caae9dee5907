"""The server's own view of a statement, checked before it runs: its first keyword (as MySQL's
lexer reads it, executable comments included) and whether the server prepares it as a statement
that returns rows."""

from __future__ import annotations

import re
import struct
from typing import Any

from pymysql.constants import COMMAND
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError
from sqlglot.tokenizer_core import TokenType

from sqlgate.errors import SqlNotAllowed

_QUERY_WORDS = frozenset({"SELECT", "WITH", "VALUES", "TABLE"})
_WORD = re.compile(r"[A-Za-z_]+")
_BLANK = " \t\r\n\f\v"


def leading_word(sql: str) -> str:
    """The first keyword as the server reads it, past blanks, ``(`` and comments.

    An executable comment (``/*!`` or ``/*M!``) there gives ``/*!``: whether its content runs
    depends on the server version, so the word after it cannot be trusted."""
    i, n = 0, len(sql)
    while i < n:
        if sql[i] in _BLANK or sql[i] == "(":
            i += 1
        elif sql.startswith("/*", i):
            if sql.startswith(("/*!", "/*M!"), i):
                return "/*!"
            end = sql.find("*/", i + 2)
            if end < 0:
                return ""
            i = end + 2
        elif sql[i] == "#" or (sql.startswith("--", i) and (i + 2 == n or sql[i + 2] in _BLANK)):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        else:
            match = _WORD.match(sql, i)
            return match.group(0).upper() if match else sql[i]
    return ""


def refuse_non_query(sql: str) -> None:
    word = leading_word(sql)
    if not word:
        raise SqlNotAllowed("The query is empty: there is no statement to run", reason="empty")
    if word == "/*!":
        raise SqlNotAllowed(
            "A query may not start with an executable comment (/*! ... */)",
            reason="not_read_only",
        )
    if word not in _QUERY_WORDS:
        raise SqlNotAllowed(
            f"Only read-only queries are allowed; the statement starts with {word!r}, "
            "not SELECT, WITH, VALUES or TABLE",
            reason="not_read_only",
            query_type=word.lower() if word.isalpha() else None,
        )


def prepared_columns(conn: Any, sql: str) -> int:
    """How many columns the server says ``sql`` returns, from COM_STMT_PREPARE (parsed and
    resolved, not run). PyMySQL has no server-side statements, so the packets are read here."""
    conn._execute_command(COMMAND.COM_STMT_PREPARE, sql)
    statement_id, columns, params = struct.unpack_from("<xIHH", conn._read_packet().get_all_data())
    for count in (params, columns):
        for _ in range(count + 1 if count else 0):  # definitions, then an EOF packet
            conn._read_packet()
    conn._execute_command(COMMAND.COM_STMT_CLOSE, struct.pack("<I", statement_id))  # no reply
    return int(columns)


def stacked(sql: str) -> bool:
    """Whether ``sql`` clearly holds a ``;`` followed by more SQL (outside strings/comments)."""
    try:
        tokens = Dialect.get_or_raise("mysql").tokenize(sql)
    except SqlglotError:
        return False
    return any(t.token_type == TokenType.SEMICOLON for t in tokens[:-1])


_ROLLUP = re.compile(r"\bROLLUP\b", re.IGNORECASE)


def has_rollup(sql: str) -> bool:
    """``WITH ROLLUP`` adds NULL super-aggregate rows to columns the server still flags NOT NULL."""
    return _ROLLUP.search(sql) is not None
