"""Step 3 of the rule-based translator: from the reading of the question to the plan of one query.

The plan settles what the reading left open: what is measured when nothing was ("when was the
first order placed", "the cheapest product"), what is ranked and how many rows are kept ("which
country has the most customers"), the root model, the field a bare comparison compares ("cost
less than 10") and the date column of a date range or a time grain.
"""

from __future__ import annotations

from sqlgate.nl.rules.compared_rows import other_number_named
from sqlgate.nl.rules.entities import (
    absent_entity,
    beyond_absent,
    distinct_dimensions,
    entity_dimensions,
    entity_of,
    first_subject,
    group_fields,
    names_rows,
    own_columns,
    per_different,
    ranked_subject,
    rows_named,
    rows_of_each,
    total_having,
)
from sqlgate.nl.rules.extreme_rows import extreme_row, ranks_a_model, rarest_group
from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.parts import (
    CannotAnswer,
    Dimension,
    Filter,
    Item,
    Measure,
    Order,
    Plan,
    Reading,
    next_significant,
    singular_item,
    singular_subject,
    singular_verb,
)
from sqlgate.nl.rules.reshaping import (
    counted_subsumes,
    distinct_columns,
    periods_of_either,
    presence_of_values,
    related_time,
    rows_and_ids,
)
from sqlgate.nl.rules.role_values import split_by_role
from sqlgate.nl.rules.targets import (
    _from_seconds,
    concept_order,
    concept_target,
    numeric_mention,
    time_field_of,
)
from sqlgate.nl.rules.two_kinds import second_kind_columns
from sqlgate.nl.rules.winners import asked_of_winners, extreme_of_related, winner_filter
from sqlgate.nl.rules.years import (
    as_year_numbers,
    field_before_period,
    own_or_related_years,
    whole_years,
    year_column,
)
from sqlgate.nl.text import identifier_words


def plan_query(facts: ModelFacts, r: Reading, items: list[Item]) -> Plan:
    """The plan of the query for reading ``r``; raises :class:`CannotAnswer`."""
    return _Planner(facts, r, items).plan()


