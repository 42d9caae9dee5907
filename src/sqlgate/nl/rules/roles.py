"""Step 2 of the rule-based translator: one pass over the items gives each a role.

A *measure* (count, sum, average, min, max of a field, or a metric), a *dimension* to group by
(a field, a model, a time grain), a *filter* (a value, a comparison, a date range, a count in
HAVING), the *order* and a *limit*. Keywords leave something pending ("how many" waits for what
to count, "by" for what to group by, "more than" for its number) that a later item takes up.
"""

from __future__ import annotations

from typing import Any

from sqlgate.nl.lexicon import Entry
from sqlgate.nl.rules import cues
from sqlgate.nl.rules.cues import (
    amount_of,
    by_age,
    counted_noun,
    like_cue,
    modifier,
    number_named,
    or_more,
    over_all,
    related_by_verb,
    sort_by,
    subject_of_verb,
    time_item,
)
from sqlgate.nl.rules.doer_by import agent_by
from sqlgate.nl.rules.entities import counted_rows
from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.figures import (
    another_number,
    number_to_number,
    overall_figure,
    overall_metric,
)
from sqlgate.nl.rules.like import read_like
from sqlgate.nl.rules.money import money_sum
from sqlgate.nl.rules.parts import (
    Dimension,
    Filter,
    Item,
    Measure,
    Reading,
    joiner_before,
    next_significant,
    only_connectors,
    singular_item,
    singular_next,
)
from sqlgate.nl.rules.reader_state import PendingCompare
from sqlgate.nl.rules.years import open_range
from sqlgate.nl.vocabulary import CONCEPT_WORDS, DURATION_UNITS


def read_roles(facts: ModelFacts, items: list[Item]) -> Reading:
    """The roles of the (settled) items, as a :class:`Reading`."""
    return _RoleReader(facts, items).read()


