"""Running totals and period-over-period changes: "the running total of revenue by month",
"cumulative orders per year", "month over month change in revenue". The
grouped query of one figure per period is built as usual, then each period also gets the sum of
the figures up to it, a window over the periods in time order:

    SELECT periods.month, periods.revenue,
           SUM(periods.revenue) OVER (ORDER BY periods.month) AS running_revenue
    FROM (<revenue per month>) AS periods ORDER BY periods.month

A change ("month over month change", "the change in revenue by month") is the figure minus the
previous period's (``revenue - LAG(revenue) OVER (ORDER BY month)``; empty for the first period).
Only for one summed or counted figure per time period (a grain or a number column of years)."""

from __future__ import annotations

from sqlglot import exp

from sqlgate.nl.rules.parts import CannotAnswer, Item, Plan

_RUNNING = frozenset({"running", "cumulative", "cumulated", "accumulated"})
_CHANGE = frozenset({"change", "changes", "growth", "difference"})
_GRAINS = frozenset({"day", "week", "month", "quarter", "year"})


def running_words(items: list[Item]) -> None:
    """Mark "running" / "cumulative" as the running-total cue and "change" / "growth" beside
    a period as the change cue (read by :func:`period_figures`); "month over month" becomes
    the grain "by month"."""
    k = 0
    while k + 2 < len(items):
        a, over, b = items[k : k + 3]
        same = a.kind == b.kind == "word" and a.text.lower() == b.text.lower()
        if same and a.text.lower() in _GRAINS and over.text.lower() == "over":
            text = f"{a.text} over {b.text}"
            items[k : k + 3] = [Item("grain", a.first, b.last, text, arg=a.text.lower())]
        k += 1
    periods = any(i.kind == "grain" for i in items)
    for item in items:
        if item.kind == "word" and item.text.lower() in _RUNNING:
            item.kind, item.role, item.arg = "unit", "measure", "running"
        elif item.kind == "word" and item.text.lower() in _CHANGE and periods:
            item.kind, item.role, item.arg = "unit", "measure", "change"


def asks_running(items: list[Item]) -> str | None:
    """ "running" or "change" when the question asks for one, else None."""
    cues = {i.arg for i in items if i.kind == "unit" and i.arg in ("running", "change")}
    return cues.pop() if len(cues) == 1 else ("both" if cues else None)


def running_total(plan: Plan, tree: exp.Expr, cue: str = "running") -> exp.Expr:
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

    ordered = exp.Order(expressions=[exp.Ordered(this=col(period))])
    if cue == "change":
        previous = exp.Window(
            this=exp.Anonymous(this="LAG", expressions=[col(figure)]), order=ordered
        )
        added = exp.alias_(
            exp.Sub(this=col(figure), expression=previous), _quoted(f"change_{figure}")
        )
    else:
        window = exp.Window(this=exp.Sum(this=col(figure)), order=ordered)
        added = exp.alias_(window, _quoted(f"running_{figure}"))
    return (
        exp.select(col(period), col(figure), added)
        .from_(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("periods"))))
        .order_by(col(period))
    )


def _quoted(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)