class _Planner:
    """One plan in the making: the reading's parts, copied, then completed step by step."""

    def __init__(self, facts: ModelFacts, r: Reading, items: list[Item]) -> None:
        self.facts = facts
        self.r = r
        self.items = items
        self.subject = first_subject(r, items)
        self.measures = list(r.measures)
        self.dims = list(r.dimensions)
        self.order: Order | None = r.order
        self.limit = r.limit
        self.filters = list(r.filters)
        self.sup = r.superlative
        self.winner_columns: list[tuple[str, str]] = []
        self.more_columns: list[tuple[str, str]] = []  # the rows of other models asked

    def plan(self) -> Plan:
        r = self.r
        if self.items and self.items[0].text.lower() in ("who", "whom"):
            r.listing = True  # "who is the oldest employee": a person, not a date
        entity_dimensions(self.facts, self.dims, self.measures)
        self.subject = absent_entity(self.facts, r, self.filters) or self.subject
        self._when_first()
        total_having(self.facts, self.r, self.subject, self.filters)
        self._pending_aggregate()
        self._havings()
        if self.sup is not None and self._read_apart(self.sup):
            self.sup = None
        if self.sup is not None and not r.listing and ranks_a_model(self.items, self.sup[2]):
            r.listing = True  # "what is the most expensive product": a product, not a price
        if self.sup is not None:
            self._superlative(self.sup)
        self._ranking()
        self._argmax()
        self._rows_of_each()
        self._counts_per_field()
        if self.measures and self.order is None and self.limit is None:
            per_different(self.items, r.fields, self.dims)
        entity_dimensions(self.facts, self.dims, self.measures)
        group_fields(self.facts, self.dims, r.fields)
        self._default_measures()
        grouped = [d.model for d in self.dims if d.kind == "model" and d.model]
        if len({g.lower() for g in grouped}) == 1:
            own_columns(self.facts, grouped[0], r.fields)  # "its id and name"
        self.dims = distinct_dimensions(self.facts, self.dims)
        # root: the first measure's model, else the subject
        root = self.measures[0].model if self.measures else str(self.subject)
        if self.measures and self.measures[0].func == "unit":
            root = str(self.subject)
        self._compared_fields(root)
        self._time_columns(root)
        periods_of_either(self.items, self.filters, root)
        order = self.order
        if order is not None and order[1] == "field" and isinstance(order[2], Item):
            chosen = order[2].chosen
            assert chosen is not None
            order = (order[0] or "asc", "field_ref", (chosen.model, str(chosen.name)))
        if order is not None and order[1] == "pending" and not self.measures:
            order = concept_order(self.facts, self.r, self.items, order[0], self.subject or root)
        if order is not None and order[1] == "pending":
            order = (order[0], "measure", self.measures[0]) if self.measures else None
        listing = not self.measures
        columns: list[tuple[str, str]] = []
        if listing and self.subject:  # "list the customer's id and email"
            own_columns(self.facts, self.subject, r.fields, candidates=True)
        if listing:
            for item in r.fields:
                if item.chosen is not None and item.role is None:
                    columns.append((item.chosen.model, str(item.chosen.name)))
        columns += [c for c in self.more_columns if c not in columns]
        if self.winner_columns:
            columns = self.winner_columns
        if listing and not self.winner_columns:
            root, columns = rows_and_ids(self.facts, self.filters, self.items, root, columns)
        inside = beyond_absent(self.facts, root, self.filters, r)
        columns = [c for c in columns if c not in inside]
        used = {str(m).lower() for m in [*(d.model for d in self.dims), *(c[0] for c in columns)]}
        used |= {m.model.lower() for m in self.measures}
        self.filters = split_by_role(self.facts, root, self.filters, self.items, used)
        distinct = listing and bool(columns) and any(i.kw == "distinct" for i in self.items)
        if distinct:
            columns = distinct_columns(self.facts, self.filters, self.items, columns)
        return Plan(
            words=frozenset(w.lower() for i in self.items for w in i.text.split()),
            distinct=distinct,
            only_columns=distinct or bool(self.winner_columns),
            root=root,
            measures=self.measures,
            dimensions=self.dims,
            filters=self.filters,
            order=order,
            limit=self.limit,
            listing=listing,
            subject=root if listing else self.subject,
            extra_columns=columns,
        )

    # --- what is measured -------------------------------------------------------------------

    def _argmax(self) -> None:
        """ "which model has the minimum horsepower", "the name of the car with the maximum
        weight": the row with the extreme value, not the value alone."""
        r = self.r
        if len(self.measures) != 1 or self.dims or self.measures[0].func not in ("min", "max"):
            return
        if any(i.kw == "distinct" for i in self.items):
            return  # "the maximum X for all the different Y": per Y, not one row
        m = self.measures[0]
        named = any(
            i.chosen is not None and (i.chosen.model, i.chosen.name) == (m.model, m.name)
            for i in self.items
            if i.kind == "entry"
        )
        sup = self.r.superlative
        by_concept = (
            sup is not None
            and sup[1] in ("age", "price", "length", "time")
            and m.words == sup[2].text
            and sup[1] in [*identifier_words(str(m.name)), "time"]
        )  # "the youngest teacher": the field says age itself
        if not named and not by_concept:
            return  # the aggregate found its field by guessing: no extreme row to show
        filtered = {(f.model, f.name) for f in self.filters}
        asked = [
            i
            for i in r.fields
            if i.chosen is not None
            and i.role in (None, "context")
            and (i.chosen.model, i.chosen.name) != (m.model, m.name)
            and (i.chosen.model, i.chosen.name) not in filtered
        ]
        if not asked and not (r.listing and self.subject):
            return
        if self.subject is None:
            self.subject = asked[0].chosen.model if asked and asked[0].chosen else m.model
        self.measures = []
        self.order = ("asc" if m.func == "min" else "desc", "field_ref", (m.model, str(m.name)))
        self.limit = 1
        self.sup = None
        r.listing = True  # "the horsepower of the car with the largest X": its row, not a sum

    def _when_first(self) -> None:
        """ "when was the first order placed": MIN/MAX of the time column."""
        r, sup = self.r, self.sup
        if r.when and sup is not None and not self.measures:
            model = self.subject or (
                r.fields[0].chosen.model if r.fields and r.fields[0].chosen else None
            )
            if model:
                time = time_field_of(self.facts, model, r)
                if time:
                    self.measures.append(
                        Measure("min" if sup[0] == "asc" else "max", time[0], time[1], sup[2].text)
                    )
                    self.sup = None

    def _pending_aggregate(self) -> None:
        """An aggregate word whose field came before it or never came."""
        r = self.r
        if r.pending_agg is not None and not self.measures:
            func, agg_item = r.pending_agg
            after = next_significant(self.items, self.items.index(agg_item))
            concepts = [after] if after is not None and after.kind == "concept" else []
            concepts = [c for c in concepts if c.arg != "sales"]
            target = None if concepts else numeric_mention(self.facts, r, self.subject)
            if concepts and self.subject:
                # "the maximum cost": the field the concept names, never another one
                found = concept_target(self.facts, str(concepts[0].arg), self.subject, r)
                if found is None or found[0] != "field":
                    raise CannotAnswer(f"I could not tell which field '{concepts[0].text}' is.")
                target = found[1], found[2]
            if target is not None:
                self.measures.append(Measure(func, target[0], target[1], agg_item.text))
            elif self.subject and self.facts.default_measure(self.subject):
                m = self.facts.default_measure(self.subject)
                assert m is not None
                self.measures.append(Measure(func, m[0], m[1], agg_item.text))

    def _havings(self) -> None:
        """Havings group by the subject."""
        havings = [f for f in self.filters if f.kind == "having"]
        ored = any(f.alternative for f in self.filters) and len(havings) < len(self.filters)
        if ored and self.subject:  # the other conditions must be on each row itself
            own = presence_of_values(self.facts, self.subject, self.filters, havings)
            own |= {m.lower() for m in self.facts.to_one_models(self.subject)}
            ored = all(
                g.kind in ("having", "absent") or str(g.model).lower() in own for g in self.filters
            )
        # "builders with 2 classes and 3 ships": one condition per related model, counted apart
        apart = len({str(f.measure.model) for f in havings if f.measure}) > 1 and not self.measures
        for f in havings:
            assert f.measure is not None
            if f.measure.func != "count" and f.measure.model == self.subject and not self.r.fields:
                raise CannotAnswer(
                    f"Each {self.subject} row has one value, not '{f.measure.words}' of many."
                )
            counts_subject = bool(self.measures) and all(
                m.func == "count" and m.model == self.subject for m in self.measures
            )  # "how many depots have more than 2 vans": the depots that do
            if (
                f.measure.func == "count"
                and self.subject
                and f.measure.model != self.subject
                and (
                    (ored and not self.measures)
                    or (counts_subject and not self.dims)
                    or apart
                    or (f.op in ("<", "<=") and not self.dims)  # rows with none count too
                )
            ):
                # "depots with notes 'y' or more than 2 vans": a condition on each depot
                f.kind, f.model = "counted", f.measure.model
                counted_subsumes(self.filters, f)
                continue
            filtered = {(g.model, g.name) for g in self.filters}
            asked = [
                i
                for i in self.r.fields
                if i.chosen is not None
                and i.role in (None, "context")
                and i.chosen.name
                and (i.chosen.model, i.chosen.name) not in filtered
            ]
            entity = entity_of(self.facts, asked[0], f.measure.model) if asked else None
            if entity is None and not self.dims:  # "builders" naming the builder column
                entity, asked = rows_named(self.facts, asked, [f.measure.model, self.subject])
            if entity is not None and not self.dims:
                # "brewers with at least 2 beers", "brewers" naming beers.brewer
                self.dims.append(Dimension("model", entity, words=asked[0].text))
                asked[0].role = "dimension"
            if asked and not self.dims and self._attributes(asked):
                # "cities with more than one employee": per city, not per employee
                for i in asked:
                    assert i.chosen is not None
                    self.dims.append(Dimension("field", i.chosen.model, i.chosen.name, i.text))
                    i.role = "dimension"
            if self.subject and not self.dims:
                self.dims.append(Dimension("model", self.subject, words=""))
            if not self.measures:
                self.measures.append(f.measure)

    def _read_apart(self, sup: tuple[str, str | None, Item]) -> bool:
        """The superlative read into winners, a related row's extreme, or one ranked row."""
        return self._winners(sup) or self._extreme_related(sup) or self._extreme_row(sup)

    def _winners(self, sup: tuple[str, str | None, Item]) -> bool:
        """ "the most expensive product in each category": each group's winning rows."""
        r = self.r
        if not self.dims or self.measures or r.by_measure or self.limit is not None:
            return False
        unsaid = sup[1] is None and r.superlative_field is None
        if self.subject is None or (unsaid and all(i.kind != "concept" for i in self.items)):
            return False  # "the highest paid baker at each bakery": highest what?
        ranked = concept_target(self.facts, sup[1], self.subject, r, r.superlative_field)
        if ranked is None or ranked[0] != "field":
            return False
        found = winner_filter(self.facts, self.subject, (ranked[1], ranked[2]), sup[0], self.dims)
        if found is None:
            return False
        f, columns = found
        asked_of_winners(r, self.subject, columns)  # "the name and age of the oldest baker"
        self.filters.append(f)
        self.winner_columns = columns
        self.dims = []
        r.listing = True
        return True

    def _one_asked(self) -> bool:
        """Whether one row is asked for: "which customer", "which of the genres has"."""
        for k, item in enumerate(self.items):  # "which beer has the largest strength"
            if item.kw == "list" and item.text.lower() in ("which", "what"):
                asked = next_significant(self.items, k)
                if asked is not None and asked.kind == "entry" and singular_item(asked):
                    return True
        first = [*self.r.subjects, *self.r.fields][:1]
        return singular_subject(self.r) or bool(first and singular_verb(self.items, first[0]))

    def _extreme_related(self, sup: tuple[str, str | None, Item]) -> bool:
        """A measure over the rows of the related row with the extreme value."""
        if len(self.measures) != 1 or self.dims or self.limit is not None:
            return False
        named = self.r.superlative_field
        m = self.measures[0]
        f = extreme_of_related(self.facts, m.model, named, sup[0], sup[2].text)
        if f is not None:
            self.filters.append(f)
        return f is not None

    def _extreme_row(self, sup: tuple[str, str | None, Item]) -> bool:
        """ "the fee of the latest visit", "the horses of the rarest coat" (extreme_rows)."""
        if self.dims or self.limit is not None:
            return False
        rarest = rarest_group(self.facts, self.r, self.items, sup, self.measures)
        if rarest is not None:
            self.filters.append(rarest)
            self.subject, self.r.listing = rarest.model, not self.measures
            return True
        found = extreme_row(self.facts, self.r, self.items, sup, self.measures)
        if found is None:
            return False
        self.order, self.more_columns = found
        self.measures, self.limit, self.r.listing = [], 1, True
        return True

    def _attributes(self, asked: list[Item]) -> bool:
        """Whether the fields asked are attributes (a city, a grade), not what names a row
        (its key or label): groups by those are groups of many rows."""
        for item in asked:
            chosen = item.chosen
            assert chosen is not None
            model = self.facts.index.get_model(chosen.model)
            info = self.facts.lexicon.field(chosen.model, str(chosen.name))
            labels = {n.lower() for n in model.label_columns} if model else set()
            if info.key or str(chosen.name).lower() in labels:
                return False
        return True

    def _superlative(self, sup: tuple[str, str | None, Item]) -> None:
        r, facts, subject, measures = self.r, self.facts, self.subject, self.measures
        direction, concept, sup_item = sup
        ranking = bool(self.limit) or bool(self.dims) or r.listing or r.order is not None
        if measures and (ranking or not concept):
            if self.order is None or self.order[1] == "pending":
                self.order = (direction, "measure", measures[0])
        elif ranking or (r.listing and subject):
            ranked = concept_target(facts, concept, subject, r, r.superlative_field)
            if ranked is not None and ranked[0] == "metric":
                ranked_metric = Measure("metric", ranked[1], ranked[2], sup_item.text)
                measures.append(ranked_metric)
                self.order = (direction, "measure", ranked_metric)
            elif ranked is not None:
                self.order = (direction, "field_ref", (ranked[1], ranked[2]))
                if self.limit is None:
                    self.limit = 1 if self._one_asked() else None
            elif self.dims:  # "the highest paid baker at each bakery": never each bakery
                raise CannotAnswer(f"I could not tell what '{sup_item.text}' ranks by.")
        else:
            ranked = concept_target(facts, concept, subject, r, r.superlative_field)
            if ranked is not None and ranked[0] == "metric":
                measures.append(Measure("metric", ranked[1], ranked[2], sup_item.text))
            elif ranked is not None:
                func = "max" if direction == "desc" else "min"
                measures.append(Measure(func, ranked[1], ranked[2], sup_item.text))

    def _ranking(self) -> None:
        r, measures, dims = self.r, self.measures, self.dims
        if r.by_measure and measures and (self.order is None or self.order[1] == "pending"):
            order = self.order
            self.order = (order[0] if order and order[0] else "desc", "measure", measures[-1])
        # "top 10 customers by number of orders": the subject is what is ranked
        if measures and not dims and (self.limit is not None or self.order is not None):
            owner = ranked_subject(r, measures, self.items)
            if owner is not None:
                dims.append(owner)
                for i in r.fields:  # "the owner id and zip code of the owner who ..."
                    chosen = i.chosen
                    same = chosen is not None and chosen.model.lower() == str(owner.model).lower()
                    if chosen is not None and same and i.role in (None, "context"):
                        dims.append(Dimension("field", chosen.model, chosen.name, i.text))
                        i.role = "dimension"
                if self.order is None or self.order[1] == "pending":
                    order = self.order
                    self.order = (order[0] if order else "desc", "measure", measures[0])
                if self.limit is None and self._one_asked():
                    self.limit = 1
        # "which country has the most customers": the field named after which/what
        if measures and not dims and self.order is not None and r.fields:
            first = r.fields[0]
            assert first.chosen is not None
            counted = {m.model.lower() for m in measures}
            if names_rows(self.facts, first) and first.chosen.model.lower() not in counted:
                # "the name of the student with the most likes": per student, not per name
                dims.append(Dimension("model", first.chosen.model, words=first.text))
            for i in r.fields:  # "the title and year of the album with ..."
                chosen = i.chosen
                if chosen is None or chosen.model != first.chosen.model:
                    continue
                if i is first or i.role in (None, "context"):
                    dims.append(Dimension("field", chosen.model, chosen.name, words=i.text))
                    i.role = "dimension"
            if self.limit is None:
                self.limit = 1 if singular_item(first) or singular_verb(self.items, first) else None

    def _counts_per_field(self) -> None:
        """ "the template type codes and the number of templates for each": a count per the
        fields asked before it (per model when they name its rows: key or label)."""
        r = self.r
        if not self.measures or self.dims or self.order is not None or self.limit is not None:
            return
        each = any(i.kw == "group" or i.text.lower() in ("they", "their") for i in self.items)
        if not each:
            return  # "for each", "per", or "the number of courses they teach"
        if any(m.func != "count" for m in self.measures):
            return
        asked = [i for i in r.fields if i.chosen is not None and i.role in (None, "context")]
        counted_at = min(
            x.first for x in self.items if x.role == "measure" and x.kw != "distinct"
        )  # "the different categories, and how many products": the count
        if not asked:
            # "the names of the gardeners and how many plots each has": per gardener
            before = [s for s in r.subjects if s.chosen and s.role == "subject"]
            if before and before[0].first < counted_at and before[0].chosen:
                self.dims.append(Dimension("model", before[0].chosen.model, words=before[0].text))
                before[0].role = "dimension"
            return
        first = self.measures[0]
        if all(i.first > counted_at for i in asked):
            return  # the fields come after what is counted: not its groups
        if any(names_rows(self.facts, i) for i in asked):
            model = asked[0].chosen.model if asked[0].chosen else first.model
            self.dims.append(Dimension("model", model, words=asked[0].text))
            for i in asked:
                i.role = "dimension"
            return
        for i in asked:
            assert i.chosen is not None
            self.dims.append(Dimension("field", i.chosen.model, i.chosen.name, i.text))
            i.role = "dimension"

    def _rows_of_each(self) -> None:
        """ "the name and grade of each student": a listing of those fields, not a grouping."""
        if self.measures or self.r.pending_agg is not None:
            return
        found = rows_of_each(self.facts, self.r, self.dims, self.items)
        if found is not None:
            self.subject, self.more_columns = found
            self.dims = []
            self.r.listing = True
        elif not self.dims and not self.more_columns:  # "the names of teachers and the courses"
            self.more_columns = (
                second_kind_columns(self.facts, self.r, self.items, self.subject) or []
            )

    def _default_measures(self) -> None:
        r, measures, subject = self.r, self.measures, self.subject
        # a lone numeric field: "what was the total invoiced", "what is the total amount"
        if not measures and not r.listing:
            numeric = numeric_mention(self.facts, r, subject, lone=True)
            if numeric is not None:
                measures.append(Measure("sum", numeric[0], numeric[1]))
        if not measures and self.dims:
            model = subject or (self.dims[0].model if self.dims[0].model else None)
            if model is None:
                raise CannotAnswer("I could not tell what to count per group.")
            measures.append(Measure("count", model))
        if not measures and subject is None:
            raise CannotAnswer("I could not tell which model the question is about.")

    # --- which columns ----------------------------------------------------------------------

    def _compared_fields(self, root: str) -> None:
        """Comparisons without a field: the concept's field or the default measure."""
        facts = self.facts
        named: Filter | None = None
        for f in self.filters:
            if f.kind == "compare" and f.name is None and f.concept is None and named:
                f.model, f.name = named.model, named.name  # "above age 40 and below 30"
                continue
            if f.kind == "compare" and f.name is not None and not f.overall:
                named = f
            if f.kind == "compare" and f.name is None:
                base = root if self.measures and not self.r.subjects else self.subject or root
                compared = concept_target(facts, f.concept, base, self.r) if f.concept else None
                related = [g.model for g in self.filters if g.kind == "absent" and g.model]
                if compared is None and f.concept and len(related) == 1:
                    # "judges who did a tasting that costs less than the average": the
                    # rows related by the verb are what is compared
                    compared = concept_target(facts, f.concept, related[0], self.r)
                guess = compared is None or compared[0] == "metric"
                if guess and (f.overall or other_number_named(facts, self.items, base)):
                    raise CannotAnswer(f"I could not tell what '{f.words}' compares.")
                if compared is None or compared[0] == "metric":
                    default = facts.default_measure(base)
                    compared = ("field", default[0], default[1]) if default else None
                if compared is None:
                    raise CannotAnswer(f"I could not tell what '{f.words}' compares.")
                f.model, f.name = compared[1], compared[2]
                if f.measure is not None and f.measure.func == "unit":
                    f.values = [_from_seconds(compared[2], v) for v in f.values]

    def _time_columns(self, root: str) -> None:
        """Date ranges and grains need a time column."""
        for f in self.filters:
            if f.kind == "range" and f.name is None:  # "clubs founded after 2000": that field
                f.model, f.name = field_before_period(self.facts, self.items, f) or (f.model, None)
            if f.kind == "range" and f.model and f.name and whole_years(self.facts, f):
                continue  # "enrolled after 2020" on a number column of years
            if f.kind == "range" and f.name is None:
                time = related_time(self.facts, self.r, self.filters, root)
                if time is None and own_or_related_years(
                    self.facts, self.filters, self.items, f, root
                ):
                    continue  # "the trips in 2022", "vans with trips in 2022": their years
                time = time or time_field_of(self.facts, root, self.r)
                if time is None and as_year_numbers(self.facts, f, root, self.items):
                    continue
                if time is None:
                    raise CannotAnswer(f"I found no date column for '{f.words}'.")
                f.model, f.name = time
        for d in self.dims:
            if d.kind == "grain":
                time = time_field_of(self.facts, root, self.r)
                year = (
                    year_column(self.facts, root, self.items)
                    if time is None and d.grain == "year"
                    else None
                )
                if year is not None:  # "each year" over a number column of years
                    d.kind, (d.model, d.name) = "field", year
                    continue
                if time is None:
                    raise CannotAnswer(f"I found no date column to group '{d.words}' by.")
                d.model, d.name = time
