"""Named parameters for engines whose SQL is sent as text: ``:name`` (and ``%(name)s``) become
literals quoted by the driver's own escaping.

PostgreSQL's COPY takes no bind parameters and MySQL's text protocol has none at all, so these
engines bind on the client, as their drivers' client-side cursors do. Placeholders are found with
sqlglot's tokenizer for the dialect, so a ``:name`` inside a string, a quoted identifier or a
comment is left alone, and ``::`` casts are not placeholders.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from sqlglot.dialects.dialect import Dialect
from sqlglot.tokenizer_core import Token, TokenType

from sqlgate.errors import ParameterError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_QUOTED = frozenset({TokenType.STRING, TokenType.IDENTIFIER})


def _adjacent(left: Token, right: Token) -> bool:
    return right.start == left.end + 1


def placeholders(sql: str, dialect: str) -> list[tuple[int, int, str]]:
    """``(start, end_exclusive, name)`` of every named placeholder, in text order."""
    tokens = Dialect.get_or_raise(dialect).tokenize(sql)
    found = []
    i = 0
    while i < len(tokens) - 1:
        tok, nxt = tokens[i], tokens[i + 1]
        if (
            tok.token_type == TokenType.COLON
            and _adjacent(tok, nxt)
            and nxt.token_type not in _QUOTED
            and _NAME.match(nxt.text)
        ):
            found.append((tok.start, nxt.end + 1, nxt.text))
            i += 2
            continue
        if tok.token_type == TokenType.MOD and i + 4 < len(tokens):
            lp, name, rp, s = tokens[i + 1 : i + 5]
            if (
                lp.token_type == TokenType.L_PAREN
                and rp.token_type == TokenType.R_PAREN
                and s.text == "s"
                and _adjacent(tok, lp)
                and _adjacent(lp, name)
                and _adjacent(name, rp)
                and _adjacent(rp, s)
                and _NAME.match(name.text)
            ):
                found.append((tok.start, s.end + 1, name.text))
                i += 5
                continue
        i += 1
    return found


def bind_named(
    sql: str,
    params: Mapping[str, Any] | None,
    dialect: str,
    literal: Callable[[Any], str],
) -> str:
    """``sql`` with each placeholder replaced by ``literal(value)``.

    Without ``params`` the text is returned as it is (no tokenizing on the hot path). A
    placeholder with no value is a :class:`ParameterError`, never sent to the server."""
    if not params:
        return sql
    parts: list[str] = []
    end = len(sql)
    for start, stop, name in reversed(placeholders(sql, dialect)):
        if name not in params:
            raise ParameterError(f"No value given for parameter {name!r}", field="params")
        parts.append(sql[stop:end])
        parts.append(literal(params[name]))
        end = start
    parts.append(sql[:end])
    return "".join(reversed(parts))
