"""What the rule-based translator says about its answer: the explanation of the query it built,
what it understood and did not when it built none, and which words mapped to which model parts."""

from __future__ import annotations

from sqlgate.nl.joins import JoinPlan
from sqlgate.nl.rules.answer import WordMapping
from sqlgate.nl.rules.parts import Filter, Item, Measure, Plan
from sqlgate.nl.semantic import SemanticModel


def explain(plan: Plan, joins: JoinPlan, unmatched: tuple[str, ...]) -> str:
    if plan.combined:
        text = f"List the rows of {plan.combined}."
        return text + (" Words not used: " + ", ".join(unmatched) + "." if unmatched else "")
    parts = []
    if plan.listing:
        parts.append(f"List rows of {plan.root}")
    else:
        parts.append("Compute " + ", ".join(_describe_measure(m) for m in plan.measures))
    if plan.dimensions:
        parts.append(
            "per " + ", ".join(
                f"{d.grain} of {d.model}.{d.name}" if d.kind == "grain"
                else (str(d.model) if d.kind == "model" else f"{d.model}.{d.name}")
                for d in plan.dimensions
            )
        )  # fmt: skip
    where = describe_filters(plan.filters)
    if where:
        parts.append("where " + where)
    if plan.order is not None:
        what = (
            _describe_measure(plan.order[2]) if plan.order[1] == "measure"
            else ".".join(plan.order[2]) if plan.order[1] == "field_ref" else "?"
        )  # fmt: skip
        word = "highest" if plan.order[0] == "desc" else "lowest"
        parts.append(f"ordered by {what}, {word} first")
        for model, name, direction in plan.then_by:
            parts.append(
                f"then by {model}.{name}, {'highest' if direction == 'desc' else 'lowest'} first"
            )
    if plan.limit is not None:
        parts.append(f"keeping the first {plan.limit}")
    text = ", ".join(parts) + "."
    if joins.steps:
        text += " Joins: " + "; ".join(f"{s.left} → {s.right}" for s in joins.steps) + "."
        if joins.fans_out and any(m.func == "count" for m in plan.measures):
            text += " Counts are of distinct keys, since a join can repeat rows."
    if unmatched:
        text += " Words not used: " + ", ".join(unmatched) + "."
    return text


def describe_filters(filters: list[Filter]) -> str:
    """The filters, said as conditions joined by "and"/"or"; "" when there are none."""
    described = [f for f in filters if f.model or f.kind == "having"]
    inside = _inside_absence(described)
    described = [f for f in described if id(f) not in inside]
    if not described:
        return ""
    text = _describe_filter(described[0], inside)
    for f in described[1:]:
        text += (" or " if f.alternative else " and ") + _describe_filter(f, inside)
    return text


def summary(items: list[Item], unmatched: tuple[str, ...]) -> str:
    understood = [
        f"'{i.text}' ({i.chosen.part if i.chosen else i.kind})"
        for i in items
        if i.kind == "entry" and i.chosen
    ] + [f"'{i.text}' ({i.kind})" for i in items if i.kind in ("range", "grain")]
    text = ""
    if understood:
        text += "Understood: " + ", ".join(understood) + ". "
    if unmatched:
        text += "Not found in the semantic model: " + ", ".join(f"'{u}'" for u in unmatched) + "."
    return text.strip()


def nothing_found(model: SemanticModel, items: list[Item], unmatched: tuple[str, ...]) -> str:
    models = ", ".join(m.name for m in model.models[:12])
    more = " and more" if len(model.models) > 12 else ""
    text = "Nothing in the question names a model, field or metric of the semantic model"
    text += f" (it covers {models}{more})." if models else "."
    return f"{text} {summary(items, unmatched)}".strip()


def _describe_measure(m: Measure) -> str:
    if m.func == "count":
        return f"the number of {m.model}"
    if m.func == "count_distinct":
        return f"the number of different {m.model}.{m.name}"
    if m.func == "metric":
        return f"the metric {m.name}"
    word = {"sum": "total", "avg": "average", "min": "lowest", "max": "highest"}.get(m.func, m.func)
    return f"the {word} {m.model}.{m.name}"


