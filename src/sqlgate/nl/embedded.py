"""The embedded engine: a deterministic question → SQL translator over the semantic model.

No network, no model weights: it reads a question in four steps and says what it did.

1. **Words.** The question is split into words (:mod:`sqlgate.nl.text`); dates and time grains
   are found first (:mod:`sqlgate.nl.timeexpr`: "in 2023", "last month", "by week"); then, longest
   phrase first, question keywords (:mod:`sqlgate.nl.vocabulary`: "how many", "average", "top",
   "more than", "not") and the model's vocabulary (:mod:`sqlgate.nl.lexicon`: models, fields,
   metrics, synonyms and sampled values).
2. **Roles.** One pass gives each mapped phrase a role: a *measure* (count, sum, average, min,
   max of a field, or a metric), a *dimension* to group by (a field, a model, a time grain), a
   *filter* (a value, a comparison, a date range, a count in HAVING), the *order* and a *limit*.
   Ambiguous words are settled by the other models in the question and join distance.
3. **Joins.** Every model the question touches is joined to the measure's model along the
   shortest path of relationships (:mod:`sqlgate.nl.joins`); a count across a one-to-many join
   counts distinct keys.
4. **SQL.** Semantic SQL is built with sqlglot and expanded into native SQL for the connection
   (:mod:`sqlgate.nl.expand`); both pass the SQL guard.

When nothing in the question maps to the model, or it asks to change data, the answer is
``NON_SQL_QUERY`` with an explanation of what was understood and what was not. Every answer
lists which words mapped to which model parts (:class:`WordMapping`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from sqlglot import exp

from sqlgate.errors import SqlgateError
from sqlgate.nl import timeexpr
from sqlgate.nl.expand import check_native, expand_tree, quoted_if_needed
from sqlgate.nl.joins import JoinPlan, hops, plan_joins
from sqlgate.nl.lexicon import MAX_PHRASE, Entry, Lexicon
from sqlgate.nl.semantic import CalculatedField, Column, Model, SemanticIndex, SemanticModel
from sqlgate.nl.text import Token, identifier_words, phrase_key, stem, tokenize
from sqlgate.nl.values import ValueIndex
from sqlgate.nl.vocabulary import (
    CONCEPT_FIELDS,
    CONCEPT_WORDS,
    DURATION_UNITS,
    KEYWORDS,
    MAX_KEYWORD,
    STOPWORDS,
    WRITE_VERBS,
    _words,
)
from sqlgate.sql.guard import analyze

MAX_QUESTION_CHARS = 2_000


class NonSqlQuery(SqlgateError):
    """The question cannot be answered with SQL over the semantic model (seed 001)."""

    code = "NON_SQL_QUERY"
    status = 400


@dataclass(frozen=True)
class WordMapping:
    """Which words of the question mapped to which part of the model, and in what role."""

    words: str
    kind: str  # model, field, metric, value, time, grain, number, keyword
    target: str  # e.g. "customers.country = 'Germany'", "orders", "revenue", "month"
    role: str  # measure, dimension, filter, order, limit, subject, context

    def as_dict(self) -> dict[str, str]:
        return {"words": self.words, "kind": self.kind, "target": self.target, "role": self.role}


@dataclass(frozen=True)
class EmbeddedAnswer:
    """The embedded engine's answer: SQL, or why there is none."""

    question: str
    outcome: Literal["sql", "non_sql"]
    dialect: str
    explanation: str
    sql: str | None = None  # semantic SQL (model names, metrics)
    native_sql: str | None = None  # expanded for the connection's dialect
    mappings: tuple[WordMapping, ...] = ()
    unmatched: tuple[str, ...] = ()
    reason: str | None = None  # non_sql: write_request, no_match, unclear, too_long

    @property
    def is_sql(self) -> bool:
        return self.outcome == "sql"

    def raise_if_non_sql(self) -> None:
        if not self.is_sql:
            raise NonSqlQuery(self.explanation, reason=self.reason)

    def rendered_context(self) -> str:
        """What the engine saw and did, as text: the embedded engine's "prompt" for prompt logs."""
        lines = [f"question: {self.question}", f"dialect: {self.dialect}", "mappings:"]
        lines += [f"  - {m.words!r} -> {m.kind} {m.target} ({m.role})" for m in self.mappings]
        if self.unmatched:
            lines.append("not understood: " + ", ".join(self.unmatched))
        lines.append(f"outcome: {self.outcome}")
        lines.append(f"explanation: {self.explanation}")
        if self.sql:
            lines.append(f"semantic sql: {self.sql}")
        if self.native_sql:
            lines.append(f"native sql: {self.native_sql}")
        return "\n".join(lines)


# --- the interpretation -------------------------------------------------------------------------


@dataclass
class Item:
    kind: str  # entry, kw, number, range, grain, word, quoted
    first: int
    last: int
    text: str
    entries: list[Entry] = field(default_factory=list)
    kw: str | None = None
    arg: Any = None
    role: str | None = None
    chosen: Entry | None = None


@dataclass
class Measure:
    func: str  # count, count_distinct, sum, avg, min, max, metric
    model: str
    name: str | None = None  # field or metric
    words: str = ""


@dataclass
class Dimension:
    kind: str  # field, model, grain
    model: str | None
    name: str | None = None
    grain: str | None = None
    words: str = ""


@dataclass
class Filter:
    kind: str  # values, compare, range, having
    model: str | None = None
    name: str | None = None
    op: str = "="
    values: list[Any] = field(default_factory=list)
    negated: bool = False
    range: timeexpr.DateRange | None = None
    concept: str | None = None
    measure: Measure | None = None
    words: str = ""


#: (direction "asc"/"desc", what: "measure" / "field" / "field_ref" / "pending", the target)
Order = tuple[str, str, Any]


@dataclass
class Reading:
    measures: list[Measure] = field(default_factory=list)
    dimensions: list[Dimension] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)
    subjects: list[Item] = field(default_factory=list)
    fields: list[Item] = field(default_factory=list)
    order: Order | None = None
    limit: int | None = None
    superlative: tuple[str, str | None, Item] | None = None
    superlative_field: tuple[str, str] | None = None  # "the highest price"
    by_measure: bool = False  # "top 5 genres by number of tracks"
    listing: bool = False
    when: bool = False
    pending_agg: tuple[str, Item] | None = None


