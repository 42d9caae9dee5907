"""Running totals: "the running total of revenue by month", "cumulative orders per year". The
grouped query of one figure per period is built as usual, then each period also gets the sum of
the figures up to it, a window over the periods in time order:

    SELECT periods.month, periods.revenue,
           SUM(periods.revenue) OVER (ORDER BY periods.month) AS running_revenue
    FROM (<revenue per month>) AS periods ORDER BY periods.month

Only for one summed or counted figure per time period (a grain or a number column of years)."""

from __future__ import annotations

from sqlglot import exp

from sqlgate.nl.rules.parts import CannotAnswer, Item, Plan

_RUNNING = frozenset({"running", "cumulative", "cumulated", "accumulated"})


def running_words(items: list[Item]) -> None:
    """Mark "running" / "cumulative" as the running-total cue (read by :func:`running_total`)."""
    for item in items:
        if item.kind == "word" and item.text.lower() in _RUNNING:
            item.kind, item.role, item.arg = "unit", "measure", "running"


def asks_running(items: list[Item]) -> bool:
    return any(i.kind == "unit" and i.arg == "running" for i in items)


def running_total(plan: Plan, tree: exp.Expr) -> exp.Expr:
    """``tree`` (one figure per period) with the running sum of the figure added; raises
    :class:`CannotAnswer` for any other shape."""
    periods = [
        d
        for d in plan.dimensions
        if d.kind == "grain" or (d.kind == "field" and "year" in str(d.name).lower())
    ]
    summed = len(plan.measures) == 1 and plan.measures[0].func in ("sum", "count", "metric")
    if (
        not isinstance(tree, exp.Select)
        or len(periods) != 1
        or len(plan.dimensions) != 1
        or not summed
        or plan.limit is not None
        or len(tree.expressions) != 2
    ):
        raise CannotAnswer(
            "A running total needs one summed or counted figure per time period "
            '("the running total of revenue by month").'
        )
    period, figure = (e.alias_or_name for e in tree.expressions)
    inner = tree.copy()
    inner.set("order", None)

    def col(name: str) -> exp.Column:
        return exp.Column(
            this=exp.to_identifier(name, quoted=True), table=exp.to_identifier("periods")
        )

    window = exp.Window(
        this=exp.Sum(this=col(figure)),
        order=exp.Order(expressions=[exp.Ordered(this=col(period))]),
    )
    return (
        exp.select(
            col(period),
            col(figure),
            exp.alias_(window, exp.to_identifier(f"running_{figure}", quoted=True)),
        )
        .from_(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("periods"))))
        .order_by(col(period))
    )