def _inside_absence(filters: list[Filter]) -> dict[int, Filter]:
    """The value filters read inside a "no related row" subquery (on its model), by id."""
    absent = {str(f.model).lower() for f in filters if f.kind == "absent" and not f.inside}
    return {
        id(f): f
        for f in filters
        if f.kind in ("values", "compare") and str(f.model).lower() in absent
    }


def _describe_filter(f: Filter, inside: dict[int, Filter] | None = None) -> str:
    if f.kind == "range" and f.range is not None:
        return f"{f.model}.{f.name} {f.range.describe()}"
    if f.kind in ("having", "counted") and f.measure is not None:
        values = " and ".join(f"{v:g}" for v in f.values)
        return f"{_describe_measure(f.measure)} {f.op} {values}"
    if f.kind == "absent":
        mine = [g for g in (inside or {}).values() if str(g.model).lower() == str(f.model).lower()]
        where = " and ".join(_describe_filter(g) for g in mine)
        with_ = f" with {where}" if where else ""
        return f"{'no' if f.negated else 'some'} {f.model} row{with_} is related"
    if f.kind == "compare" and f.overall and f.overall.startswith("row_") and f.measure:
        first = "highest" if f.overall == "row_desc" else "lowest"
        ranked = f"{f.measure.model}.{f.measure.name}"
        return f"{f.model}.{f.name} {f.op} that of the row with the {first} {ranked}"
    if f.kind == "compare" and f.overall == "row_named" and f.figure is not None:
        where = f.figure.args.get("where")
        named = where.this.sql() if where is not None else ""
        return f"{f.model}.{f.name} {f.op} that of the rows where {named}"
    if f.kind == "compare" and f.overall == "ranked":
        return f"{f.model}.{f.name} is that of the {f.words}"
    if f.kind == "compare" and f.overall == "groups":
        return f"{f.model}.{f.name} is one with {f.words}"
    if f.kind == "compare" and f.overall:
        scope = f" over the rows where {f.scope}" if f.scope else ""
        return f"{f.model}.{f.name} {f.op} the {f.overall} of {f.model}.{f.name}{scope}"
    if f.kind == "paired":
        return f"the row is {f.model}.{f.name} of a {f.model} row of the one where {f.words}"
    if f.kind == "self_ref":
        return f.words
    if f.kind == "rarest":
        fewest = "fewest" if f.op == "asc" else "most"
        return f"{f.model}.{f.name} = the value the {fewest} {f.model} rows have"
    if f.kind == "compare":
        values = " and ".join(f"{v:g}" for v in f.values)
        text = f"{f.model}.{f.name} {f.op} {values}"
        return f"not ({text})" if f.negated else text
    shown = ", ".join(repr(v) for v in f.values)
    if len(f.values) == 1:
        op = "!=" if f.negated else "="
        return f"{f.model}.{f.name} {op} {shown}"
    return f"{f.model}.{f.name} {'not ' if f.negated else ''}in ({shown})"


def mappings(items: list[Item]) -> tuple[WordMapping, ...]:
    out = []
    for item in items:
        if item.kind == "entry" and item.chosen is not None:
            out.append(
                WordMapping(item.text, item.chosen.kind, item.chosen.part, item.role or "context")
            )
        elif item.kind == "range":
            out.append(WordMapping(item.text, "time", item.arg.describe(), "filter"))
        elif item.kind == "grain":
            out.append(WordMapping(item.text, "grain", str(item.arg), "dimension"))
        elif item.kind == "kw" and item.role:
            out.append(WordMapping(item.text, "keyword", str(item.kw), item.role))
        elif item.kind == "number" and item.role:
            out.append(WordMapping(item.text, "number", item.text, item.role))
        elif item.kind == "concept":
            out.append(WordMapping(item.text, "keyword", f"concept:{item.arg}", "context"))
    return tuple(out)
