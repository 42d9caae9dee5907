"""The rule-based translator: the stages in order, and the checks between them that decline.

A question that asks to change data, that is too long, or of which too little maps to the model
is declined with ``NON_SQL_QUERY`` and an explanation before any SQL is built; the SQL that is
built passes the SQL guard, semantic and native alike.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from sqlglot import exp

from sqlgate.nl.expand import check_native, expand_tree
from sqlgate.nl.joins import JoinPlan
from sqlgate.nl.questions import MAX_QUESTION_CHARS
from sqlgate.nl.rules.answer import RuleAnswer
from sqlgate.nl.rules.building import build_query
from sqlgate.nl.rules.comparatives import a_single, comparatives_joined
from sqlgate.nl.rules.compared_rows import compared_of_rows_named
from sqlgate.nl.rules.concept_ranks import concepts_ranked
from sqlgate.nl.rules.coverage import QUESTION_WORDS, measure_coverage
from sqlgate.nl.rules.derived import Answered, Derivation, cue_mapping, derive, find_derivation
from sqlgate.nl.rules.doer_by import doer_of_own_rows
from sqlgate.nl.rules.every_rows import compared_with_every
from sqlgate.nl.rules.except_rows import except_rows_named_again
from sqlgate.nl.rules.explaining import explain, mappings, nothing_found, summary
from sqlgate.nl.rules.facts import ModelFacts
from sqlgate.nl.rules.group_counts import groups_with_counts
from sqlgate.nl.rules.group_winners import count_winners, rank_in_groups
from sqlgate.nl.rules.head_figures import superlatives_as_figures
from sqlgate.nl.rules.named_row_compare import compared_with_a_named_row, period_of_a_row
from sqlgate.nl.rules.negation import negations_as_absence
from sqlgate.nl.rules.nested_counts import counts_of_named_rows
from sqlgate.nl.rules.one_unit import one_unit
from sqlgate.nl.rules.or_comparisons import or_then_comparison
from sqlgate.nl.rules.orderings import fields_named_again
from sqlgate.nl.rules.own_figure_groups import own_figure_of_kept_rows
from sqlgate.nl.rules.pairs import paired_rows
from sqlgate.nl.rules.parent_extremes import extremes_of_parents
from sqlgate.nl.rules.parts import CannotAnswer, Item, Measure, Plan, Reading
from sqlgate.nl.rules.planning import plan_query
from sqlgate.nl.rules.ranked_related import ranked_related_row, ranked_row_filter
from sqlgate.nl.rules.related_pairs import second_related_rows
from sqlgate.nl.rules.related_periods import periods_of_related_rows
from sqlgate.nl.rules.roles import read_roles
from sqlgate.nl.rules.row_compare import compared_with_a_row
from sqlgate.nl.rules.row_figures import how_many_of_one_row
from sqlgate.nl.rules.scoped_figures import (
    Figure,
    answer_in_parts,
    answer_scoped,
    attach_figure,
)
from sqlgate.nl.rules.self_references import self_references
from sqlgate.nl.rules.self_refs import role_named, self_referenced
from sqlgate.nl.rules.sets import absence_set, combine, describe_set, models_set, values_set
from sqlgate.nl.rules.sort_keys import add_sort_keys, later_sort_keys, read_as_sort_keys
from sqlgate.nl.rules.that_number import sorted_by_that_number
from sqlgate.nl.rules.times import times_as_rows
from sqlgate.nl.rules.words import find_items, settle
from sqlgate.nl.semantic import SemanticModel
from sqlgate.nl.spelling import respell
from sqlgate.nl.text import Token, tokenize
from sqlgate.nl.values import ValueIndex
from sqlgate.nl.vocabulary import STOPWORDS, WRITE_VERBS, _words
from sqlgate.sql.guard import analyze

#: Words that may come before an imperative verb ("please delete", "can you drop").
_LEAD_WORDS = _words(
    "please can could would you i want to let us lets let's go ahead and now just kindly need "
    "we should"
)


#: Marks a part of a question answered in parts (:mod:`.scoped_figures`): not split again.
_NO_SCOPE = Figure(Measure("", ""), exp.select("1"), "")


class RuleTranslator:
    """Translate questions for one semantic model and dialect. Build once, ask many times."""

    def __init__(
        self, model: SemanticModel, dialect: str, values: ValueIndex | None = None
    ) -> None:
        self.facts = ModelFacts(model, dialect, values)
        self.model = model
        self.dialect = dialect
        self.index = self.facts.index
        self.lexicon = self.facts.lexicon
        self.known = frozenset(self.lexicon.words | QUESTION_WORDS)

    def ask(self, question: str, *, today: date | None = None) -> RuleAnswer:
        """Translate one question; ``today`` anchors "last month" (default: today's date)."""
        today = today or date.today()
        question = question.strip()
        if len(question) > MAX_QUESTION_CHARS:
            return self._non_sql(question, "too_long", "The question is too long to translate.")
        derivation = find_derivation(question, self.known)
        if derivation is not None:
            return self._derived(question, derivation, today)
        return self._translate(question, today)[0]

    def _translate(
        self, question: str, today: date, figure: Figure | None = None
    ) -> tuple[RuleAnswer, Plan | None]:
        tokens = respell(tokenize(question), self.known, self._one_word)
        if not tokens:
            return self._non_sql(
                question, "no_match", "The question has no words to translate."
            ), None
        tokens = a_single(
            comparatives_joined(self.lexicon, tokens)
        )  # "more girth than": "girth more than"
        tokens = one_unit(tokens)  # "shorter than an hour": than 1 hour
        verb = _write_verb(tokens)
        if verb:
            return self._non_sql(
                question,
                "write_request",
                f"The question asks to {verb} data. Queries here are read-only: they can count, "
                "list and summarise data, never change it.",
            ), None
        items = or_then_comparison(find_items(self.lexicon, tokens, today))  # "... or more than 2"
        settle(self.facts, items, tokens)
        fields_named_again(items)
        times_as_rows(self.facts, items)
        how_many_of_one_row(self.facts, items)
        concepts_ranked(items)  # "earns the most": by the salary
        every = compared_with_every(self.facts, items, tokens, question) if not figure else None
        if every is not None:  # "older than every baker at Crumb": than their maximum age

            def parts(text: str, fig: Figure | None) -> tuple[RuleAnswer, Plan | None]:
                return self._translate(text, today, fig or _NO_SCOPE)

            return answer_in_parts(question, *every, parts, self.dialect), None
        except_rows_named_again(items)
        superlatives_as_figures(self.facts, items)  # "what is the highest wage": MAX(wage)
        hidden, sort_keys = later_sort_keys(items)  # "... and then by name": not for the roles
        ranked = ranked_related_row(self.facts, items)  # "at the bakery with the most orders"
        hidden += list(ranked.said) if ranked else []
        reading = read_roles(self.facts, [i for i in items if all(i is not h for h in hidden)])
        read_as_sort_keys(hidden)
        sorted_by_that_number(reading, items)  # "sorted by that number": the count asked
        reading.sort_keys = sort_keys
        if ranked is not None:
            reading.filters.append(ranked_row_filter(ranked))
        compared_with_a_row(self.facts, reading, items)
        compared_with_a_named_row(self.facts, reading, items)  # "a higher level than Ada"
        compared_of_rows_named(self.facts, reading, items)
        second_related_rows(reading, items)
        periods_of_related_rows(self.facts, reading, items)
        if reading.figure_scope is not None and figure is None:
            # "than the average age of bakers in Leeds": the figure of some rows, on its own
            def translate(text: str, fig: Figure | None) -> tuple[RuleAnswer, Plan | None]:
                return self._translate(text, today, fig or _NO_SCOPE)

            scoped = answer_scoped(question, tokens, reading.figure_scope, translate, self.dialect)
            return scoped, None
        return self._answer(question, tokens, items, reading, figure)

    def _derived(self, question: str, d: Derivation, today: date) -> RuleAnswer:
        """A running total, a change, a share or an average per group: the inner question
        answered as usual, its SQL wrapped (:mod:`sqlgate.nl.rules.derived`); the derivation's
        other reading when the first declines."""
        answer = self._derived_once(question, d, today)
        if not answer.is_sql and d.otherwise is not None:
            other = self._derived_once(question, d.otherwise, today)
            return other if other.is_sql else answer
        return answer

    def _derived_once(self, question: str, d: Derivation, today: date) -> RuleAnswer:
        inner, plan = self._translate(d.inner, today)
        if d.kind == "share" and plan is not None and not plan.measures:
            inner, plan = self._translate(f"number of {d.inner}", today)  # "share of orders"
        if not inner.is_sql or plan is None:
            return replace(inner, question=question)
        base = None
        if d.base is not None:
            base_answer, base_plan = self._translate(d.base, today)
            if not base_answer.is_sql or base_plan is None:
                return replace(base_answer, question=question)
            base = Answered(base_answer, base_plan)
        try:
            semantic, native, explanation = derive(d, Answered(inner, plan), base, self.dialect)
        except CannotAnswer as exc:
            return self._non_sql(
                question, "unsupported", f"{exc} Understood: {inner.explanation}",
                coverage=inner.coverage,
            )  # fmt: skip
        refused = self._refused(question, semantic, native)
        if refused is not None:  # pragma: no cover - a bug in the wrapping, not user input
            return refused
        return replace(
            inner,
            question=question,
            explanation=explanation,
            sql=semantic,
            native_sql=native,
            mappings=(cue_mapping(d), *inner.mappings),
        )

    def _refused(self, question: str, semantic: str, native: str) -> RuleAnswer | None:
        """The answer when the SQL built does not pass the guard (a bug, never user input);
        None when both forms pass, and the native form checks out for the dialect."""
        for sql in (semantic, native):
            analysis = analyze(sql, self.dialect)
            if not analysis.is_valid:
                reason = f"The generated SQL was refused: {analysis.error}"
                return self._non_sql(question, "unsupported", reason)
        check_native(native, self.dialect)
        return None

    def _one_word(self, stem: str) -> bool:
        return (stem,) in self.lexicon.phrases

    def _answer(
        self,
        question: str,
        tokens: list[Token],
        items: list[Item],
        r: Reading,
        figure: Figure | None = None,
    ) -> tuple[RuleAnswer, Plan | None]:
        unmatched = tuple(
            i.text
            for i in items
            if i.kind in ("word", "quoted") and i.text.lower() not in STOPWORDS
        )
        declined = self._too_little(question, tokens, items, unmatched)
        if declined is not None:
            score = measure_coverage(tokens, items, None, self.dialect).score
            return replace(declined, coverage=score), None
        try:
            plan, tree, joins = self._query(r, items, tokens, figure)
        except CannotAnswer as exc:
            declined = self._non_sql(
                question,
                "unsupported",
                f"{exc} " + summary(items, unmatched),
                items=items,
                unmatched=unmatched,
                coverage=measure_coverage(tokens, items, None, self.dialect).score,
            )
            return declined, None
        left = {i.text for i in items if i.kind in ("word", "quoted")}
        unmatched = tuple(u for u in unmatched if u in left)  # a shape took up the word
        semantic = tree.sql(dialect=self.dialect)
        coverage = measure_coverage(tokens, items, semantic, self.dialect, self.lexicon)
        if not coverage.complete:
            declined = self._non_sql(
                question,
                "unclear",
                "Part of the question does not map to the semantic model, so no query would "
                f"answer all of it ({coverage.describe()}). " + summary(items, unmatched),
                items=items,
                unmatched=unmatched,
                coverage=coverage.score,
            )
            return declined, None
        native = expand_tree(tree, self.index, self.dialect).sql(dialect=self.dialect)
        refused = self._refused(question, semantic, native)
        if refused is not None:  # pragma: no cover - a bug in the builder, not user input
            return refused, None
        answer = RuleAnswer(
            question=question,
            outcome="sql",
            dialect=self.dialect,
            explanation=explain(plan, joins, unmatched),
            sql=semantic,
            native_sql=native,
            mappings=mappings(items),
            unmatched=unmatched,
            coverage=coverage.score,
        )
        return answer, plan

    def _query(
        self, r: Reading, items: list[Item], tokens: list[Token], figure: Figure | None = None
    ) -> tuple[Plan, exp.Expr, JoinPlan]:
        """The plan and semantic SQL of the reading: one query, or a set question's parts."""
        plan, tree, joins = self._one_query(r, items, tokens, figure)
        if r.sort_keys:  # "... and then by name": the keys after the first
            if plan.combined:
                raise CannotAnswer("I cannot order the rows of a set question by several keys.")
            plan.then_by = r.sort_keys
            tree = add_sort_keys(tree, plan, r.sort_keys)
        return plan, tree, joins

    def _one_query(
        self, r: Reading, items: list[Item], tokens: list[Token], figure: Figure | None
    ) -> tuple[Plan, exp.Expr, JoinPlan]:
        if figure is not None and figure is not _NO_SCOPE:
            plan = plan_query(self.facts, r, items)
            attach_figure(plan, figure)  # the comparison with a figure of some rows only
            tree, joins = build_query(self.index, self.dialect, plan)
            return plan, tree, joins
        paired = paired_rows(self.facts, r, items)
        if paired is not None:
            return paired  # "Ada's partners": rows of the same model through a link
        related = self_referenced(self.facts, r, items)
        if related is not None:
            return related  # "Bob's manager": through a column pointing back to the model
        shaped = models_set(self.facts, r, items)
        plan = shaped.parts[0] if shaped else plan_query(self.facts, r, items)
        winners = None if shaped else count_winners(self.facts, r, plan)
        plan = (None if shaped else groups_with_counts(plan, items)) or plan  # "in towns with ..."
        plan = (None if shaped else own_figure_of_kept_rows(self.facts, plan, items)) or plan
        plan = (None if shaped else counts_of_named_rows(self.facts, plan, items)) or plan
        if (why := doer_of_own_rows(plan.filters, plan.root, items)) is not None:
            raise CannotAnswer(why)  # "people who are followed by Ada"
        if winners is not None:  # "for each town, which bakery has the most bakers"
            tree, joins = build_query(self.index, self.dialect, winners)
            return winners, rank_in_groups(tree, winners), joins
        shaped = shaped or values_set(plan, items, tokens) or absence_set(self.facts, plan)
        if shaped is None:
            plan = negations_as_absence(self.index, plan)  # explained as it is built
            plan = extremes_of_parents(self.index, plan)
            plan = self_references(self.index, plan, items)
            tree, joins = build_query(self.index, self.dialect, plan)
            return plan, tree, joins
        built = []
        for part in shaped.parts:
            part.only_columns = True
            built.append(build_query(self.index, self.dialect, part))
        plan.combined = describe_set(shaped)
        return plan, combine(shaped.op, [t for t, _ in built]), built[0][1]

    def _too_little(
        self, question: str, tokens: list[Token], items: list[Item], unmatched: tuple[str, ...]
    ) -> RuleAnswer | None:
        """The answer when nothing, or too little, of the question maps to the model."""
        mentions = [i for i in items if i.kind == "entry" and i.chosen and i.chosen.kind != "value"]
        values = [i for i in items if i.kind == "entry" and i.chosen and i.chosen.kind == "value"]
        asks = any(i.kind == "kw" and i.kw in ("count", "list", "agg") for i in items)
        asks = asks or (bool(values) and role_named(self.facts, items))  # "who manages Bob"
        if not mentions and not (values and asks):
            return self._non_sql(
                question,
                "no_match",
                nothing_found(self.model, items, unmatched),
                items=items,
                unmatched=unmatched,
            )
        content = [t for t in tokens if t.norm not in STOPWORDS and t.kind != "number"]
        understood = {
            j for i in items if i.kind not in ("word", "quoted") for j in range(i.first, i.last + 1)
        }
        covered = [t for k, t in enumerate(tokens) if k in understood and t in content]
        unread = period_of_a_row(items)  # "joined after Ada": the date of Ada's row
        if unread is not None:
            reason = f"I cannot compare with a date or number of another row ('{unread}')."
            return self._non_sql(question, "unsupported", f"{reason} " + summary(items, unmatched))
        if content and len(covered) * 2 < len(content):
            return self._non_sql(
                question,
                "unclear",
                "Too little of the question maps to the semantic model to answer it reliably. "
                + summary(items, unmatched),
                items=items,
                unmatched=unmatched,
            )
        return None

    def _non_sql(
        self,
        question: str,
        reason: str,
        explanation: str,
        *,
        items: list[Item] | None = None,
        unmatched: tuple[str, ...] = (),
        coverage: float = 0.0,
    ) -> RuleAnswer:
        return RuleAnswer(
            question=question,
            outcome="non_sql",
            dialect=self.dialect,
            explanation=explanation,
            mappings=mappings(items or []),
            unmatched=unmatched,
            reason=reason,
            coverage=coverage,
        )


def _write_verb(tokens: list[Token]) -> str | None:
    words = [t.norm for t in tokens if t.kind == "word"]
    lead = _LEAD_WORDS
    for word in words[:6]:
        if word in WRITE_VERBS:
            return word
        if word not in lead:
            return None
    return None
