"""Comparisons with a figure of some rows only: "more staff than the minimum staff of bakeries
opened after 2010", "older than the average age of bakers at bakeries in Leeds".

The conditions after the rows the figure is of ("opened after 2010") are the figure's own, not
the question's. The question is answered in two parts, each an ordinary question: the figure
("minimum staff of bakeries opened after 2010"), which must be one aggregate of one field with no
grouping, order or limit, and the rest ("bakeries with more staff than the minimum staff"), whose
comparison then takes the figure's query as its subquery. Either part declining, or a figure
that is not of the field compared, declines the question: the conditions are never applied to
the wrong rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlglot import exp, parse_one

from sqlgate.nl.rules.answer import RuleAnswer
from sqlgate.nl.rules.explaining import describe_filters
from sqlgate.nl.rules.parts import CannotAnswer, Item, Measure, Plan
from sqlgate.nl.text import Token
from sqlgate.nl.vocabulary import STOPWORDS

#: Words between the figure and the rows it is of: "of all", "among the", "across".
_LEAD = frozenset({"all", "every", "the", "of", "among", "across"})

#: The aggregates a figure may be.
_FIGURES = frozenset({"avg", "sum", "min", "max"})


@dataclass(frozen=True)
class Figure:
    """The figure's measure, its query (semantic SQL) and which rows it is of, as explained."""

    measure: Measure
    query: exp.Select
    scope: str


#: Translates one question, with the figure its comparison takes (or None).
Translate = Callable[[str, Figure | None], tuple[RuleAnswer, Plan | None]]


def figure_scope(items: list[Item], pos: int) -> tuple[int, int, int | None] | None:
    """For the aggregate at ``pos`` right after a comparison: when the rows it is of are named
    after it ("of bakeries", "of all bakeries") and conditions follow them, the token indexes of
    the aggregate, of where the rows are named, and of a sort cue that ends them (or None)."""
    rows = None
    for k in range(pos + 1, min(pos + 6, len(items))):
        item = items[k]
        if item.kind == "entry" and item.chosen is not None and item.chosen.kind == "model":
            rows = k
            break
    if rows is None or items[rows - 1].text.lower() not in _LEAD:
        return None
    end = next(
        (k for k in range(rows + 1, len(items)) if items[k].kind == "kw" and items[k].kw == "sort"),
        None,
    )
    tail = items[rows + 1 : end]
    if not any(
        i.kind not in ("word", "kw") or (i.kind == "word" and i.text.lower() not in STOPWORDS)
        for i in tail
    ):
        return None
    cut = rows
    while cut - 1 > pos and items[cut - 1].kind == "word" and items[cut - 1].text.lower() in _LEAD:
        cut -= 1
    return items[pos].first, items[cut].first, items[end].first if end is not None else None


def answer_scoped(
    question: str,
    tokens: list[Token],
    scope: tuple[int, int, int | None],
    translate: Translate,
    dialect: str,
) -> RuleAnswer:
    """The question answered as its figure and the rest (see the module's docstring)."""
    first, cut, end = scope
    stop = tokens[end].start if end is not None else len(question)
    inner_text = question[tokens[first].start : stop].strip()
    outer_text = (question[: tokens[cut].start] + " " + question[stop:]).strip()
    return answer_in_parts(question, outer_text, inner_text, translate, dialect)


def answer_in_parts(
    question: str, outer_text: str, inner_text: str, translate: Translate, dialect: str
) -> RuleAnswer:
    """``question`` answered as its figure (``inner_text``) and the rest (``outer_text``, whose
    comparison takes the figure's query)."""
    inner, plan = translate(inner_text, None)
    if not inner.is_sql or plan is None:
        why = f"The figure '{inner_text}' could not be answered on its own: {inner.explanation}"
        return replace(inner, question=question, explanation=why)
    measure = _one_figure(plan)
    if measure is None or inner.sql is None:
        why = (
            f"The figure '{inner_text}' is not one aggregate of one field over some rows, so "
            f"nothing could be compared with it. Understood: {inner.explanation}"
        )
        return _declined(inner, question, why)
    query = parse_one(inner.sql, read=dialect)
    assert isinstance(query, exp.Select)
    figure = Figure(measure, query, describe_filters(plan.filters))
    outer, _ = translate(outer_text, figure)
    if not outer.is_sql:
        return replace(outer, question=question)
    return replace(
        outer,
        question=question,
        mappings=outer.mappings + inner.mappings,
        unmatched=outer.unmatched + inner.unmatched,
        coverage=min(outer.coverage, inner.coverage),
    )


def attach_figure(plan: Plan, figure: Figure) -> None:
    """Give the plan's comparison with the figure's aggregate the figure's query; raises
    :class:`CannotAnswer` when no comparison is with that figure of that field."""
    m = figure.measure
    for f in plan.filters:
        if (
            f.kind == "compare"
            and f.overall == m.func
            and f.figure is None
            and str(f.model).lower() == m.model.lower()
            and str(f.name).lower() == str(m.name).lower()
        ):
            f.figure, f.scope = figure.query, figure.scope
            return
    raise CannotAnswer(
        f"The figure ({m.func} of {m.model}.{m.name}) is not what the question compares with."
    )


def _one_figure(plan: Plan) -> Measure | None:
    if len(plan.measures) != 1 or plan.dimensions or plan.order or plan.limit or plan.combined:
        return None
    measure = plan.measures[0]
    if measure.func not in _FIGURES or not measure.name or plan.listing or plan.extra_columns:
        return None
    return measure


def _declined(answer: RuleAnswer, question: str, why: str) -> RuleAnswer:
    return replace(
        answer,
        question=question,
        outcome="non_sql",
        explanation=why,
        sql=None,
        native_sql=None,
        reason="unsupported",
    )
