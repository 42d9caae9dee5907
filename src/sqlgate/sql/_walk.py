"""The one walk over the parsed statement, and what its node checks find on the way.

Each check module declares which node classes it looks at (``NODE_CHECKS``, pairs of classes and
a check); :class:`NodeChecks` combines them and walks the tree once, depth first in text order, so
the first refusal is the leftmost one whatever module it comes from. Which checks apply to a class
is worked out once per class and cached: a chain of ``isinstance`` calls per node would cost more
than parsing. Checks either refuse (raise) or record what the query references in :class:`Walk`,
which the checks that need the whole tree (whole rows, function tokens) read afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from sqlgate.sql._source import Source

# A check receives only nodes of the classes it is registered for, hence Any.
NodeCheck = Callable[["Walk", Any], None]


@dataclass
class Walk:
    """What the walk of one statement has found so far."""

    source: Source
    tables: set[str] = field(default_factory=set)
    """Base tables, dot-joined as written (CTE names excluded)."""
    columns: set[str] = field(default_factory=set)
    """Column names as written, without their qualifier."""
    parameters: list[str] = field(default_factory=list)
    """Named parameters without their sigil, in tree order."""
    relations: dict[str, exp.Expr | None] = field(default_factory=dict)
    """Lower-case relation names a bare identifier could use as a whole row, with what defines
    their columns (a CTE, subquery or VALUES), or None for a base table (columns unknown)."""
    aliases: set[str] = field(default_factory=set)
    """Lower-case CTE and table aliases: `name(` after one of them is not a function call."""
    bare_columns: list[exp.Column] = field(default_factory=list)
    """Unqualified column references, which may be whole rows."""

    def add_parameter(self, name: str) -> None:
        if name not in self.parameters:
            self.parameters.append(name)


class NodeChecks:
    """Node checks by class, each run on every node of its classes during one walk."""

    def __init__(self, *checks: tuple[tuple[type[exp.Expr], ...], NodeCheck]) -> None:
        self._checks = checks
        self._by_class: dict[type[exp.Expr], tuple[NodeCheck, ...]] = {}

    def walk(self, source: Source, statement: exp.Expr) -> Walk:
        """Run the checks on every node of statement, in text order; what they found."""
        found = Walk(source)
        by_class = self._by_class
        for node in statement.walk(bfs=False):
            checks = by_class.get(type(node))
            if checks is None:
                checks = self._for_class(type(node))
            for check in checks:
                check(found, node)
        return found

    def _for_class(self, cls: type[exp.Expr]) -> tuple[NodeCheck, ...]:
        checks = tuple(check for classes, check in self._checks if issubclass(cls, classes))
        self._by_class[cls] = checks
        return checks