class _RoleReader:
    """The state of one pass: what the keywords read so far left pending."""

    def __init__(self, facts: ModelFacts, items: list[Item]) -> None:
        self.facts = facts
        self.items = items
        self.r = Reading()
        self.pending_count = False
        self.pending_distinct = False
        self.pending_group = False
        self.pending_neg = False
        self.agg_queue: list[tuple[str, Item]] = []
        self.pending_sort = False
        self.pending_cmp: PendingCompare | None = None
        self.pending_top: str | None = None
        self.last_value: Filter | None = None
        self.last_significant: Item | None = None

    def read(self) -> Reading:
        either = False  # an "or" since the last filter
        for pos, item in enumerate(self.items):
            before = len(self.r.filters)
            self._read_item(item, pos)
            if item.kw == "conj":
                either = either or item.text.lower() == "or"
            if len(self.r.filters) > before:
                if either and before:
                    for f in self.r.filters[before:]:
                        f.alternative = True
                either = False
        return self.r

    def _read_item(self, item: Item, pos: int) -> None:
        nxt = next_significant(self.items, pos)
        if item.kind == "kw":
            self._keyword(item, pos, nxt)
        elif item.kind == "number":
            self._number(item, pos, nxt)
        elif item.kind == "range":
            self._range(item, nxt)
        elif item.kind == "grain":
            self.r.dimensions.append(Dimension("grain", None, grain=item.arg, words=item.text))
            item.role = "dimension"
            self.pending_group = False
            self.last_significant = item
        elif item.kind == "quoted" and like_cue(self.items, pos):
            read_like(self, item, pos)
        elif item.kind != "entry" or item.chosen is None:
            self._loose_word(item)
        elif item.chosen.kind == "value":
            self.last_value = self._value_filter(item, item.chosen, pos)
            self.pending_neg = False
            self.pending_group = False  # "albums by Led Zeppelin": a filter, not a grouping
            self.last_significant = item
        elif item.chosen.kind == "metric" and overall_metric(self, item):
            pass  # "above the average order value": a comparison with an overall figure
        elif item.chosen.kind == "metric":
            self._metric(item, item.chosen)
        elif item.chosen.kind == "model" and modifier(item, nxt):
            item.role = "context"  # "car models", "dog owners": says which, is not counted
        elif item.chosen.kind == "model":
            self._model(item, item.chosen)
        else:
            self._field(item, item.chosen)

    # --- keywords -----------------------------------------------------------------------------

    def _keyword(self, item: Item, pos: int, nxt: Item | None) -> None:
        r = self.r
        kw = item.kw
        if kw in ("count", "agg") and (self.pending_group or self.pending_sort):
            if self.pending_sort and r.order is None:
                r.order = ("asc", "pending", None)  # "sorted by the number of orders": ascending
            self.pending_group = self.pending_sort = False  # "by number of orders": ranks
            r.by_measure = True
        if kw == "count" and (
            amount_of(item, self.last_significant, nxt) or number_named(self.items, pos)
        ):
            item.kw, item.role = "amount", "context"  # "the smallest amount of strength"
            return
        after = self.items[pos + 1] if pos + 1 < len(self.items) else None
        if kw == "count" and r.measures and after is not None and after.text.lower() == "and":
            item.role = "measure"  # "list the count and the name": the count asked already
        elif kw == "count":
            self._count(item, nxt)
        elif kw == "agg" and overall_figure(self, item, nxt):
            pass  # "above the average age": a comparison with an overall figure
        elif kw == "agg":
            if r.pending_agg is not None:
                self.agg_queue.append(r.pending_agg)  # "the average, minimum and maximum age"
            r.pending_agg = (item.arg, item)
            item.role = "measure"
        elif kw == "distinct" and cues.per_different(self.r, self.items, pos, nxt):
            self.pending_group = True  # "the maximum payload for different descriptions"
            item.role = "dimension"
        elif kw == "distinct":
            self.pending_distinct = True
            item.role = "measure"
        elif kw == "group" and sort_by(self.items, pos) and r.order is None:
            self.pending_sort = True  # "sort the tracks by their length"
            item.role = "order"
        elif kw == "group" and over_all(self.items, pos):
            item.role = "context"  # "across all the products": one figure over all
        elif kw == "group" and agent_by(self.facts, self.items, pos):
            item.role = "context"  # "used by any document", "posts by people at level 1"
        elif kw == "group" and cues.ranked_by(r, self.items, pos):
            item.role = "context"  # "the largest bakery by staff": ranked by it, no groups
            self.last_significant = r.superlative[2] if r.superlative else None
        elif kw == "group":
            self.pending_group = True
            item.role = "dimension"
        elif kw == "neg":
            self.pending_neg = True
            item.role = "filter"
        elif kw == "sort":
            self.pending_sort = True
            item.role = "order"
        elif kw == "dir":
            direction = str(item.arg)
            if r.order is not None:
                r.order = (direction, r.order[1], r.order[2])
            else:
                r.order = (direction, "pending", None)
            item.role = "order"
            field_next = nxt is not None and nxt.chosen is not None and nxt.chosen.kind == "field"
            self.pending_sort = self.pending_sort or (r.order[1] == "pending" and field_next)
        elif kw == "list":
            r.listing = True
            item.role = "context"
        elif kw == "when":
            r.when = True
            item.role = "context"
        elif kw == "top":
            self._top(item, pos, nxt)
        elif kw == "sup":
            self._superlative(item, nxt)
        elif kw == "cmp" and or_more(item) and item.role == "filter":
            pass  # read with the number before it
        elif kw == "cmp":
            self._comparison(item)
        elif kw == "conj":
            item.role = "context"
        if kw != "conj" and not (kw == "group" and item.role == "context"):
            self.last_significant = item  # "not used by any document": the negation still leads

    def _count(self, item: Item, nxt: Item | None) -> None:
        self.pending_count = True
        prev = self.last_significant
        if nxt is None and self.r.subjects and not self.r.measures:
            prev = self.r.subjects[-1]  # "orders since 2025 count": the count ends the question
        if (
            prev is not None
            and prev.kind == "entry"
            and prev.chosen
            and prev.chosen.kind == "model"
            and prev.role == "subject"
            and (nxt is None or nxt.kind != "entry")
        ):
            # "order count", "customer count"
            model = prev.chosen.model
            self.r.measures.append(Measure("count", model, words=f"{prev.text} {item.text}"))
            prev.role = "measure"
            self.r.subjects = [s for s in self.r.subjects if s is not prev]
            self.pending_count = False
        item.role = "measure"

    def _top(self, item: Item, pos: int, nxt: Item | None) -> None:
        r = self.r
        self.pending_top = str(item.arg)
        item.role = "order"
        if nxt is not None and nxt.kind == "number":
            r.limit = int(nxt.arg)
            nxt.role = "limit"
        elif r.limit is None:
            r.limit = 10 if not singular_next(self.items, pos) else 1

    def _superlative(self, item: Item, nxt: Item | None) -> None:
        r = self.r
        if item.arg == ("asc", "time") and by_age(self.facts, self.items, self._base_model()):
            item.arg = ("desc", "age")  # "the oldest dog": the highest age, not the first date
        if nxt is not None and nxt.kw == "count":
            item.arg = (item.arg[0], None)  # "the largest number of orders": the most
        item.arg, r.superlative_field = cues.by_birth(self.facts, item, self._base_model(), nxt)
        r.superlative = (item.arg[0], item.arg[1], item)
        item.role = "order"
        if nxt is not None and nxt.kind == "entry" and nxt.chosen:
            chosen = nxt.chosen
            if chosen.kind == "field" and item.arg[1] == "frequency":
                # "the most common hometown": per hometown, ranked by how many rows have it
                r.dimensions.append(Dimension("field", chosen.model, chosen.name, words=nxt.text))
                nxt.role = "dimension"
                m = Measure("count", chosen.model, words=item.text)
                r.measures.append(m)
                r.order = (item.arg[0], "measure", m)
                r.limit = r.limit or 1
            elif chosen.kind == "model" and item.arg[1] is None and not singular_item(nxt):
                # "the most customers": count them, rank by the count ("the highest baker": no)
                nxt.role = "measure"
                m = Measure("count", chosen.model, words=nxt.text)
                r.measures.append(m)
                r.order = (item.arg[0], "measure", m)

    def _comparison(self, item: Item) -> None:
        op, concept = item.arg
        last = self.last_significant
        if last is not None and last.kw == "neg" and self.pending_neg:  # "staff not above 4"
            last = cues.before_negation(self.items, last)
        subject_field = None
        if (
            last is not None
            and last.kind == "entry"
            and last.chosen is not None
            and last.chosen.kind == "field"
            and (
                last.role in (None, "context")
                or (last.role == "measure" and cues.grouped_aggregate(self.facts, self.r))
            )
        ):
            subject_field = last
        if concept is None and last is not None and last.kind == "concept":
            k = self.items.index(item)
            if k and self.items[k - 1] is last:  # "trees weighing more than 100": their weight
                concept, last.role = str(last.arg), "filter"
        self.pending_cmp = (op, concept, subject_field, item)
        item.role = "filter"

    # --- numbers, dates, loose words ----------------------------------------------------------

    def _number(self, item: Item, pos: int, nxt: Item | None) -> None:
        r = self.r
        last = self.last_significant
        if item.role == "filter":
            return  # the second number of "between 1 and 2", read with the first
        if self.pending_cmp is None:
            number_to_number(self, item, pos)  # "2 to 4 orders"
        if self.pending_group and item.text.lower() == "one":
            item.role, self.pending_group = "context", False  # "in each one": the groups named
            return
        if self.pending_cmp is None and another_number(self, item, pos):
            return
        if self.pending_cmp is None and nxt is not None and or_more(nxt):
            op, concept = nxt.arg  # "2 or more paragraphs": about what follows
            self.pending_cmp = (op, concept, None, nxt)
            nxt.role = "filter"
        if self.pending_cmp is not None and self.pending_cmp[2] is None:
            named = self._counted_field(item, pos, None)  # "above age 20": about age
            if named is not None and named is last and self.pending_cmp[3] is not last:
                op, concept, _, cmp_item = self.pending_cmp
                self.pending_cmp = (op, concept, named, cmp_item)
        if self.pending_cmp is not None:
            self._compare(pos, self.pending_cmp, self.pending_neg)
            self.pending_cmp, self.pending_neg = None, False
        elif (field := self._counted_field(item, pos, nxt)) is not None:
            # "cars with 4 cylinders", "students in grade 10": the field equals the number
            f = Filter("compare", field.chosen.model if field.chosen else None, op="=")
            f.name = field.chosen.name if field.chosen else None
            f.values, f.words = [item.arg], f"{item.text} {field.text}"
            f.negated, self.pending_neg = self.pending_neg, False
            self.r.filters.append(f)
            item.role = field.role = "filter"
            if field in self.r.fields:
                self.r.fields.remove(field)
        elif (
            nxt is not None
            and (nxt.kind == "entry" or (nxt.kind == "kw" and nxt.kw in ("sup", "top")))
            and (r.limit is None or (last and last.kw == "top"))
        ):
            r.limit = int(item.arg)
            item.role = "limit"
        self.last_significant = item

    def _counted_field(self, item: Item, pos: int, nxt: Item | None) -> Item | None:
        """The number field a bare number gives the value of: the one right after it ("4
        cylinders") or right before it ("grade 10"); not a key, not for "top"."""
        last = self.last_significant
        if last is not None and last.kw == "top":
            return None
        candidates = [nxt] if nxt is not None and nxt.first == item.last + 1 else []
        if last is not None and last.kw == "neg" and self.pending_neg:  # "age is not 30"
            last = cues.before_negation(self.items, last)
        if last is not None and cues.next_to_value(self.items, last, item):
            candidates.append(last)  # "grade 10", "age is either 30 or 41"
        for candidate in candidates:
            chosen = candidate.chosen if candidate.kind == "entry" else None
            if chosen is None or chosen.kind != "field" or candidate.role not in (None, "context"):
                continue
            info = self.facts.lexicon.field(chosen.model, str(chosen.name))
            if info.kind == "number" and not info.key:
                return candidate
        return None

    def _range(self, item: Item, nxt: Item | None) -> None:
        open_range(self.items, item)  # "in 2021 or after": from 2021 on
        f = Filter("range", range=item.arg, words=item.text)
        near = time_item(self.facts, self.last_significant) or time_item(self.facts, nxt)
        if near is not None and near.chosen is not None:
            f.model, f.name = near.chosen.model, near.chosen.name
            near.role = "filter"
        self.r.filters.append(f)
        item.role = "filter"
        self.last_significant = item

    def _loose_word(self, item: Item) -> None:
        """A word that maps to no model part: perhaps a concept ("cost", "sales", "long")."""
        if item.kind != "word" or item.text.lower() not in CONCEPT_WORDS:
            return
        concept = CONCEPT_WORDS[item.text.lower()]
        pending = self.pending_cmp
        if pending is not None and pending[1] is None:
            self.pending_cmp = (pending[0], concept, pending[2], pending[3])
        elif concept == "sales" and self.facts.metric_for("sales"):
            metric = self.facts.metric_for("sales")
            assert metric is not None
            m = Measure("metric", metric[0], metric[1], words=item.text)
            self.r.measures.append(m)
            item.role = "measure"
        elif concept == "sales" and not self.r.measures:
            money_sum(self, item)
        elif self.r.pending_agg is not None and self.last_significant is self.r.pending_agg[1]:
            self.r.agg_concept = item  # "the maximum cost": the plan finds the field it means
        item.role = item.role or "context"
        if item.role == "context":
            item.kind = "concept"
            item.arg = concept
            # "which products cost less than 10": the next comparison uses it
            if self.pending_cmp is None:
                self.last_significant = item

    # --- model parts --------------------------------------------------------------------------

    def _metric(self, item: Item, entry: Entry) -> None:
        r = self.r
        m = Measure("metric", entry.model, entry.name, words=item.text)
        r.measures.append(m)
        item.role = "measure"
        if self.pending_group or self.pending_sort or self.pending_top:
            r.order = (r.order[0] if r.order else "desc", "measure", m)
            self.pending_group = self.pending_sort = False
        r.pending_agg = None
        self.pending_count = False
        self.last_significant = item

    def _model(self, item: Item, entry: Entry) -> None:
        r = self.r
        if self.pending_group:
            r.dimensions.append(Dimension("model", entry.model, words=item.text))
            item.role = "dimension"
            self.pending_group = False
        elif self.pending_count:
            r.measures.append(Measure("count", entry.model, words=item.text))
            item.role = "measure"
            self.pending_count = self.pending_distinct = False
        elif (
            self.pending_neg
            and self.last_significant is not None
            and self.last_significant.kw == "neg"
            and self._base_model() not in (None, entry.model)
            and not cues.value_follows(self.items, item, entry.model)  # "not in club Rowing"
        ):
            # "students who do not have a pet", "customers without invoices": no related row
            r.filters.append(Filter("absent", entry.model, negated=True, words=item.text))
            item.role = "filter"
            self.pending_neg = False
        elif (
            item.role is None
            and self._base_model() not in (None, entry.model)
            and (
                related_by_verb(self.items, self.items.index(item))
                or subject_of_verb(self.items, self.items.index(item))
            )
        ):  # "dogs that went through a treatment": rows with a related row
            passive = cues.passive_verb(self.items, self.items.index(item))
            f = Filter("absent", entry.model, negated=False, words=item.text, passive=passive)
            r.filters.append(f)
            item.role = "filter"
        elif item.role is None:
            item.role = "subject"
            r.subjects.append(item)
        self.last_significant = item

    def _base_model(self) -> str | None:
        """The model the question is about so far: its first subject, or what it counts."""
        r = self.r
        if r.subjects and r.subjects[0].chosen is not None:
            return r.subjects[0].chosen.model
        counts = [m for m in r.measures if m.func == "count"] or r.measures
        if counts:
            return counts[0].model  # "the minimum grade of students who have no friends"
        asked = [i.chosen.model for i in r.fields if i.chosen is not None]
        return asked[0] if asked else None

    def _field(self, item: Item, entry: Entry) -> None:
        r = self.r
        info = self.facts.lexicon.field(entry.model, str(entry.name))
        if self.pending_group:
            r.dimensions.append(Dimension("field", entry.model, entry.name, words=item.text))
            item.role = "dimension"
            self.pending_group = False
        elif self.pending_sort:
            r.order = (r.order[0] if r.order and r.order[0] else "asc", "field", item)
            item.role = "order"
            self.pending_sort = False
        elif self.pending_count and entry.via == "qualified" and info.kind != "number":
            # "how many customers signed up": count the model, keep the field for dates
            r.measures.append(Measure("count", entry.model, words=item.text))
            item.role = "context"
            r.fields.append(item)
            self.pending_count = self.pending_distinct = False
        elif self.pending_count:
            if info.kind == "number" and not info.key and not self.pending_distinct:
                r.measures.append(Measure("sum", entry.model, entry.name, words=item.text))
            else:
                r.measures.append(
                    Measure("count_distinct", entry.model, entry.name, words=item.text)
                )
            item.role = "measure"
            self.pending_count = self.pending_distinct = False
        elif r.pending_agg is not None and info.kind in ("number", "time") and not r.agg_concept:
            for func, agg_item in [*self.agg_queue, r.pending_agg]:
                r.measures.append(
                    Measure(func, entry.model, entry.name, words=f"{agg_item.text} {item.text}")
                )
            item.role = "measure"
            r.pending_agg = None
            self.agg_queue = []
        elif (
            r.superlative is not None
            and self.last_significant is r.superlative[2]
            and info.kind in ("number", "time")
        ):
            item.role = "order"
            r.superlative_field = (entry.model, str(entry.name))
        else:
            r.fields.append(item)
        self.last_significant = item

    # --- filters ------------------------------------------------------------------------------

    def _compare(self, pos: int, pending: PendingCompare, negated: bool) -> None:
        items = self.items
        op, concept, subject_field, cmp_item = pending
        number_item = items[pos]
        number_item.role = "filter"
        values: list[Any] = [number_item.arg]
        nxt_pos = pos + 1
        if op == "between":
            j = pos + 1
            while (
                j < len(items)
                and items[j].kind in ("kw", "word")
                and items[j].kw in ("conj", None)
                and items[j].text.lower() in ("and", "to")
            ):
                j += 1
            if j < len(items) and items[j].kind == "number":
                values.append(items[j].arg)
                items[j].role = "filter"
                nxt_pos = j + 1
        unit = items[nxt_pos].text.lower() if nxt_pos < len(items) else ""
        f = Filter("compare", op=op, values=values, negated=negated, concept=concept)
        f.words = f"{cmp_item.text} {number_item.text}"
        if unit in DURATION_UNITS:
            items[nxt_pos].role = "filter"
            items[nxt_pos].kind = "unit"
            f.words += f" {items[nxt_pos].text}"
            f.values = [v * DURATION_UNITS[unit] for v in values]
            f.concept = f.concept or "length"
            f.op = op
            f.measure = Measure("unit", "", "seconds")
        nxt = next_significant(items, pos if op != "between" else nxt_pos - 1)
        if nxt is not None and counted_noun(items, nxt):
            nxt.kind, nxt.role = "unit", "filter"  # "10 people injured": the figure of injured
        if nxt is not None and (nxt.kind == "unit" or or_more(nxt)):
            nxt = next_significant(items, items.index(nxt))
        if nxt is not None and cues.conj_between(items, items[nxt_pos - 1], nxt):
            # "priced above 500 and products ...": the next clause, not a count; "more than 1
            # and fewer than 4 vans": the count the next comparison is of
            nxt = cues.shared_count(items, nxt)
        self._compared(f, subject_field, nxt)
        self.r.filters.append(f)

    def _compared(self, f: Filter, subject_field: Item | None, nxt: Item | None) -> None:
        """What the comparison ``f`` is about: the field before it, a model after it (a count
        per group), or a numeric field after it."""
        rows = counted_rows(self.facts, nxt)
        counted = rows is not None
        if (
            subject_field is not None
            and counted
            and cues.per_value(self.facts, subject_field, self.items)
        ):
            subject_field = None  # "cities with more than 2 employees": a count per city
        if subject_field is not None and subject_field.role == "measure":
            f.kind, f.measure = "having", self.r.measures[-1]  # "an average price above 100"
        elif subject_field is not None and subject_field.chosen is not None:
            f.model, f.name = subject_field.chosen.model, subject_field.chosen.name
            subject_field.role = "filter"
            if subject_field in self.r.fields:
                self.r.fields.remove(subject_field)
        elif nxt is not None and rows is not None:
            # "more than 40 orders": a count per group
            f.kind = "having"
            f.measure = Measure("count", rows, words=nxt.text)
            nxt.role = "filter"
            nxt.chosen = Entry("model", rows, via="name")  # each one a row of that model
        elif nxt is not None and nxt.kind == "entry" and nxt.chosen and nxt.chosen.kind == "field":
            info = self.facts.lexicon.field(nxt.chosen.model, str(nxt.chosen.name))
            if info.kind == "number":
                f.model, f.name = nxt.chosen.model, nxt.chosen.name
                nxt.role = "filter"

    def _value_filter(self, item: Item, entry: Entry, pos: int) -> Filter:
        r = self.r
        last = self.last_value
        negated = self.pending_neg
        item.role = "filter"
        value: Any = entry.value
        if entry.via == "boolean":
            f = Filter("values", entry.model, entry.name, values=[value == "true"], words=item.text)
            f.negated = negated
            r.filters.append(f)
            return f
        if (
            last is not None
            and last.model == entry.model
            and last.name == entry.name
            and only_connectors(self.items, last, pos)
            and not negated
        ):
            last.values.append(value)
            last.words += f", {item.text}"
            last.joined = last.joined or joiner_before(self.items, pos)
            return last
        f = Filter("values", entry.model, entry.name, values=[value], words=item.text)
        f.negated = negated
        r.filters.append(f)
        return f
