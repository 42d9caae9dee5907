"""Reading the text: sqlglot's tokenizer, then its parser on those tokens, then one statement.

The text is tokenised once, in the connection's dialect, and every later check reads those tokens;
the parser is handed them rather than the text, so nothing is tokenised twice. Both fail closed:
an unterminated string or comment, a parse error, nesting too deep for Python's stack, or an
unexpected exception from sqlglot all refuse the query. When the parser chokes on something the
guard refuses anyway (MySQL's trailing ``INTO @var``, an executable comment), that precise reason
is reported instead of "syntax error". Exactly one statement may remain; a single trailing ``;``
is fine.
"""

from __future__ import annotations

import functools
import re

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokenizer_core import Token, TokenType

from sqlgate.sql._lexical import check_lexical
from sqlgate.sql._shape import refuse_into_tokens
from sqlgate.sql._source import Refused, Source


def tokenize(sql: str, dialect: str) -> list[Token]:
    """sqlglot's tokens of sql; refuses text that does not tokenise or holds only comments."""
    tokenizer = _dialect(dialect).tokenizer()
    try:
        tokens = tokenizer.tokenize(sql)
    except TokenError:
        raise Refused(
            "syntax_error",
            "The SQL could not be read: a string, quoted identifier or comment is not closed",
            _first_text_after(sql, tokenizer.tokens),
        ) from None
    except RecursionError:
        raise _too_complex() from None
    if not tokens:
        raise Refused("empty", "The SQL contains only comments; there is nothing to run", 0)
    return tokens


def parse(source: Source) -> list[exp.Expr]:
    """The statements sqlglot parses from the source's tokens (at least one)."""
    try:
        parsed = _dialect(source.dialect).parser().parse(source.tokens, source.sql)
    except ParseError as error:
        check_lexical(source)
        refuse_into_tokens(source)
        raise _syntax_error(source, error) from None
    except RecursionError:
        raise _too_complex() from None
    except Exception:  # sqlglot bug or unexpected input: fail closed
        raise Refused("syntax_error", "The SQL could not be parsed", None) from None
    statements = [
        node for node in parsed if node is not None and not isinstance(node, exp.Semicolon)
    ]
    if not statements:
        raise Refused("empty", "The SQL contains no statement", 0)
    return statements


def single_statement(source: Source, statements: list[exp.Expr]) -> exp.Expr:
    """The one statement; only a single trailing ';' may separate nothing from nothing."""
    tokens = source.tokens
    extra = [t for t in tokens if t.token_type == TokenType.SEMICOLON and t is not tokens[-1]]
    if len(statements) > 1:
        raise Refused(
            "multiple_statements",
            f"Only one statement is allowed; found {len(statements)}",
            extra[0].start if extra else None,
        )
    if extra:
        raise Refused(
            "multiple_statements",
            "Only one statement is allowed, with at most one trailing ';'; remove the extra ';'",
            extra[0].start,
        )
    return statements[0]


@functools.cache
def _dialect(name: str) -> Dialect:
    return Dialect.get_or_raise(name)


def _syntax_error(source: Source, error: ParseError) -> Refused:
    detail = error.errors[0] if error.errors else {}
    line, col = detail.get("line"), detail.get("col")
    position = next(
        (token.start for token in source.tokens if token.line == line and token.col == col), None
    )
    # "... missing for <class 'sqlglot.expressions.core.Paren'>" -> "... for Paren"
    description = re.sub(
        r"<class '(?:[\w.]+\.)?(\w+)'>", r"\1", str(detail.get("description") or "invalid syntax")
    )
    near = detail.get("highlight")
    where = f" near {near!r}" if near else ""
    return Refused("syntax_error", f"Syntax error{where}: {description}", position)


def _too_complex() -> Refused:
    return Refused("too_complex", "The SQL is nested too deeply to analyse", None)


def _first_text_after(sql: str, tokens: list[Token]) -> int | None:
    """Offset of the first non-space character after the last token read."""
    start = tokens[-1].end + 1 if tokens else 0
    return next((index for index in range(start, len(sql)) if not sql[index].isspace()), None)