class EmbeddedEngine:
    """Translate questions for one semantic model and dialect. Build once, ask many times."""

    def __init__(
        self, model: SemanticModel, dialect: str, values: ValueIndex | None = None
    ) -> None:
        self.model = model
        self.dialect = dialect
        self.index = SemanticIndex(model)
        self.lexicon = Lexicon(self.index, values)
        self._hops: dict[str, dict[str, int]] = {}

    # --- entry point ----------------------------------------------------------------------

    def ask(self, question: str, *, today: date | None = None) -> EmbeddedAnswer:
        """Translate one question; ``today`` anchors "last month" (default: today's date)."""
        today = today or date.today()
        question = question.strip()
        if len(question) > MAX_QUESTION_CHARS:
            return self._non_sql(question, "too_long", "The question is too long to translate.")
        tokens = tokenize(question)
        if not tokens:
            return self._non_sql(question, "no_match", "The question has no words to translate.")
        verb = _write_verb(tokens)
        if verb:
            return self._non_sql(
                question,
                "write_request",
                f"The question asks to {verb} data. Queries here are read-only: they can count, "
                "list and summarise data, never change it.",
            )
        items = self._items(tokens, today)
        reading = self._read(items, tokens)
        return self._answer(question, tokens, items, reading, today)

    # --- step 1: words → items ---------------------------------------------------------------

    def _items(self, tokens: list[Token], today: date) -> list[Item]:
        taken: dict[int, Item] = {}
        for hit in timeexpr.find_time(tokens, today):
            text = " ".join(t.text for t in tokens[hit.first : hit.last + 1])
            if hit.grain:
                item = Item("grain", hit.first, hit.last, text, arg=hit.grain)
            else:
                item = Item("range", hit.first, hit.last, text, arg=hit.range)
            for i in range(hit.first, hit.last + 1):
                taken[i] = item
        items: list[Item] = []
        i = 0
        while i < len(tokens):
            if i in taken:
                item = taken[i]
                items.append(item)
                i = item.last + 1
                continue
            item = self._match_at(tokens, i, taken)
            items.append(item)
            i = item.last + 1
        return items

    def _match_at(self, tokens: list[Token], i: int, taken: dict[int, Item]) -> Item:
        token = tokens[i]
        if token.kind == "quoted":
            entries = self.lexicon.phrases.get(phrase_key(token.text), [])
            return Item("entry" if entries else "quoted", i, i, token.text, entries=list(entries))
        kw_len, kw = self._keyword_at(tokens, i, taken)
        lex_len, entries = self._phrase_at(tokens, i, taken)
        if token.kind == "number" and not kw_len and not lex_len:
            return Item("number", i, i, token.text, arg=token.number)
        # "total" is a keyword before a number-valued phrase ("total sales"), else a field
        bare_total = (
            kw_len == lex_len == 1
            and kw == ("agg", "sum")
            and not self._numeric_next(tokens, i + 1, taken)
        )
        if kw_len and kw_len >= lex_len and not bare_total:
            text = " ".join(t.text for t in tokens[i : i + kw_len])
            return Item("kw", i, i + kw_len - 1, text, kw=kw[0], arg=kw[1])
        if lex_len:
            text = " ".join(t.text for t in tokens[i : i + lex_len])
            return Item("entry", i, i + lex_len - 1, text, entries=list(entries))
        return Item("word", i, i, token.text)

    def _keyword_at(
        self, tokens: list[Token], i: int, taken: dict[int, Item]
    ) -> tuple[int, tuple[str, Any]]:
        for n in range(min(MAX_KEYWORD, len(tokens) - i), 0, -1):
            if any(j in taken for j in range(i, i + n)):
                continue
            key = tuple(t.norm for t in tokens[i : i + n])
            if key in KEYWORDS:
                return n, KEYWORDS[key]
        return 0, ("", None)

    def _phrase_at(
        self, tokens: list[Token], i: int, taken: dict[int, Item]
    ) -> tuple[int, list[Entry]]:
        for n in range(min(MAX_PHRASE, len(tokens) - i), 0, -1):
            window = tokens[i : i + n]
            if any(j in taken for j in range(i, i + n)) or any(
                t.kind in ("quoted", "op") for t in window
            ):
                continue
            key = tuple(t.stem for t in window)
            entries = self.lexicon.phrases.get(key)
            if not entries or all(t.norm in STOPWORDS for t in window):
                continue
            return n, entries
        return 0, []

    def _numeric_next(self, tokens: list[Token], i: int, taken: dict[int, Item]) -> bool:
        n, entries = self._phrase_at(tokens, i, taken)
        if not n:
            return False
        for entry in entries:
            if entry.kind == "metric":
                return True
            if entry.kind == "field" and entry.name:
                info = self.lexicon.field(entry.model, entry.name)
                if info.kind == "number" and not info.key:
                    return True
        return False

    # --- step 2: roles -------------------------------------------------------------------------

    def _read(self, items: list[Item], tokens: list[Token]) -> Reading:
        r = Reading()
        self._settle(items, tokens)
        pending_count = False
        pending_distinct = False
        pending_group = False
        pending_neg = False
        pending_sort = False
        pending_cmp: tuple[str, str | None, Item | None, Item] | None = None
        pending_top: str | None = None
        last_value: Filter | None = None
        last_significant: Item | None = None
        for pos, item in enumerate(items):
            nxt = _next_significant(items, pos)
            if item.kind == "kw":
                kw = item.kw
                if kw in ("count", "agg") and pending_group:
                    pending_group = False  # "by number of orders": ranks, does not group
                    r.by_measure = True
                if kw == "count":
                    pending_count = True
                    prev = last_significant
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
                        r.measures.append(Measure("count", model, words=f"{prev.text} {item.text}"))
                        prev.role = "measure"
                        r.subjects = [s for s in r.subjects if s is not prev]
                        pending_count = False
                    item.role = "measure"
                elif kw == "agg":
                    r.pending_agg = (item.arg, item)
                    item.role = "measure"
                elif kw == "distinct":
                    pending_distinct = True
                    item.role = "measure"
                elif kw == "group":
                    pending_group = True
                    item.role = "dimension"
                elif kw == "neg":
                    pending_neg = True
                    item.role = "filter"
                elif kw == "sort":
                    pending_sort = True
                    item.role = "order"
                elif kw == "dir":
                    direction = str(item.arg)
                    if r.order is not None:
                        r.order = (direction, r.order[1], r.order[2])
                    else:
                        r.order = (direction, "pending", None)
                    item.role = "order"
                elif kw == "list":
                    r.listing = True
                    item.role = "context"
                elif kw == "when":
                    r.when = True
                    item.role = "context"
                elif kw == "top":
                    pending_top = str(item.arg)
                    item.role = "order"
                    if nxt is not None and nxt.kind == "number":
                        r.limit = int(nxt.arg)
                        nxt.role = "limit"
                    elif r.limit is None:
                        r.limit = 10 if not _singular_next(items, pos) else 1
                elif kw == "sup":
                    r.superlative = (item.arg[0], item.arg[1], item)
                    item.role = "order"
                    if nxt is not None and nxt.kind == "entry" and nxt.chosen:
                        chosen = nxt.chosen
                        if chosen.kind == "model" and item.arg[1] is None:
                            # "the most customers": count them, rank by the count
                            nxt.role = "measure"
                            m = Measure("count", chosen.model, words=nxt.text)
                            r.measures.append(m)
                            r.order = (item.arg[0], "measure", m)
                elif kw == "cmp":
                    op, concept = item.arg
                    subject_field = None
                    if (
                        last_significant is not None
                        and last_significant.kind == "entry"
                        and last_significant.chosen is not None
                        and last_significant.chosen.kind == "field"
                        and last_significant.role in (None, "context")
                    ):
                        subject_field = last_significant
                    pending_cmp = (op, concept, subject_field, item)
                    item.role = "filter"
                elif kw == "conj":
                    item.role = "context"
                if kw not in ("conj",):
                    last_significant = item
                continue
            if item.kind == "number":
                if pending_cmp is not None:
                    self._compare(r, items, pos, pending_cmp, pending_neg)
                    pending_cmp, pending_neg = None, False
                elif (
                    nxt is not None
                    and (nxt.kind == "entry" or (nxt.kind == "kw" and nxt.kw in ("sup", "top")))
                    and (r.limit is None or (last_significant and last_significant.kw == "top"))
                ):
                    r.limit = int(item.arg)
                    item.role = "limit"
                last_significant = item
                continue
            if item.kind == "range":
                f = Filter("range", range=item.arg, words=item.text)
                near = self._time_item(last_significant) or self._time_item(nxt)
                if near is not None and near.chosen is not None:
                    f.model, f.name = near.chosen.model, near.chosen.name
                    near.role = "filter"
                r.filters.append(f)
                item.role = "filter"
                last_significant = item
                continue
            if item.kind == "grain":
                r.dimensions.append(Dimension("grain", None, grain=item.arg, words=item.text))
                item.role = "dimension"
                pending_group = False
                last_significant = item
                continue
            if item.kind != "entry" or item.chosen is None:
                if item.kind == "word" and item.text.lower() in CONCEPT_WORDS:
                    concept = CONCEPT_WORDS[item.text.lower()]
                    if pending_cmp is not None and pending_cmp[1] is None:
                        pending_cmp = (pending_cmp[0], concept, pending_cmp[2], pending_cmp[3])
                    elif concept == "sales" and self._metric_for("sales"):
                        metric = self._metric_for("sales")
                        assert metric is not None
                        m = Measure("metric", metric[0], metric[1], words=item.text)
                        r.measures.append(m)
                        item.role = "measure"
                    item.role = item.role or "context"
                    if item.role == "context":
                        item.kind = "concept"
                        item.arg = concept
                        # "which products cost less than 10": the next comparison uses it
                        if pending_cmp is None:
                            last_significant = item
                continue
            entry = item.chosen
            if entry.kind == "value":
                last_value = self._value_filter(r, item, entry, last_value, items, pos, pending_neg)
                pending_neg = False
                pending_group = False  # "albums by Led Zeppelin": a filter, not a grouping
                last_significant = item
                continue
            if entry.kind == "metric":
                m = Measure("metric", entry.model, entry.name, words=item.text)
                r.measures.append(m)
                item.role = "measure"
                if pending_group or pending_sort or pending_top:
                    r.order = (r.order[0] if r.order else "desc", "measure", m)
                    pending_group = pending_sort = False
                r.pending_agg = None
                pending_count = False
                last_significant = item
                continue
            if entry.kind == "model":
                if pending_group:
                    r.dimensions.append(Dimension("model", entry.model, words=item.text))
                    item.role = "dimension"
                    pending_group = False
                elif pending_count:
                    r.measures.append(Measure("count", entry.model, words=item.text))
                    item.role = "measure"
                    pending_count = pending_distinct = False
                elif item.role is None:
                    item.role = "subject"
                    r.subjects.append(item)
                last_significant = item
                continue
            # a field
            info = self.lexicon.field(entry.model, str(entry.name))
            if pending_group:
                r.dimensions.append(Dimension("field", entry.model, entry.name, words=item.text))
                item.role = "dimension"
                pending_group = False
            elif pending_sort:
                r.order = (r.order[0] if r.order and r.order[0] else "asc", "field", item)
                item.role = "order"
                pending_sort = False
            elif pending_count and entry.via == "qualified" and info.kind != "number":
                # "how many customers signed up": count the model, keep the field for dates
                r.measures.append(Measure("count", entry.model, words=item.text))
                item.role = "context"
                r.fields.append(item)
                pending_count = pending_distinct = False
            elif pending_count:
                if info.kind == "number" and not info.key and not pending_distinct:
                    r.measures.append(Measure("sum", entry.model, entry.name, words=item.text))
                else:
                    r.measures.append(
                        Measure("count_distinct", entry.model, entry.name, words=item.text)
                    )
                item.role = "measure"
                pending_count = pending_distinct = False
            elif r.pending_agg is not None and info.kind in ("number", "time"):
                func, agg_item = r.pending_agg
                r.measures.append(
                    Measure(func, entry.model, entry.name, words=f"{agg_item.text} {item.text}")
                )
                item.role = "measure"
                r.pending_agg = None
            elif (
                r.superlative is not None
                and last_significant is r.superlative[2]
                and info.kind in ("number", "time")
            ):
                item.role = "order"
                r.superlative_field = (entry.model, str(entry.name))
            else:
                r.fields.append(item)
            last_significant = item
        return r

    def _time_item(self, item: Item | None) -> Item | None:
        """``item`` if it names a date or time field not used otherwise ("signed up")."""
        if item is None or item.kind != "entry" or item.chosen is None:
            return None
        if item.chosen.kind != "field" or item.role not in (None, "context"):
            return None
        info = self.lexicon.field(item.chosen.model, str(item.chosen.name))
        return item if info.kind == "time" else None

    def _compare(
        self,
        r: Reading,
        items: list[Item],
        pos: int,
        pending: tuple[str, str | None, Item | None, Item],
        negated: bool,
    ) -> None:
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
                and items[j].kw
                in (
                    "conj",
                    None,
                )
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
        nxt = _next_significant(items, pos if op != "between" else nxt_pos - 1)
        if nxt is not None and nxt.kind == "unit":
            nxt = _next_significant(items, items.index(nxt))
        if subject_field is not None and subject_field.chosen is not None:
            f.model, f.name = subject_field.chosen.model, subject_field.chosen.name
            subject_field.role = "filter"
            if subject_field in r.fields:
                r.fields.remove(subject_field)
        elif nxt is not None and nxt.kind == "entry" and nxt.chosen and nxt.chosen.kind == "model":
            # "more than 40 orders": a count per group
            f.kind = "having"
            f.measure = Measure("count", nxt.chosen.model, words=nxt.text)
            nxt.role = "filter"
        elif nxt is not None and nxt.kind == "entry" and nxt.chosen and nxt.chosen.kind == "field":
            info = self.lexicon.field(nxt.chosen.model, str(nxt.chosen.name))
            if info.kind == "number":
                f.model, f.name = nxt.chosen.model, nxt.chosen.name
                nxt.role = "filter"
        r.filters.append(f)

    def _value_filter(
        self,
        r: Reading,
        item: Item,
        entry: Entry,
        last: Filter | None,
        items: list[Item],
        pos: int,
        negated: bool,
    ) -> Filter:
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
            and _only_connectors(items, last, pos)
            and not negated
        ):
            last.values.append(value)
            last.words += f", {item.text}"
            return last
        f = Filter("values", entry.model, entry.name, values=[value], words=item.text)
        f.negated = negated
        r.filters.append(f)
        return f

    def _settle(self, items: list[Item], tokens: list[Token]) -> None:
        """Pick one meaning for every phrase, preferring the models the question names."""
        lowercase_question = not any(t.text[:1].isupper() for t in tokens[1:] if t.kind == "word")
        named: list[str] = []
        for item in items:
            if item.kind == "entry":
                schema = [e for e in item.entries if e.kind != "value"]
                if schema:
                    item.entries = schema
                if all(e.kind == "model" for e in item.entries) or all(
                    e.kind == "metric" for e in item.entries
                ):
                    named.append(item.entries[0].model)
        for pos, item in enumerate(items):
            if item.kind != "entry":
                continue
            if item.entries[0].kind == "value":
                accepted = [
                    e
                    for e in item.entries
                    if self._value_ok(e, item, items, pos, tokens, lowercase_question)
                ]
                if not accepted:
                    item.kind = "word"
                    continue
                item.entries = accepted
            item.chosen = self._choose(item, items, pos, named)

    def _value_ok(
        self,
        entry: Entry,
        item: Item,
        items: list[Item],
        pos: int,
        tokens: list[Token],
        lowercase_question: bool,
    ) -> bool:
        if entry.via == "boolean" or item.last > item.first or lowercase_question:
            return True
        token = tokens[item.first]
        if token.kind == "quoted":
            return True
        stored = entry.exact_case or ""
        if token.text == stored or token.text in stored.split():
            return True
        for other in items[max(0, pos - 2) : pos + 3]:
            if other is item or other.kind != "entry":
                continue
            for e in other.entries:
                if e.model == entry.model and (e.kind == "model" or e.name == entry.name):
                    return True
        return False

    def _choose(self, item: Item, items: list[Item], pos: int, named: list[str]) -> Entry:
        entries = item.entries
        if len(entries) == 1:
            return entries[0]
        nearby_fields = {
            (e.model.lower(), (e.name or "").lower())
            for other in items[max(0, pos - 2) : pos + 3]
            if other is not item and other.kind == "entry"
            for e in other.entries
            if e.kind == "field"
        }
        named_lower = [n.lower() for n in named]

        def score(entry: Entry) -> tuple[int, int, int, int, int]:
            model = entry.model.lower()
            adjacent = int(
                entry.kind == "value" and (model, (entry.name or "").lower()) in nearby_fields
            )
            in_question = int(model in named_lower)
            distance = min((self._distance(n, model) for n in named_lower), default=1000)
            via = _VIA_RANK.get(entry.via, 0)
            kind_rank = {"model": 3, "metric": 2, "field": 1, "value": 1}[entry.kind]
            return (adjacent, in_question, -distance, via, kind_rank)

        return max(entries, key=score)

    def _distance(self, a: str, b: str) -> int:
        if a not in self._hops:
            self._hops[a] = hops(self.index, a)
        return self._hops[a].get(b, 1000)

    # --- step 3 and 4: the query -------------------------------------------------------------

    def _answer(
        self,
        question: str,
        tokens: list[Token],
        items: list[Item],
        r: Reading,
        today: date,
    ) -> EmbeddedAnswer:
        mentions = [i for i in items if i.kind == "entry" and i.chosen and i.chosen.kind != "value"]
        unmatched = tuple(
            i.text
            for i in items
            if i.kind in ("word", "quoted") and i.text.lower() not in STOPWORDS
        )
        values = [i for i in items if i.kind == "entry" and i.chosen and i.chosen.kind == "value"]
        asks = any(i.kind == "kw" and i.kw in ("count", "list", "agg") for i in items)
        if not mentions and not (values and asks):
            return self._non_sql(
                question,
                "no_match",
                self._nothing_found(items, unmatched),
                items=items,
                unmatched=unmatched,
            )
        content = [t for t in tokens if t.norm not in STOPWORDS and t.kind != "number"]
        understood = {
            j for i in items if i.kind not in ("word", "quoted") for j in range(i.first, i.last + 1)
        }
        covered = [t for k, t in enumerate(tokens) if k in understood and t in content]
        if content and len(covered) * 2 < len(content):
            return self._non_sql(
                question,
                "unclear",
                "Too little of the question maps to the semantic model to answer it reliably. "
                + self._summary(items, unmatched),
                items=items,
                unmatched=unmatched,
            )
        try:
            plan = self._plan(r, items)
            tree, joins = self._build(plan)
        except _CannotAnswer as exc:
            return self._non_sql(
                question,
                "unsupported",
                f"{exc} " + self._summary(items, unmatched),
                items=items,
                unmatched=unmatched,
            )
        semantic = tree.sql(dialect=self.dialect)
        native = expand_tree(tree, self.index, self.dialect).sql(dialect=self.dialect)
        for sql in (semantic, native):
            analysis = analyze(sql, self.dialect)
            if not analysis.is_valid:  # pragma: no cover - a bug in the builder, not user input
                return self._non_sql(
                    question, "unsupported", f"The generated SQL was refused: {analysis.error}"
                )
        check_native(native, self.dialect)
        return EmbeddedAnswer(
            question=question,
            outcome="sql",
            dialect=self.dialect,
            explanation=self._explain(plan, joins, unmatched),
            sql=semantic,
            native_sql=native,
            mappings=_mappings(items),
            unmatched=unmatched,
        )

    # planning: settle measures, dimensions, order and the root model

    def _plan(self, r: Reading, items: list[Item]) -> Plan:
        subject = r.subjects[0].chosen.model if r.subjects and r.subjects[0].chosen else None
        if subject is None:
            named = [
                i.chosen.model
                for i in items
                if i.kind == "entry" and i.chosen and i.chosen.kind in ("model", "field")
            ]
            subject = named[0] if named else None
        measures = list(r.measures)
        dims = list(r.dimensions)
        order = r.order
        limit = r.limit
        filters = list(r.filters)
        sup = r.superlative

        # "when was the first order placed": MIN/MAX of the time column
        if r.when and sup is not None and not measures:
            model = subject or (
                r.fields[0].chosen.model if r.fields and r.fields[0].chosen else None
            )
            if model:
                time = self._time_field_of(model, r)
                if time:
                    measures.append(
                        Measure("min" if sup[0] == "asc" else "max", time[0], time[1], sup[2].text)
                    )
                    sup = None
        # a pending aggregate word whose field came before it or never came
        if r.pending_agg is not None and not measures:
            func, agg_item = r.pending_agg
            target = self._numeric_mention(r, subject)
            if target is not None:
                measures.append(Measure(func, target[0], target[1], agg_item.text))
            elif subject and self._default_measure(subject):
                m = self._default_measure(subject)
                assert m is not None
                measures.append(Measure(func, m[0], m[1], agg_item.text))
        # havings group by the subject
        havings = [f for f in filters if f.kind == "having"]
        for f in havings:
            assert f.measure is not None
            if subject and not dims:
                dims.append(Dimension("model", subject, words=""))
            if not measures:
                measures.append(f.measure)

        if sup is not None:
            direction, concept, sup_item = sup
            ranking = bool(limit) or bool(dims) or r.listing or r.order is not None
            if measures and (ranking or not concept):
                if order is None or order[1] == "pending":
                    order = (direction, "measure", measures[0])
            elif ranking or (r.listing and subject):
                ranked = self._concept_target(concept, subject, r, r.superlative_field)
                if ranked is not None and ranked[0] == "metric":
                    ranked_metric = Measure("metric", ranked[1], ranked[2], sup_item.text)
                    measures.append(ranked_metric)
                    order = (direction, "measure", ranked_metric)
                elif ranked is not None:
                    order = (direction, "field_ref", (ranked[1], ranked[2]))
                    if limit is None:
                        limit = 1 if _singular_subject(r) else None
            else:
                ranked = self._concept_target(concept, subject, r, r.superlative_field)
                if ranked is not None and ranked[0] == "metric":
                    measures.append(Measure("metric", ranked[1], ranked[2], sup_item.text))
                elif ranked is not None:
                    func = "max" if direction == "desc" else "min"
                    measures.append(Measure(func, ranked[1], ranked[2], sup_item.text))
        if r.by_measure and measures and (order is None or order[1] == "pending"):
            order = (order[0] if order and order[0] else "desc", "measure", measures[-1])
        # "top 10 customers by number of orders": the subject is what is ranked
        if measures and not dims and (limit is not None or order is not None):
            owner = self._ranked_subject(r, measures)
            if owner is not None:
                dims.append(owner)
                if order is None or order[1] == "pending":
                    order = (order[0] if order else "desc", "measure", measures[0])
                if limit is None and _singular_subject(r):
                    limit = 1
        # "which country has the most customers": the field named after which/what
        if measures and not dims and order is not None and r.fields:
            first = r.fields[0]
            assert first.chosen is not None
            dims.append(Dimension("field", first.chosen.model, first.chosen.name, words=first.text))
            first.role = "dimension"
            if limit is None:
                limit = 1 if _singular_item(first) else None
        # a lone numeric field: "what was the total invoiced", "what is the total amount"
        if not measures and not r.listing:
            numeric = self._numeric_mention(r, subject)
            if numeric is not None:
                measures.append(Measure("sum", numeric[0], numeric[1]))
        if not measures and dims:
            model = subject or (dims[0].model if dims[0].model else None)
            if model is None:
                raise _CannotAnswer("I could not tell what to count per group.")
            measures.append(Measure("count", model))
        if not measures and subject is None:
            raise _CannotAnswer("I could not tell which model the question is about.")
        # root: the first measure's model, else the subject
        root = measures[0].model if measures else str(subject)
        if measures and measures[0].func == "unit":
            root = str(subject)
        # comparisons without a field: the concept's field or the default measure
        for f in filters:
            if f.kind == "compare" and f.name is None:
                base = subject or root
                compared = self._concept_target(f.concept, base, r) if f.concept else None
                if compared is None or compared[0] == "metric":
                    default = self._default_measure(base)
                    compared = ("field", default[0], default[1]) if default else None
                if compared is None:
                    raise _CannotAnswer(f"I could not tell what '{f.words}' compares.")
                f.model, f.name = compared[1], compared[2]
                if f.measure is not None and f.measure.func == "unit":
                    f.values = [self._from_seconds(compared[2], v) for v in f.values]
        # date ranges and grains need a time column
        for f in filters:
            if f.kind == "range" and f.name is None:
                time = self._time_field_of(root, r)
                if time is None:
                    raise _CannotAnswer(f"I found no date column for '{f.words}'.")
                f.model, f.name = time
        for d in dims:
            if d.kind == "grain":
                time = self._time_field_of(root, r)
                if time is None:
                    raise _CannotAnswer(f"I found no date column to group '{d.words}' by.")
                d.model, d.name = time
        if order is not None and order[1] == "field" and isinstance(order[2], Item):
            chosen = order[2].chosen
            assert chosen is not None
            order = (order[0] or "asc", "field_ref", (chosen.model, str(chosen.name)))
        if order is not None and order[1] == "pending":
            order = (order[0], "measure", measures[0]) if measures else None
        listing = not measures
        columns: list[tuple[str, str]] = []
        if listing:
            for item in r.fields:
                if item.chosen is not None and item.role is None:
                    columns.append((item.chosen.model, str(item.chosen.name)))
        return Plan(
            root=root,
            measures=measures,
            dimensions=dims,
            filters=filters,
            order=order,
            limit=limit,
            listing=listing,
            subject=subject,
            extra_columns=columns,
        )

    def _ranked_subject(self, r: Reading, measures: list[Measure]) -> Dimension | None:
        for item in r.subjects:
            chosen = item.chosen
            if chosen is None or item.role != "subject":
                continue
            if any(m.model.lower() == chosen.model.lower() and m.func == "count" for m in measures):
                continue
            item.role = "dimension"
            return Dimension("model", chosen.model, words=item.text)
        return None

    def _numeric_mention(self, r: Reading, subject: str | None) -> tuple[str, str] | None:
        for item in r.fields:
            chosen = item.chosen
            if chosen is None or item.role not in (None, "context"):
                continue
            info = self.lexicon.field(chosen.model, str(chosen.name))
            if info.kind == "number" and not info.key:
                item.role = "measure"
                return chosen.model, str(chosen.name)
        return None

    def _concept_target(
        self,
        concept: str | None,
        model: str | None,
        r: Reading,
        named: tuple[str, str] | None = None,
    ) -> tuple[str, str, str] | None:
        """("field", model, field) or ("metric", model, metric) that a concept word means;
        ``named`` is a field the question put right after the superlative."""
        if named is not None:
            return ("field", named[0], named[1])
        if model is None:
            return None
        if concept is None:
            numeric = self._numeric_mention(r, model)
            if numeric:
                return ("field", numeric[0], numeric[1])
            default = self._default_measure(model)
            return ("field", default[0], default[1]) if default else None
        if concept == "time":
            time = self._time_field_of(model, r)
            return ("field", time[0], time[1]) if time else None
        if concept == "sales":
            metric = self._metric_for("sales", model)
            if metric:
                return ("metric", metric[0], metric[1])
        for candidate in self._nearby_models(model):
            found = self._field_with_words(candidate, CONCEPT_FIELDS.get(concept, (concept,)))
            if found:
                return ("field", candidate, found)
        if concept == "size":
            default = self._default_measure(model)
            return ("field", default[0], default[1]) if default else None
        return None

    def _nearby_models(self, model: str) -> list[str]:
        distances = self._hops.get(model.lower()) or hops(self.index, model)
        self._hops[model.lower()] = distances
        ordered = sorted(distances.items(), key=lambda kv: kv[1])
        return [self.index.models[name].name for name, cost in ordered if cost <= 10]

    def _field_with_words(self, model: str, words: tuple[str, ...]) -> str | None:
        m = self.index.get_model(model)
        if m is None:
            return None
        stems = {stem(w) for w in words}
        fields: list[Column | CalculatedField] = [*m.columns, *m.calculated_fields]
        for f in fields:
            info = self.lexicon.field(m.name, f.name)
            if info.kind != "number" or info.key:
                continue
            names = [tuple(identifier_words(f.name))] + [phrase_key(s) for s in f.synonyms]
            if any(stems & {stem(w) for w in ws} for ws in names):
                return str(f.name)
        return None

    def _default_measure(self, model: str) -> tuple[str, str] | None:
        m = self.index.get_model(model)
        if m is None:
            return None
        fields: list[Column | CalculatedField] = [*m.columns, *m.calculated_fields]
        numeric = [
            f.name
            for f in fields
            if (info := self.lexicon.field(m.name, f.name)).kind == "number" and not info.key
        ]
        for preferred in (("amount", "total"), ("revenue", "value", "price"), ("quantity",)):
            for name in numeric:
                if any(w in preferred for w in identifier_words(name)):
                    return m.name, name
        return (m.name, numeric[0]) if numeric else None

    def _metric_for(self, concept: str, model: str | None = None) -> tuple[str, str] | None:
        wanted = {stem(w) for w in CONCEPT_FIELDS.get(concept, (concept,))}
        for metric in self.index.model.metrics:
            words = {stem(w) for w in identifier_words(metric.name)}
            for synonym in metric.synonyms:
                words |= set(phrase_key(synonym))
            if words & wanted:
                return metric.model, metric.name
        return None

    def _time_field_of(self, model: str, r: Reading) -> tuple[str, str] | None:
        for item in r.fields:
            chosen = item.chosen
            if (
                chosen is not None
                and self.lexicon.field(chosen.model, str(chosen.name)).kind == "time"
            ):
                item.role = item.role or "filter"
                return chosen.model, str(chosen.name)
        for candidate in self._to_one_models(model):
            m = self.index.get_model(candidate)
            assert m is not None
            if m.time_column:
                return m.name, m.time_column
        m = self.index.get_model(model)
        if m is not None:
            for f in m.columns:
                if self.lexicon.field(m.name, f.name).kind == "time":
                    return m.name, f.name
        return None

    def _to_one_models(self, model: str) -> list[str]:
        """``model`` and the models reachable from it by to-one steps, nearest first."""
        out = [model]
        seen = {model.lower()}
        frontier = [model]
        while frontier:
            nxt = []
            for name in frontier:
                for join in self.index.joins.get(name.lower(), ()):
                    if join.to_one and join.right.lower() not in seen:
                        seen.add(join.right.lower())
                        out.append(join.right)
                        nxt.append(join.right)
            frontier = nxt
        return out

    def _from_seconds(self, name: str, seconds: float) -> float:
        words = identifier_words(name)
        if "milliseconds" in words or "ms" in words:
            return seconds * 1000
        if "minutes" in words:
            return seconds / 60
        if "hours" in words:
            return seconds / 3600
        return seconds

    # building the SQL tree

    def _build(self, plan: Plan) -> tuple[exp.Select, JoinPlan]:
        needed: list[str] = []

        def need(model: str | None) -> None:
            if model and model.lower() not in [n.lower() for n in needed]:
                needed.append(model)

        for m in plan.measures:
            need(m.model)
        for d in plan.dimensions:
            need(d.model)
        for f in plan.filters:
            need(f.model)
            if f.measure is not None and f.measure.model:
                need(f.measure.model)
        if plan.order is not None and plan.order[1] == "field_ref":
            need(plan.order[2][0])
        for model, _ in plan.extra_columns:
            need(model)
        joins = plan_joins(
            self.index, plan.root, [n for n in needed if n.lower() != plan.root.lower()]
        )
        if joins is None:
            names = ", ".join(needed)
            raise _CannotAnswer(f"The models {names} are not connected by relationships.")
        select = exp.Select().from_(exp.Table(this=_ident(joins.root)))
        for step in joins.steps:
            on = exp.and_(
                *(
                    exp.EQ(this=_col(step.left, lc), expression=_col(step.right, rc))
                    for lc, rc in zip(step.left_columns, step.right_columns, strict=True)
                )
            )
            select = select.join(exp.Table(this=_ident(step.right)), on=on)
        fan_out = joins.fans_out
        group: list[exp.Expr] = []
        projections: list[exp.Expr] = []
        used_names: set[str] = set()

        def output(name: str) -> str:
            base = re.sub(r"\W+", "_", name).strip("_").lower() or "value"
            candidate, n = base, 2
            while candidate in used_names:
                candidate, n = f"{base}_{n}", n + 1
            used_names.add(candidate)
            return candidate

        dimension_aliases: list[str] = []
        for d in plan.dimensions:
            expr: exp.Expr
            if d.kind == "model":
                dim_model = self.index.get_model(str(d.model))
                assert dim_model is not None
                for name in _model_display(dim_model):
                    expr = _col(dim_model.name, name)
                    alias = output(
                        name if name.lower() not in used_names else f"{dim_model.name}_{name}"
                    )
                    projections.append(exp.alias_(expr, _ident(alias)))
                    group.append(expr.copy())
                    dimension_aliases.append(alias)
            elif d.kind == "grain":
                expr = timeexpr.bucket(_col(str(d.model), str(d.name)), str(d.grain), self.dialect)
                alias = output(str(d.grain))
                projections.append(exp.alias_(expr, _ident(alias)))
                group.append(expr.copy())
                dimension_aliases.append(alias)
            else:
                expr = _col(str(d.model), str(d.name))
                alias = output(str(d.name))
                projections.append(exp.alias_(expr, _ident(alias)))
                group.append(expr.copy())
                dimension_aliases.append(alias)
        measure_aliases: dict[int, str] = {}
        for m in plan.measures:
            expr, name = self._measure_sql(m, fan_out)
            alias = output(name)
            measure_aliases[id(m)] = alias
            projections.append(exp.alias_(expr, _ident(alias)))
        if plan.listing:
            base = self.index.get_model(plan.root)
            assert base is not None
            for column in base.columns:
                projections.append(_col(base.name, column.name))
                used_names.add(column.name.lower())
            for model, name in plan.extra_columns:
                if model.lower() != base.name.lower():
                    projections.append(
                        exp.alias_(_col(model, name), _ident(output(f"{model}_{name}")))
                    )
            if plan.order is not None and plan.order[1] == "field_ref":
                model, name = plan.order[2]
                if model.lower() != base.name.lower():
                    projections.append(
                        exp.alias_(_col(model, name), _ident(output(f"{model}_{name}")))
                    )
        select = select.select(*projections)
        where: list[exp.Expr] = []
        having: list[exp.Expr] = []
        for f in plan.filters:
            condition = self._condition(f, fan_out)
            if condition is None:
                continue
            (having if f.kind == "having" else where).append(condition)
        if where:
            select = select.where(exp.and_(*where))
        if group and plan.measures:
            select = select.group_by(*group)
        if having:
            select = select.having(exp.and_(*having))
        if plan.listing and fan_out:
            select = select.distinct()
        order = plan.order
        if order is not None:
            direction = order[0] == "desc"
            if order[1] == "measure" and id(order[2]) in measure_aliases:
                target: exp.Expr = exp.column(_ident(measure_aliases[id(order[2])]))
            elif order[1] == "field_ref":
                target = _col(order[2][0], order[2][1])
            else:
                target = None  # type: ignore[assignment]
            if target is not None:
                select = select.order_by(exp.Ordered(this=target, desc=direction))
        elif group and plan.measures:
            if any(d.kind == "grain" for d in plan.dimensions):
                select = select.order_by(*(exp.column(_ident(a)) for a in dimension_aliases))
            elif plan.measures:
                first = measure_aliases[id(plan.measures[0])]
                select = select.order_by(exp.Ordered(this=exp.column(_ident(first)), desc=True))
        if plan.limit is not None:
            select = select.limit(plan.limit)
        return select, joins

    def _measure_sql(self, m: Measure, fan_out: bool) -> tuple[exp.Expr, str]:
        if m.func == "count":
            model = self.index.get_model(m.model)
            assert model is not None
            if fan_out and len(model.primary_key) == 1:
                key = _col(model.name, model.primary_key[0])
                return exp.Count(this=exp.Distinct(expressions=[key])), f"count_{model.name}"
            return exp.Count(this=exp.Star()), f"count_{model.name}"
        if m.func == "metric":
            return _col(m.model, str(m.name)), str(m.name)
        column = _col(m.model, str(m.name))
        if m.func == "count_distinct":
            return exp.Count(this=exp.Distinct(expressions=[column])), f"count_distinct_{m.name}"
        func = {"sum": exp.Sum, "avg": exp.Avg, "min": exp.Min, "max": exp.Max}[m.func]
        return func(this=column), f"{m.func}_{m.name}"

    def _condition(self, f: Filter, fan_out: bool) -> exp.Expr | None:
        if f.kind == "having":
            assert f.measure is not None
            expr, _ = self._measure_sql(f.measure, True)
            return _compare(expr, f.op, f.values)
        if f.model is None or f.name is None:
            return None
        column = _col(f.model, f.name)
        if f.kind == "range":
            assert f.range is not None
            parts: list[exp.Expr] = []
            if f.range.start is not None:
                parts.append(
                    exp.GTE(this=column, expression=exp.Literal.string(f.range.start.isoformat()))
                )
            if f.range.end is not None:
                parts.append(
                    exp.LT(
                        this=column.copy(), expression=exp.Literal.string(f.range.end.isoformat())
                    )
                )
            return exp.and_(*parts) if parts else None
        if f.kind == "compare":
            condition = _compare(column, f.op, f.values)
            return exp.Not(this=condition) if f.negated else condition
        # values
        literals = [_literal(v) for v in f.values]
        matches: exp.Expr
        if len(literals) == 1:
            matches = exp.EQ(this=column, expression=literals[0])
        else:
            matches = exp.In(this=column, expressions=literals)
        if f.negated:
            if isinstance(matches, exp.EQ):
                return exp.NEQ(this=matches.this, expression=matches.expression)
            return exp.Not(this=matches)
        return matches

    # explanations

    def _explain(self, plan: Plan, joins: JoinPlan, unmatched: tuple[str, ...]) -> str:
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
        conditions = [_describe_filter(f) for f in plan.filters if f.model or f.kind == "having"]
        if conditions:
            parts.append("where " + " and ".join(conditions))
        if plan.order is not None:
            what = (
                _describe_measure(plan.order[2]) if plan.order[1] == "measure"
                else ".".join(plan.order[2]) if plan.order[1] == "field_ref" else "?"
            )  # fmt: skip
            word = "highest" if plan.order[0] == "desc" else "lowest"
            parts.append(f"ordered by {what}, {word} first")
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

    def _summary(self, items: list[Item], unmatched: tuple[str, ...]) -> str:
        understood = [
            f"'{i.text}' ({i.chosen.part if i.chosen else i.kind})"
            for i in items
            if i.kind == "entry" and i.chosen
        ] + [f"'{i.text}' ({i.kind})" for i in items if i.kind in ("range", "grain")]
        text = ""
        if understood:
            text += "Understood: " + ", ".join(understood) + ". "
        if unmatched:
            text += (
                "Not found in the semantic model: " + ", ".join(f"'{u}'" for u in unmatched) + "."
            )
        return text.strip()

    def _nothing_found(self, items: list[Item], unmatched: tuple[str, ...]) -> str:
        models = ", ".join(m.name for m in self.model.models[:12])
        more = " and more" if len(self.model.models) > 12 else ""
        text = "Nothing in the question names a model, field or metric of the semantic model"
        text += f" (it covers {models}{more})." if models else "."
        summary = self._summary(items, unmatched)
        return f"{text} {summary}".strip()

    def _non_sql(
        self,
        question: str,
        reason: str,
        explanation: str,
        *,
        items: list[Item] | None = None,
        unmatched: tuple[str, ...] = (),
    ) -> EmbeddedAnswer:
        return EmbeddedAnswer(
            question=question,
            outcome="non_sql",
            dialect=self.dialect,
            explanation=explanation,
            mappings=_mappings(items or []),
            unmatched=unmatched,
            reason=reason,
        )


