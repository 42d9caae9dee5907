"""Figures derived from another answer: running totals, the change from the previous period,
shares of a total and averages of per-group counts.

Each is asked as an ordinary question with the words that name the derivation taken out ("the
running total of revenue by month" is "revenue by month"), and that answer is wrapped in one
more ``SELECT``: a window over its rows, or a ratio of two counts. The inner answer must have
the shape the derivation needs (one measure over a time grain, one measure per group, a count
with a condition); any other shape declines and says why, so a derivation is never applied to
rows it does not fit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlglot import exp, parse_one

from sqlgate.nl.rules.answer import RuleAnswer, WordMapping
from sqlgate.nl.rules.parts import CannotAnswer, Plan

GRAINS = ("day", "week", "month", "quarter", "year")
_GRAIN = "|".join(GRAINS)

_RUNNING = re.compile(
    r"\b(?:the\s+)?(?:running\s+(?:total|sum)|cumulative(?:\s+(?:total|sum))?|cumulated)"
    r"(?:\s+of)?\b",
    re.IGNORECASE,
)
_OVER = re.compile(rf"\b({_GRAIN})[- ]+over[- ]+(?:the[- ]+)?({_GRAIN})\b", re.IGNORECASE)
_PREVIOUS = re.compile(
    rf"\b(?:from|compared\s+(?:to|with)|versus|vs\.?|over)\s+the\s+"
    rf"(?:previous|prior|preceding|last)\s+({_GRAIN})\b",
    re.IGNORECASE,
)
_CHANGE_WORDS = re.compile(
    r"^\s*how\s+(?:did|does|has|have)\b|\b(?:change|difference)\s+(?:in|of)\b|\bchanged?\b",
    re.IGNORECASE,
)
_CHANGE_IN = re.compile(r"\b(?:the\s+)?(?:changes?|growth|difference)\s+(?:in|of)\b", re.IGNORECASE)
_SHARE = re.compile(
    r"^\s*(?:(?:what|which)\s+)?(?:(?:is|was|are|were)\s+)?(?:the\s+)?"
    r"(percentage|percent|share|proportion)\s+of\s+(?P<rest>.+)$",
    re.IGNORECASE,
)
_GROUPED = re.compile(r"\b(?:each|per|every|by)\b", re.IGNORECASE)
_SHARE_VERBS = re.compile(
    r"\b(?:does|do|did|comes?|came|brings?|brought|accounts?\s+for|accounted\s+for|"
    r"makes?\s+up|made\s+up|goes|go|went|from|are|is|were|was)\b",
    re.IGNORECASE,
)
_CONDITION_VERB = re.compile(r"\b(?:are|were|is|was|have|has|had)\b", re.IGNORECASE)
_FIGURE_VERB = re.compile(r"\b(?:comes?|came|goes|went)\b", re.IGNORECASE)
_PER_GROUP = re.compile(
    r"^\s*(?:(?:what|which)\s+(?:is|was)\s+)?(?:the\s+)?(?:average|mean)\s+(?:number|count)\s+"
    r"of\s+(?P<rows>.+?)\s+(?:per|for\s+each|for\s+every|in\s+each|of\s+each|each)\s+"
    r"(?P<group>.+?)\s*[?.!]*\s*$",
    re.IGNORECASE,
)
_GRAIN_SAID = re.compile(
    rf"\b(?:by|per|each|every)\s+({_GRAIN})\b|\b(daily|weekly|monthly|quarterly|yearly|annual)\b",
    re.IGNORECASE,
)
_ADVERB_GRAIN = {
    "daily": "day",
    "weekly": "week",
    "monthly": "month",
    "quarterly": "quarter",
    "yearly": "year",
    "annual": "year",
}


@dataclass(frozen=True)
class Derivation:
    """A derived figure the question asks for, and the question to derive it from."""

    kind: str  # running, change, share, share_of_rows, per_group
    inner: str  # the question whose answer the figure is derived from
    cue: str  # the words that name the derivation, as said
    base: str | None = None  # share_of_rows, per_group: the question that counts the whole
    otherwise: Derivation | None = None  # another reading, tried when this one declines


def find_derivation(question: str, known: frozenset[str]) -> Derivation | None:
    """The derivation ``question`` asks for, if any. A cue word that names something of the
    model (a column called "share") is read as that instead."""
    if _PER_GROUP.match(question):
        return _per_group(question)
    running = _RUNNING.search(question)
    if running and not _names_model(running.group(0), known):
        return Derivation("running", _tidy(_cut(question, running)), running.group(0).strip())
    change = _change(question)
    if change is not None:
        return change
    share = _SHARE.match(question)
    if share and share.group(1).lower() not in known:
        return _share(share)
    return None


#: The words that name a running total; a model that has one of them as a name means it instead.
_RUNNING_WORDS = frozenset({"running", "cumulative", "cumulated"})


def _names_model(words: str, known: frozenset[str]) -> bool:
    return any(w in known for w in re.findall(r"[a-z]+", words.lower()) if w in _RUNNING_WORDS)


def _cut(text: str, match: re.Match[str]) -> str:
    return text[: match.start()] + " " + text[match.end() :]


def _tidy(text: str) -> str:
    text = re.sub(r"\s+([,?.!])", r"\1", re.sub(r"\s+", " ", text)).strip()
    return re.sub(r"^[,\s]+", "", text)


def _change(question: str) -> Derivation | None:
    grains = []
    text = question
    cues = []
    for pattern in (_OVER, _PREVIOUS):
        for match in list(pattern.finditer(text)):
            said = {g.lower() for g in match.groups() if g}
            if len(said) != 1:
                return None  # "month over year"
            grains.append(said.pop())
            cues.append(match.group(0))
        text = pattern.sub(" ", text)
    if not grains:
        return _change_by_period(question)
    if len(set(grains)) != 1:
        return None
    grain = grains[0]
    words = _CHANGE_WORDS.findall(text)
    text = _CHANGE_WORDS.sub(" ", text)
    stated = _grain_said(text)
    if stated is not None and stated != grain:
        return None  # "change from the previous year, by month"
    inner = _tidy(text).rstrip("?.! ")
    if stated is None:
        inner = f"{inner} by {grain}"
    return Derivation("change", inner, " ".join([*words, *cues]).strip())


def _change_by_period(question: str) -> Derivation | None:
    """ "the change in the number of sales by month": a change, by the period said."""
    match = _CHANGE_IN.search(question)
    if match is None or _grain_said(question) is None:
        return None
    return Derivation("change", _tidy(_cut(question, match)), match.group(0).strip())


def _grain_said(text: str) -> str | None:
    match = _GRAIN_SAID.search(text)
    if match is None:
        return None
    word = (match.group(1) or match.group(2)).lower()
    return _ADVERB_GRAIN.get(word, word)


def _share(match: re.Match[str]) -> Derivation:
    rest = match.group("rest").strip().rstrip("?.! ")
    cue = f"{match.group(1)} of"
    if _GROUPED.search(rest):
        text = _SHARE_VERBS.sub(" ", rest)
        text = re.sub(r"\b(?:each|per|every)\b", "by", text, flags=re.IGNORECASE)
        text = re.sub(r"\b(?:of\s+|by\s+)+by\b", "by", text, flags=re.IGNORECASE)
        return Derivation("share", _tidy(text), cue)
    verb = _CONDITION_VERB.search(rest) or _FIGURE_VERB.search(rest)
    if verb is None:
        return Derivation("share_of_rows", f"how many {rest}", cue, base=None)
    subject, condition = rest[: verb.start()].strip(), rest[verb.end() :].strip()
    # "what percentage of revenue comes from the mobile channel": a figure, not rows
    figure = _FIGURE_VERB.search(rest)
    otherwise = None
    if figure is not None:
        said, where = rest[: figure.start()].strip(), rest[figure.end() :].strip()
        otherwise = Derivation("share_of_rows", f"{said} {where}", cue, base=said)
    elif condition:
        otherwise = Derivation("share_of_rows", f"{subject} {condition}", cue, base=subject)
    return Derivation(
        "share_of_rows", f"how many {rest}", cue, base=f"how many {subject}", otherwise=otherwise
    )


def _per_group(question: str) -> Derivation:
    match = _PER_GROUP.match(question)
    assert match is not None
    rows, group = match.group("rows"), match.group("group")
    cue = question[: match.start("rows")].strip()
    return Derivation("per_group", f"number of {rows} per {group}", cue, base=f"how many {group}")


# --- wrapping the inner answer ------------------------------------------------------------------


@dataclass(frozen=True)
class Answered:
    """An inner answer and the plan it was built from."""

    answer: RuleAnswer
    plan: Plan


def derive(
    d: Derivation, inner: Answered, base: Answered | None, dialect: str
) -> tuple[str, str, str]:
    """The semantic SQL, native SQL and explanation of the derived figure; raises
    :class:`CannotAnswer` when the inner answer does not have the shape it needs."""
    if d.kind in ("running", "change"):
        return _series(d, inner, dialect)
    if d.kind == "share":
        return _shares(inner, dialect)
    if base is None:
        raise CannotAnswer(f"I could not tell what the {d.cue} is taken of.")
    if d.kind == "share_of_rows":
        return _share_of_rows(inner, base, dialect)
    return _per_group_average(inner, base, dialect)


def _one_measure(plan: Plan, what: str) -> None:
    if len(plan.measures) != 1:
        raise CannotAnswer(f"A {what} is taken of one figure; the question names {_n(plan)}.")
    if plan.limit is not None:
        raise CannotAnswer(f"A {what} is taken over every row, not the first {plan.limit}.")
    if any(f.kind == "having" for f in plan.filters):
        raise CannotAnswer(f"A {what} is taken over every group, not some of them.")


def _n(plan: Plan) -> str:
    return "none" if not plan.measures else f"{len(plan.measures)}"


def _series(d: Derivation, inner: Answered, dialect: str) -> tuple[str, str, str]:
    what = "running total" if d.kind == "running" else "change from the previous period"
    plan = inner.plan
    _one_measure(plan, what)
    grains = [x for x in plan.dimensions if x.kind == "grain" or _year_column(x.name)]
    if len(plan.dimensions) != 1 or len(grains) != 1:
        raise CannotAnswer(
            f"A {what} needs one figure per time period (say 'by month', 'by year')."
        )
    grain = str(grains[0].grain or "year")

    def wrap(sql: str) -> str:
        body, period, figure = _inner_columns(sql, dialect)
        t = exp.to_identifier("t")
        ordered = exp.Order(
            expressions=[exp.Ordered(this=exp.column(period, table=t, quoted=True))]
        )
        value = exp.column(figure, table=t, quoted=True)
        window = exp.Window(
            this=exp.Sum(this=value) if d.kind == "running" else exp.Lag(this=value),
            order=ordered,
        )
        column = window if d.kind == "running" else exp.Sub(this=value, expression=window)
        name = "running_total" if d.kind == "running" else "change_from_previous"
        return _outer(body, [exp.alias_(column, name)], dialect, order=period)

    explanation = (
        f"The {what} by {grain} of this: {inner.answer.explanation}"
        if d.kind == "running"
        else f"The change from the previous {grain} of this: {inner.answer.explanation}"
    )
    return wrap(str(inner.answer.sql)), wrap(str(inner.answer.native_sql)), explanation


def _year_column(name: str | None) -> bool:
    """A column of year numbers ("sale_year") orders periods as a grain does."""
    return name is not None and "year" in name.lower()


def _shares(inner: Answered, dialect: str) -> tuple[str, str, str]:
    plan = inner.plan
    _one_measure(plan, "share")
    if not plan.dimensions:
        raise CannotAnswer("A share of each group needs the groups (say 'by country').")

    def wrap(sql: str) -> str:
        body, _, figure = _inner_columns(sql, dialect)
        value = exp.column(figure, table=exp.to_identifier("t"), quoted=True)
        total = exp.Window(this=exp.Sum(this=value.copy()))
        share = exp.Div(
            this=exp.Mul(this=exp.Literal.number("100.0"), expression=value),
            expression=exp.Nullif(this=total, expression=exp.Literal.number(0)),
        )
        return _outer(
            body, [exp.alias_(share, "percent_of_total")], dialect, order=figure, desc=True
        )

    explanation = (
        f"Each group's share of the total, in percent, of this: {inner.answer.explanation}"
    )
    return wrap(str(inner.answer.sql)), wrap(str(inner.answer.native_sql)), explanation


def _share_of_rows(inner: Answered, base: Answered, dialect: str) -> tuple[str, str, str]:
    part, whole = inner.plan, base.plan
    for plan in (part, whole):
        if plan.dimensions or len(plan.measures) != 1:
            raise CannotAnswer("A percentage compares one figure, with a condition and without.")
    mine, all_of = part.measures[0], whole.measures[0]
    same = (mine.func, mine.model.lower(), mine.name) == (
        all_of.func,
        all_of.model.lower(),
        all_of.name,
    )
    if not same or part.root.lower() != whole.root.lower():
        raise CannotAnswer("A percentage compares one figure, with a condition and without.")
    if whole.filters or not part.filters:
        raise CannotAnswer("I could not tell which rows the percentage is taken of.")

    def ratio(a: str, b: str) -> str:
        share = exp.Div(
            this=exp.Mul(this=exp.Literal.number("100.0"), expression=_scalar(a, dialect)),
            expression=exp.Nullif(this=_scalar(b, dialect), expression=exp.Literal.number(0)),
        )
        return exp.select(exp.alias_(share, "percent")).sql(dialect=dialect)

    explanation = (
        f"The share that matches, in percent: "
        f"{inner.answer.explanation} Out of: {base.answer.explanation}"
    )
    return (
        ratio(str(inner.answer.sql), str(base.answer.sql)),
        ratio(str(inner.answer.native_sql), str(base.answer.native_sql)),
        explanation,
    )


def _per_group_average(inner: Answered, base: Answered, dialect: str) -> tuple[str, str, str]:
    groups, whole = inner.plan, base.plan
    _one_measure(groups, "average per group")
    if groups.measures[0].func != "count" or groups.filters or whole.filters:
        raise CannotAnswer("An average number per group is taken of all the rows and groups.")
    if whole.dimensions or len(whole.measures) != 1 or whole.measures[0].func != "count":
        raise CannotAnswer("I could not tell how many groups there are.")
    owners = {str(x.model).lower() for x in groups.dimensions if x.model}
    if owners != {whole.root.lower()}:
        raise CannotAnswer("An average number per group needs the rows grouped by that group.")

    def average(grouped: str, counted: str) -> str:
        body, _, figure = _inner_columns(grouped, dialect)
        total = exp.Sum(this=exp.column(figure, table=exp.to_identifier("t"), quoted=True))
        value = exp.Div(
            this=exp.Mul(this=exp.Literal.number("1.0"), expression=total),
            expression=exp.Nullif(this=_scalar(counted, dialect), expression=exp.Literal.number(0)),
        )
        return (
            exp.select(exp.alias_(value, "average_per_group"))
            .from_(exp.alias_(exp.Subquery(this=body), "t"))
            .sql(dialect=dialect)
        )

    explanation = (
        f"The rows counted per group, divided by the number of groups (those with none "
        f"count as 0): {inner.answer.explanation}"
    )
    return (
        average(str(inner.answer.sql), str(base.answer.sql)),
        average(str(inner.answer.native_sql), str(base.answer.native_sql)),
        explanation,
    )


def _inner_columns(sql: str, dialect: str) -> tuple[exp.Select, str, str]:
    """The inner query without its order, the name of its first column and of its last (the
    figure: a plan of one measure puts it after the groups)."""
    tree = parse_one(sql, dialect=dialect)
    if not isinstance(tree, exp.Select):  # pragma: no cover - plans build one SELECT
        raise CannotAnswer("That answer cannot be derived from.")
    tree.set("order", None)
    names = [e.alias_or_name for e in tree.expressions]
    if len(names) < 2 or not all(names):
        raise CannotAnswer("That answer has no figure per group to derive from.")
    return tree, names[0], names[-1]


def _scalar(sql: str, dialect: str) -> exp.Subquery:
    tree = parse_one(sql, dialect=dialect)
    if isinstance(tree, exp.Select):
        tree.set("order", None)
    return exp.Subquery(this=tree)


def _outer(
    body: exp.Select, columns: list[exp.Expr], dialect: str, *, order: str, desc: bool = False
) -> str:
    t = exp.to_identifier("t")
    every = exp.Column(this=exp.Star(), table=t.copy())
    outer = exp.select(every, *columns).from_(exp.alias_(exp.Subquery(this=body), "t"))
    ordered = exp.Ordered(this=exp.column(order, table=t, quoted=True), desc=desc)
    return outer.order_by(ordered).sql(dialect=dialect)


def cue_mapping(d: Derivation) -> WordMapping:
    return WordMapping(d.cue, "keyword", d.kind, "derivation")
