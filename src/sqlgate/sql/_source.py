"""The SQL text under analysis, its tokens, and how a check refuses it at a position.

Every check of the guard reads one :class:`Source` (the text exactly as the engine will run it,
the dialect, its deny-list policy and sqlglot's tokens of the text, made once) and reports a
failure by raising :class:`Refused` with a reason code, a message and the 0-based offset of the
offending token, which :func:`line_and_column` turns into what an editor shows. The offsets come
from the tokens or from the ``start`` sqlglot records on each node, never from re-reading the text.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp
from sqlglot.tokenizer_core import Token, TokenType

from sqlgate.sql._denylist import Policy


class Refused(Exception):
    """The SQL is not a single read-only query: why (a reason code and a message), and where."""

    def __init__(
        self,
        reason: str,
        message: str,
        position: int | None,
        *,
        query_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.position = position
        self.query_type = query_type
        """The statement kind, when the refusal knows it better than the parse did."""


@dataclass(frozen=True)
class Source:
    """One SQL text in one dialect, with the tokens every check shares."""

    sql: str
    dialect: str
    policy: Policy
    tokens: list[Token]

    def keyword_start(self, word: str, node: exp.Expr) -> int | None:
        """Offset of the keyword that opens node (e.g. DELETE), else of node's first token."""
        inner = node_start(node)
        limit = inner if inner is not None else len(self.sql)
        best = None
        for token in self.tokens:
            if token.start > limit:
                break
            if token.text.upper() == word:
                best = token.start
        return best if best is not None else inner

    def first_start(self, kind: TokenType) -> int | None:
        """Offset of the first token of this kind."""
        return next((t.start for t in self.tokens if t.token_type == kind), None)


def node_start(node: exp.Expr) -> int | None:
    """Offset of the leftmost token sqlglot recorded inside node."""
    starts = [start for n in node.walk() if isinstance(start := n.meta.get("start"), int)]
    return min(starts) if starts else None


def line_and_column(sql: str, position: int | None) -> tuple[int | None, int | None]:
    """1-based line and column of a 0-based offset; \\n, \\r\\n and a lone \\r end a line."""
    if position is None:
        return None, None
    before = sql[:position]
    line = before.count("\n") + before.count("\r") - before.count("\r\n") + 1
    line_start = max(before.rfind("\n"), before.rfind("\r")) + 1
    return line, position - line_start + 1