@dataclass
class Plan:
    root: str
    measures: list[Measure]
    dimensions: list[Dimension]
    filters: list[Filter]
    order: Order | None
    limit: int | None
    listing: bool
    subject: str | None
    extra_columns: list[tuple[str, str]]


class _CannotAnswer(Exception):
    pass


_VIA_RANK = {"name": 3, "qualified": 3, "value": 3, "boolean": 3, "synonym": 2, "short": 1}


# --- helpers --------------------------------------------------------------------------------


def _write_verb(tokens: list[Token]) -> str | None:
    words = [t.norm for t in tokens if t.kind == "word"]
    lead = _LEAD_WORDS
    for word in words[:6]:
        if word in WRITE_VERBS:
            return word
        if word not in lead:
            return None
    return None


def _next_significant(items: list[Item], pos: int) -> Item | None:
    for item in items[pos + 1 :]:
        if item.kind == "word" and item.text.lower() in STOPWORDS:
            continue
        if item.kind == "kw" and item.kw == "conj":
            continue
        return item
    return None


def _only_connectors(items: list[Item], last: Filter, pos: int) -> bool:
    for item in reversed(items[:pos]):
        if item.kind == "entry" and item.chosen and item.chosen.kind == "value":
            return True
        if item.kind == "kw" and item.kw in ("conj",):
            continue
        if item.kind == "word" and item.text.lower() in STOPWORDS:
            continue
        return False
    return False


