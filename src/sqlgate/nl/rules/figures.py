"""Comparisons with an overall figure: "above the average age", "a weight below the average",
"more staff than the minimum": the field compared with a scalar subquery of its aggregate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlgate.nl.rules.parts import Filter, Item, Measure
from sqlgate.nl.rules.scoped_figures import figure_scope

if TYPE_CHECKING:
    from sqlgate.nl.rules.reader_state import ReaderState


def overall_figure(reader: ReaderState, item: Item, nxt: Item | None) -> bool:
    """Read the aggregate ``item`` right after a comparison as the figure it compares with;
    False (nothing read) when it does not follow a comparison."""
    pending = reader.pending_cmp
    if pending is None or reader.last_significant is not pending[3]:
        return False
    op, concept, before, cmp_item = pending
    if op == "between":
        return False
    scope = figure_scope(reader.items, reader.items.index(item))
    if scope is not None:
        # "than the average girth of trees planted after 2010": the conditions after the rows
        # are the figure's own; left unread here, the figure is answered on its own
        # (:mod:`.scoped_figures`)
        reader.r.figure_scope = reader.r.figure_scope or scope
        return False
    k = reader.items.index(cmp_item)
    if concept is None and k and reader.items[k - 1].kind == "concept":
        concept = str(reader.items[k - 1].arg)  # "a cost below the average"
    f = Filter("compare", op=op, concept=concept, overall=str(item.arg))
    f.negated = reader.pending_neg
    f.words = f"{cmp_item.text} {item.text}"
    after = nxt if _numeric_field(reader, nxt) else None
    named = after or (before if _numeric_field(reader, before) else None)
    for field in (before, after):
        if field is not None and field.chosen is not None and _numeric_field(reader, field):
            field.role = "filter"
            if field in reader.r.fields:
                reader.r.fields.remove(field)
    if named is not None and named.chosen is not None:
        f.model, f.name = named.chosen.model, named.chosen.name
        f.words += f" {named.text}"
    f.measure = Measure(str(item.arg), f.model or "", f.name, words=item.text)
    reader.r.filters.append(f)
    reader.pending_cmp, reader.pending_neg = None, False
    item.role = "filter"
    return True


def _numeric_field(reader: ReaderState, item: Item | None) -> bool:
    if item is None or item.kind != "entry" or item.chosen is None:
        return False
    if item.chosen.kind != "field" or item.role not in (None, "context", "filter"):
        return False
    info = reader.facts.lexicon.field(item.chosen.model, str(item.chosen.name))
    return info.kind == "number" and not info.key


def overall_metric(reader: ReaderState, item: Item) -> bool:
    """ "an amount above the average order value" where that is a metric: the field compared
    with the metric over its whole model; False when the metric does not follow a comparison."""
    pending = reader.pending_cmp
    entry = item.chosen
    if pending is None or reader.last_significant is not pending[3] or entry is None:
        return False
    op, concept, before, cmp_item = pending
    if op == "between":
        return False
    f = Filter("compare", op=op, concept=concept, overall="metric", negated=reader.pending_neg)
    f.words = f"{cmp_item.text} {item.text}"
    f.measure = Measure("metric", entry.model, entry.name, words=item.text)
    if before is not None and before.chosen is not None and _numeric_field(reader, before):
        f.model, f.name = before.chosen.model, before.chosen.name
        before.role = "filter"
        if before in reader.r.fields:
            reader.r.fields.remove(before)
    reader.r.filters.append(f)
    reader.pending_cmp, reader.pending_neg = None, False
    item.role = "filter"
    reader.last_significant = item
    return True


def another_number(reader: ReaderState, item: Item, pos: int) -> bool:
    """ "in grade 9 or 10", "aged 32 or 33": a number joined by "or"/"and" to the number of the
    filter just read is another value of the same field (IN)."""
    last = reader.last_significant
    filters = reader.r.filters
    if last is None or last.kind != "number" or last.role != "filter" or not filters:
        return False
    f = filters[-1]
    if f.kind not in ("compare", "values") or f.op != "=" or f.name is None:
        return False
    between = reader.items[reader.items.index(last) + 1 : pos]
    if not between or any(i.kw != "conj" for i in between):
        return False
    f.kind = "values"
    f.values.append(item.arg)
    f.words += f" {' '.join(i.text for i in between)} {item.text}"
    f.joined = f.joined or ("or" if any(i.text.lower() == "or" for i in between) else "and")
    item.role = "filter"
    reader.last_significant = item
    return True


def number_to_number(reader: ReaderState, item: Item, pos: int) -> None:
    """ "customers with 2 to 4 orders": a number, "to" and a number before what they
    count or measure compare like "between 1 and 2"."""
    items = reader.items
    after = items[pos + 1 : pos + 4]
    if (
        len(after) == 3
        and after[0].text.lower() == "to"
        and after[1].kind == "number"
        and after[2].kind == "entry"
    ):
        reader.pending_cmp = ("between", None, None, item)
