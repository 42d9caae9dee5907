"""Checks of the raw text: size, characters, and what the parser throws away.

The parser never sees comments, whitespace or how a literal was spelt, yet engines act on them:
MySQL runs executable comments ``/*! */`` and ``/*M! */``, optimizer hints ``/*+ */`` can set
session variables (``SET_VAR``, pg_hint_plan), and engines disagree on where a nested block comment
or a ``--`` comment with a carriage return ends, and on whether a backslash escapes a quote
(PostgreSQL and MySQL server settings). So the text between tokens and the text of each token are
scanned here, and anything ambiguous is refused in every dialect (where such comments are inert,
refusing them costs nothing). The text is never transformed: a character that could normalise
into something else (U+037E, fullwidth letters, non-ASCII spaces, format characters) is refused
outside string literals and quoted identifiers instead.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from sqlglot.tokenizer_core import Token, TokenType

from sqlgate.sql._source import Refused, Source

MAX_SQL_CHARS = 100_000  # same default as Settings.max_sql_chars

ASCII_SPACE = " \t\n\r\f\v"
OPTIMIZER_HINT_MESSAGE = (
    "Optimizer hint comments (/*+ ... */) are not allowed: they can change session settings such "
    "as the statement timeout"
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
_BACKSLASH_ESCAPES = frozenset({"postgres", "mysql"})


def refuse_empty(sql: str) -> None:
    if not sql.strip():
        raise Refused("empty", "The SQL is empty", None)


def refuse_too_long(sql: str) -> None:
    if len(sql) > MAX_SQL_CHARS:
        raise Refused(
            "too_long",
            f"The SQL is {len(sql):,} characters long; at most {MAX_SQL_CHARS:,} are allowed",
            MAX_SQL_CHARS,
        )


def refuse_nul(sql: str) -> None:
    nul = sql.find("\x00")
    if nul != -1:
        raise Refused(
            "suspicious_character",
            "The SQL contains a NUL character, which some drivers treat as the end of the text",
            nul,
        )


# Checks of the text alone, before it is tokenised, in order.
TEXT_CHECKS: tuple[Callable[[str], None], ...] = (refuse_empty, refuse_too_long, refuse_nul)


def check_lexical(source: Source) -> None:
    """Scan the text between and inside the tokens, in text order."""
    scanned = 0
    for token in source.tokens:
        if token.start < scanned or token.end < token.start:
            # sqlglot gives the body of an opaque Command a synthetic span; such statements
            # are refused by shape, so skipping them here only affects the message.
            continue
        _check_gap(source, scanned, token.start)
        _check_token_text(source, token)
        scanned = token.end + 1
    _check_gap(source, scanned, len(source.sql))
    if source.dialect == "postgres":
        _check_unicode_identifiers(source)


def _check_gap(source: Source, start: int, end: int) -> None:
    """Between two tokens the tokenizer saw only whitespace and comments; make sure."""
    sql = source.sql
    i = start
    while i < end:
        char = sql[i]
        if char in ASCII_SPACE:
            i += 1
        elif sql.startswith("--", i) or (char == "#" and source.dialect == "mysql"):
            newline = sql.find("\n", i, end)
            stop = end if newline == -1 else newline
            carriage = sql.find("\r", i, stop)
            if carriage != -1 and carriage != stop - 1:
                raise Refused(
                    "ambiguous_syntax",
                    "A carriage return inside a -- comment is not allowed: PostgreSQL ends "
                    "the comment there, other engines do not",
                    carriage,
                )
            i = stop
        elif sql.startswith("/*", i):
            i = _block_comment_end(sql, i, end)
        elif _is_suspicious(char) or not char.isascii():
            raise Refused("suspicious_character", _character_message(char), i)
        else:
            raise Refused("ambiguous_syntax", f"Unexpected character {char!r}", i)


def _block_comment_end(sql: str, start: int, end: int) -> int:
    """Offset just past the block comment at start, if it is an inert, unnested comment."""
    if sql.startswith(("/*!", "/*M!", "/*m!"), start):
        raise Refused(
            "executable_comment",
            "Executable comments (/*! ... */) are not allowed: MySQL and MariaDB run their content",
            start,
        )
    if sql.startswith("/*+", start):
        raise Refused("executable_comment", OPTIMIZER_HINT_MESSAGE, start)
    close = sql.find("*/", start + 2, end)
    nested = sql.find("/*", start + 2, end if close == -1 else close)
    if nested != -1:
        raise Refused(
            "ambiguous_syntax",
            "Nested block comments are not allowed: engines disagree on where they end",
            nested,
        )
    if close == -1:
        raise Refused("syntax_error", "A block comment is not closed", start)
    return close + 2


def _check_token_text(source: Source, token: Token) -> None:
    kind = token.token_type
    raw = source.sql[token.start : token.end + 1]
    if kind == TokenType.HINT:
        raise Refused("executable_comment", OPTIMIZER_HINT_MESSAGE, token.start)
    if kind in _LITERAL_TOKENS:
        if (
            kind in (TokenType.STRING, TokenType.NATIONAL_STRING)
            and source.dialect in _BACKSLASH_ESCAPES
        ):
            escaped = _escaped_closing_quote(raw)
            if escaped is not None:
                raise Refused(
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
            raise Refused("suspicious_character", _character_message(char), token.start + offset)


def _check_unicode_identifiers(source: Source) -> None:
    """PostgreSQL reads U&"pg\\005fsleep" as the identifier pg_sleep; sqlglot reads
    `U & "pg\\005fsleep"`, so the name check would never see it."""
    tokens = source.tokens
    for index in range(len(tokens) - 2):
        u, amp, quoted = tokens[index], tokens[index + 1], tokens[index + 2]
        if (
            u.text in ("U", "u")
            and amp.text == "&"
            and amp.start == u.end + 1
            and quoted.start == amp.end + 1
            and quoted.token_type == TokenType.IDENTIFIER
        ):
            raise Refused(
                "ambiguous_syntax",
                'Unicode-escaped identifiers (U&"...") are not allowed: they can spell any '
                "name; write the name plainly",
                u.start,
            )


def _is_suspicious(char: str) -> bool:
    """Outside literals, only ASCII and plain letters/digits that NFKC leaves alone are fine."""
    code = ord(char)
    if code < 128:
        return (code < 32 and char not in ASCII_SPACE) or code == 127
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