def _singular_next(items: list[Item], pos: int) -> bool:
    nxt = _next_significant(items, pos)
    return nxt is not None and _singular_item(nxt)


def _singular_item(item: Item) -> bool:
    word = item.text.split()[-1].lower() if item.text else ""
    return bool(word) and not word.endswith("s")


def _singular_subject(r: Reading) -> bool:
    for item in r.subjects + r.fields:
        return _singular_item(item)
    return False


def _ident(name: str) -> exp.Identifier:
    return (
        quoted_if_needed(name)
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name)
        else (exp.to_identifier(name, quoted=name.upper() in _RESERVED))
    )


_RESERVED = _words(
    "ORDER GROUP SELECT FROM WHERE TABLE USER YEAR MONTH DAY WEEK QUARTER LIMIT OFFSET KEY "
    "DESC ASC BY TO AS ON IN IS NOT NULL AND OR CASE END ALL ANY"
)
#: Words that may come before an imperative verb ("please delete", "can you drop").
_LEAD_WORDS = _words(
    "please can could would you i want to let us lets let's go ahead and now just kindly need "
    "we should"
)


def _col(model: str, name: str) -> exp.Column:
    return exp.Column(this=_ident(name), table=_ident(model))


def _literal(value: Any) -> exp.Expr:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        number = int(value) if float(value).is_integer() else value
        return exp.Literal.number(number)
    return exp.Literal.string(str(value))


