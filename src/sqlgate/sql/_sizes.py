"""Constant-size bombs: calls whose result is known from the text to be larger than a cap.

``repeat('x', 2000000000)`` builds a 2 GB string in one value. Some engines cannot stop that
allocation once it has started (DuckDB neither interrupts nor counts it against its memory
limit), so the guard refuses it before it runs: a string function whose length argument is a
constant expression (literals, arithmetic, casts) over :data:`MAX_CONSTANT_BYTES` is refused
with the reason ``resource_limit``. Checked: ``repeat`` (count times the length of a literal
string, or the count alone), ``lpad``/``rpad`` (the target length), ``space`` (the count), and
a scalar ``range``/``generate_series`` (a list value, 8 bytes per element) with constant
bounds. Computed sizes (``repeat(s, n)`` with a column ``n``) run, under the engine's own limits
(docs/security.md, "Resource limits").
"""

from __future__ import annotations

from sqlglot import exp

from sqlgate.sql._source import Refused, node_start
from sqlgate.sql._walk import NodeCheck, Walk

#: The largest value a constant-size call may build (16 MiB).
MAX_CONSTANT_BYTES = 16 * 1024 * 1024
_LIST_ELEMENT_BYTES = 8


def constant_number(node: exp.Expr | None) -> float | None:
    """The value of a constant numeric expression (literals, + - * /, unary minus, casts,
    parentheses), or None when it is not one."""
    if node is None:
        return None
    if isinstance(node, exp.Literal):
        if node.is_string:
            return None
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


def _string_length(node: exp.Expr | None) -> int:
    """Bytes of a literal string argument; 1 when unknown (a column: assume it is not empty)."""
    if isinstance(node, exp.Literal) and node.is_string:
        return len(str(node.this).encode())
    return 1


def _repeat(node: exp.Repeat) -> tuple[str, float | None]:
    times = constant_number(node.args.get("times"))
    return "repeat", None if times is None else times * _string_length(node.this)


def _pad(node: exp.Pad) -> tuple[str, float | None]:
    name = "lpad" if node.args.get("is_left") else "rpad"
    return name, constant_number(node.expression)


def _space(node: exp.Space) -> tuple[str, float | None]:
    return "space", constant_number(node.this)


def _series(node: exp.GenerateSeries) -> tuple[str, float | None]:
    if node.arg_key == "this" and isinstance(node.parent, exp.Table | exp.From | exp.Join):
        return "generate_series", None  # rows in FROM, streamed: the row limit applies
    start = constant_number(node.args.get("start"))
    end = constant_number(node.args.get("end"))
    step = constant_number(node.args.get("step")) or 1.0
    if start is None or end is None:
        return "range", None
    return "range", abs(end - start) / abs(step) * _LIST_ELEMENT_BYTES


def _check_size(walk: Walk, node: exp.Func) -> None:
    if isinstance(node, exp.Repeat):
        name, size = _repeat(node)
    elif isinstance(node, exp.Pad):
        name, size = _pad(node)
    elif isinstance(node, exp.Space):
        name, size = _space(node)
    else:
        name, size = _series(node)
    if size is not None and size > MAX_CONSTANT_BYTES:
        raise Refused(
            "resource_limit",
            f"Function {name} would build a value of about {size:,.0f} bytes; the largest "
            f"value a constant size may ask for is {MAX_CONSTANT_BYTES:,} bytes",
            node_start(node),
        )


NODE_CHECKS: tuple[tuple[tuple[type[exp.Expr], ...], NodeCheck], ...] = (
    ((exp.Repeat, exp.Pad, exp.Space, exp.GenerateSeries), _check_size),
)
