"""Size bombs: calls that build one huge value, refused when their size passes a cap.

``repeat('x', 2000000000)`` builds a 2 GB string in one value. The servers contain such a
call (PostgreSQL stops at 1 GB and is interrupted, MySQL answers NULL past
``max_allowed_packet``, SQLite stops at ``SQLITE_LIMIT_LENGTH``); DuckDB does not: a function
that builds one value neither checks for an interrupt nor counts against ``memory_limit``, so
the query outruns its deadline and the process's memory. So:

* in every dialect, ``repeat`` (count times the length of a literal string, or the count
  alone), ``lpad``/``rpad`` (the target length), ``space`` (the count) and a scalar
  ``range``/``generate_series`` (a list, 8 bytes an element) whose size is a constant
  expression (literals, arithmetic, casts) over :data:`MAX_CONSTANT_BYTES` are refused;
* in DuckDB the cap is :data:`MAX_DUCKDB_BYTES` (the value is built for every row of a
  2,048-row vector, outside the memory limit), and the size must also be *known*: a number, or
  ``least(<expression>, N)`` with a constant ``N`` up to the cap; a size computed from columns
  or subqueries is refused. So is a ``printf``/``format`` whose format string is not a literal,
  or asks for a width or precision over the cap (or one given as an argument, ``%*d``,
  ``{:>{}}``).

Refused with the reason ``resource_limit``, naming the function and the cap.
"""

from __future__ import annotations

import re

from sqlglot import exp

from sqlgate.sql._source import Refused, node_start
from sqlgate.sql._walk import NodeCheck, Walk

#: The largest value a size the guard can read may ask for (1 MiB).
MAX_CONSTANT_BYTES = 1024 * 1024
#: In DuckDB, which builds 2,048 rows at a time without counting such values against its
#: memory limit and hands up to 65,536 rows over at once: 4 KiB (a batch stays under 256 MiB).
MAX_DUCKDB_BYTES = 4 * 1024
_LIST_ELEMENT_BYTES = 8
#: Dialects whose engine can neither interrupt nor cap one value as it is built.
_UNCONTAINED = frozenset({"duckdb"})
_PRINTF_SPEC = re.compile(r"%[-+ #0']*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_SPEC = re.compile(r"\{[^{}]*(\{)?[^{}]*\}")
_DIGITS = re.compile(r"\d+")


def constant_number(node: exp.Expr | None) -> float | None:
    """The value of a constant numeric expression (literals, + - * /, unary minus, casts,
    parentheses), or None when it is not one."""
    if node is None:
        return None
    if isinstance(node, exp.Literal):
        try:
            return float(str(node.this))
        except ValueError:
            return None
    if isinstance(node, exp.Paren | exp.Cast | exp.TryCast):
        return constant_number(node.this)
    if isinstance(node, exp.Neg):
        value = constant_number(node.this)
        return None if value is None else -value
    if isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Div):
        left, right = constant_number(node.this), constant_number(node.expression)
        if left is None or right is None:
            return None
        if isinstance(node, exp.Add):
            return left + right
        if isinstance(node, exp.Sub):
            return left - right
        if isinstance(node, exp.Mul):
            return left * right
        return left / right if right else None
    return None


def upper_bound(node: exp.Expr | None) -> float | None:
    """A number ``node`` cannot exceed: its value when constant, the smallest constant of a
    ``least(...)``; None when unknown."""
    value = constant_number(node)
    if value is not None:
        return value
    if isinstance(node, exp.Paren | exp.Cast | exp.TryCast):
        return upper_bound(node.this)
    if isinstance(node, exp.Least):
        bounds = [upper_bound(arg) for arg in (node.this, *node.expressions)]
        known = [b for b in bounds if b is not None]
        return min(known) if known else None
    return None


def _string_length(node: exp.Expr | None) -> int:
    """Bytes of a literal string argument; 1 when unknown (a column: assume it is not empty)."""
    if isinstance(node, exp.Literal) and node.is_string:
        return len(str(node.this).encode())
    return 1


def _size(node: exp.Func) -> tuple[str, float | None, bool]:
    """The function's name, the size of what it builds (None when unknown) and whether it
    builds one value at all (a ``generate_series`` in FROM makes rows)."""
    if isinstance(node, exp.Repeat):
        times = upper_bound(node.args.get("times"))
        return "repeat", None if times is None else times * _string_length(node.this), True
    if isinstance(node, exp.Pad):
        return ("lpad" if node.args.get("is_left") else "rpad"), upper_bound(node.expression), True
    if isinstance(node, exp.Space):
        return "space", upper_bound(node.this), True
    assert isinstance(node, exp.GenerateSeries)
    if node.arg_key == "this" and isinstance(node.parent, exp.Table | exp.From | exp.Join):
        return "generate_series", None, False  # rows in FROM, streamed: the row limit applies
    start = constant_number(node.args.get("start"))
    end = upper_bound(node.args.get("end"))
    step = constant_number(node.args.get("step")) or 1.0
    if start is None or end is None:
        return "range", None, True
    return "range", abs(end - start) / abs(step) * _LIST_ELEMENT_BYTES, True


def _cap(walk: Walk) -> int:
    return MAX_DUCKDB_BYTES if walk.source.dialect in _UNCONTAINED else MAX_CONSTANT_BYTES


def _check_size(walk: Walk, node: exp.Func) -> None:
    name, size, one_value = _size(node)
    if not one_value:
        return
    cap = _cap(walk)
    if size is None and walk.source.dialect in _UNCONTAINED:
        raise Refused(
            "resource_limit",
            f"Function {name} needs a size the guard can bound: DuckDB can neither interrupt "
            f"nor cap the building of one value. Write a number, or least(<expression>, N) "
            f"with N up to {cap:,}",
            node_start(node),
        )
    if size is not None and size > cap:
        raise Refused(
            "resource_limit",
            f"Function {name} would build a value of about {size:,.0f} bytes; the largest "
            f"value a size may ask for is {cap:,} bytes",
            node_start(node),
        )


def _check_format(walk: Walk, node: exp.Func) -> None:
    """DuckDB's printf/format: a literal format string without huge or computed widths."""
    if walk.source.dialect not in _UNCONTAINED:
        return
    if isinstance(node, exp.Anonymous):
        name = str(node.this).lower()
        if name not in ("printf", "sprintf", "format"):
            return
        template = node.expressions[0] if node.expressions else None
    else:
        name, template = "format", node.this
    if not (isinstance(template, exp.Literal) and template.is_string):
        raise _format_refused(name, "needs a literal format string", node)
    text = str(template.this)
    pattern = _PRINTF_SPEC if name != "format" else _FORMAT_SPEC
    for spec in pattern.finditer(text):
        if "*" in spec.group(0) or (name == "format" and spec.group(1)):
            raise _format_refused(name, "takes no width or precision from its arguments", node)
        widths = [int(d) for d in _DIGITS.findall(spec.group(0))]
        if widths and max(widths) > MAX_DUCKDB_BYTES:
            raise _format_refused(name, f"allows widths up to {MAX_DUCKDB_BYTES:,}", node)


def _format_refused(name: str, why: str, node: exp.Expr) -> Refused:
    return Refused(
        "resource_limit",
        f"Function {name} {why} in DuckDB (it builds one value that DuckDB can neither "
        "interrupt nor cap)",
        node_start(node),
    )


NODE_CHECKS: tuple[tuple[tuple[type[exp.Expr], ...], NodeCheck], ...] = (
    ((exp.Repeat, exp.Pad, exp.Space, exp.GenerateSeries), _check_size),
    ((exp.Format, exp.Anonymous), _check_format),
)