def _compare(column: exp.Expr, op: str, values: list[Any]) -> exp.Expr:
    if op == "between" and len(values) >= 2:
        low, high = sorted(values[:2])
        return exp.Between(this=column, low=_literal(low), high=_literal(high))
    value = _literal(values[0])
    cls = {">": exp.GT, ">=": exp.GTE, "<": exp.LT, "<=": exp.LTE, "=": exp.EQ, "between": exp.GTE}[
        op
    ]
    return cls(this=column, expression=value)


def _model_display(model: Model) -> list[str]:
    names: list[str] = []
    for key in model.primary_key:
        names.append(key)
    for label in model.label_columns:
        if label not in names:
            names.append(label)
    if not names and model.columns:
        names.append(model.columns[0].name)
    return names


def _describe_measure(m: Measure) -> str:
    if m.func == "count":
        return f"the number of {m.model}"
    if m.func == "count_distinct":
        return f"the number of different {m.model}.{m.name}"
    if m.func == "metric":
        return f"the metric {m.name}"
    word = {"sum": "total", "avg": "average", "min": "lowest", "max": "highest"}.get(m.func, m.func)
    return f"the {word} {m.model}.{m.name}"


def _describe_filter(f: Filter) -> str:
    if f.kind == "range" and f.range is not None:
        return f"{f.model}.{f.name} {f.range.describe()}"
    if f.kind == "having" and f.measure is not None:
        return f"{_describe_measure(f.measure)} {f.op} {f.values[0]:g}"
    if f.kind == "compare":
        values = " and ".join(f"{v:g}" for v in f.values)
        text = f"{f.model}.{f.name} {f.op} {values}"
        return f"not ({text})" if f.negated else text
    shown = ", ".join(repr(v) for v in f.values)
    if len(f.values) == 1:
        op = "!=" if f.negated else "="
        return f"{f.model}.{f.name} {op} {shown}"
    return f"{f.model}.{f.name} {'not ' if f.negated else ''}in ({shown})"


def _mappings(items: list[Item]) -> tuple[WordMapping, ...]:
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
