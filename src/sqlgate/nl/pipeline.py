"""The LLM pipeline: a question (and its thread) in, checked SQL out. No HTTP here.

:meth:`LlmPipeline.generate` takes one question through these steps, each one LLM request whose
rendered prompt is kept as a :class:`~sqlgate.nl.prompts.PromptStep` (log key suffix, system
prompt, history prompts, answer) for the prompt logs:

1. ``intent`` -- classify the question as SQL or NON_SQL and rewrite a follow-up into a
   standalone question, with the thread's previous turns in the prompt. The answer must be one
   JSON object; a malformed one is asked for again once (``intent-2``), then the step fails with
   :class:`~sqlgate.nl.intent.MalformedAnswer` (a provider error: the fallback answers).
2. ``generate-1`` -- the standalone question, the tables :class:`~sqlgate.nl.retrieval.SchemaIndex`
   retrieves from the semantic model (within ``llm_schema_token_budget``), the model's
   instructions, its three most similar example pairs and the previous turns; the answer is
   ``{"sql": "..."}`` in semantic SQL (model and column names as the semantic model shows them;
   without renames, calculated fields or metrics that is the native SQL).
3. The answer is checked, never trusted: the SQL guard in the connection's dialect (the same
   :func:`~sqlgate.sql.cache.analyze_sql` user SQL goes through), then every table must be
   a model of the semantic model, then :func:`~sqlgate.nl.expand.expand_semantic_sql` turns it
   into native SQL (refusing anything outside the model), the guard checks that again and its
   tables must be the model's physical tables, then a dry run: the native query with
   ``LIMIT 0`` through the engine's read-only path. (``EXPLAIN`` would be the usual dry run, but
   the guard refuses it on every dialect and the engines' read-only sessions accept only
   queries; ``LIMIT 0`` makes the database parse, bind and plan the query without reading rows.)
4. ``correct-2`` .. ``correct-4`` -- on a failure, up to ``max_corrections`` (3) more rounds
   show the model its answer and the guard's, the model check's or the database's error. SQL
   the guard refuses is never run. After the last round: :class:`GeneratedSqlFailed`
   (``query_error``, 500, as seed 002 has it for generated SQL).

The whole generation has ``llm_generation_timeout`` seconds (180): each LLM request gets what is
left as its timeout, each dry run at most ``timeout_default`` of it. When the provider fails (a
:class:`~sqlgate.nl.providers.ProviderError`: timeout, unreachable, HTTP error, unusable
answers) the optional ``fallback`` answers instead, e.g. the embedded engine through
:func:`embedded_fallback`; without one the error propagates.

The result is a :class:`Generation`: the semantic and the native SQL, the standalone question,
the correction rounds taken, the steps and their :class:`~sqlgate.nl.prompts.PromptRecord`
under the caller's log prefix. ``on_record`` receives each record as its step ends, so a failed
generation's prompts can be logged too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol

import httpx
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from sqlgate.engines.base import Engine
from sqlgate.errors import ConnectionFailed, QueryError, SqlgateError
from sqlgate.nl._schema_text import render_table
from sqlgate.nl.draft import draft_from_schema
from sqlgate.nl.expand import expand_semantic_sql
from sqlgate.nl.intent import Intent, MalformedAnswer, parse_intent, parse_sql_answer
from sqlgate.nl.model_schema import (
    allowed_physical_tables,
    is_renaming,
    retrieval_aliases,
    semantic_schema,
)
from sqlgate.nl.prompts import (
    HistoryTurn,
    PromptRecord,
    PromptStep,
    correction_message,
    explanation_messages,
    generation_messages,
    intent_messages,
    intent_retry_message,
    select_examples,
)
from sqlgate.nl.providers import (
    ChatMessage,
    ChatProvider,
    ProviderConfig,
    ProviderError,
    ProviderTimeout,
)
from sqlgate.nl.retrieval import DEFAULT_MAX_TABLES, SchemaIndex
from sqlgate.nl.semantic import SemanticModel
from sqlgate.nl.streaming import stream_chat
from sqlgate.nl.tokens import estimate_tokens
from sqlgate.settings import Settings
from sqlgate.sql.cache import analyze_sql

if TYPE_CHECKING:
    from sqlgate.nl.rules import RuleTranslator

MAX_CORRECTIONS = 3


# --- results and errors ------------------------------------------------------------------------


@dataclass(frozen=True)
class Generation:
    """What the pipeline (or its fallback) answered for one question."""

    outcome: Literal["sql", "non_sql"]
    #: The question as asked.
    question: str
    #: The question rewritten to stand alone (the question itself when it already did).
    standalone_question: str
    #: Semantic SQL (model names; plain native SQL when the model renames nothing).
    sql: str | None = None
    #: The SQL expanded and written for the connection's dialect: what runs.
    native_sql: str | None = None
    #: For ``non_sql``: why, in a sentence (the embedded engine's explanation on fallback).
    reason: str | None = None
    #: Correction rounds taken (0: the first answer passed).
    rounds: int = 0
    #: Models the SQL reads.
    tables: tuple[str, ...] = ()
    #: Models whose schema was in the generation prompt.
    retrieved: tuple[str, ...] = ()
    steps: tuple[PromptStep, ...] = ()
    log_prefix: str = ""
    #: ``llm``, or ``fallback`` when the provider failed and the fallback answered.
    source: Literal["llm", "fallback"] = "llm"
    #: The provider failure that made the fallback answer.
    fallback_error: str | None = None
    elapsed_ms: float = 0.0

    @property
    def is_sql(self) -> bool:
        return self.outcome == "sql"

    @property
    def prompt_records(self) -> list[PromptRecord]:
        """One prompt log per step, keyed ``{log_prefix}/{step}``."""
        return [step.record(self.log_prefix) for step in self.steps]


class Fallback(Protocol):
    """Answers when the provider fails: ``fallback(question, history)``. It gets the standalone
    question when the intent step produced one, else the question as asked. Its steps (e.g.
    ``embedded``) are logged after the failed LLM steps."""

    def __call__(self, question: str, history: Sequence[HistoryTurn]) -> Generation: ...


class GeneratedSqlFailed(QueryError):
    """No answer of the model passed the guard, the model check and the dry run within the
    correction rounds. ``prompt_records`` holds every step, for the prompt logs."""

    status = 500

    def __init__(
        self, message: str, *, steps: Sequence[PromptStep], log_prefix: str, **details: Any
    ) -> None:
        super().__init__(message, **details)
        self.steps = tuple(steps)
        self.prompt_records = [s.record(log_prefix) for s in self.steps]


class GenerationTimeout(ProviderTimeout):
    """The whole generation ran past ``llm_generation_timeout``."""


# --- the pipeline ------------------------------------------------------------------------------


@dataclass
class _Failure:
    stage: str  # answer, guard, model, database
    error: str
    answer: str
    sql: str | None = None


@dataclass
class _Run:
    """One question on its way through the pipeline."""

    provider: ChatProvider
    deadline: float
    limit: float
    log_prefix: str
    on_record: Callable[[PromptRecord], None] | None
    steps: list[PromptStep] = field(default_factory=list)

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise GenerationTimeout(
                f"Generating SQL took longer than the limit of {self.limit:g} s",
                timeout=self.limit,
            )
        return left

    def add(self, step: PromptStep) -> None:
        self.steps.append(step)
        if self.on_record is not None:
            self.on_record(step.record(self.log_prefix))

    def chat(self, key: str, system: str, messages: Sequence[ChatMessage]) -> str:
        timeout = self.remaining()
        full: list[ChatMessage] = [{"role": "system", "content": system}, *messages]
        try:
            answer = self.provider.complete(full, timeout=timeout)
        except ProviderError as exc:
            self.add(PromptStep(key, system, tuple(messages), error=exc.message))
            raise
        self.add(PromptStep(key, system, tuple(messages), answer=answer))
        return answer


class LlmPipeline:
    """Question → SQL with an LLM over one connection's semantic model. Build once per
    connection and model version (it indexes the schema); :meth:`generate` is thread-safe."""

    def __init__(
        self,
        provider: ChatProvider,
        engine: Engine,
        model: SemanticModel | None = None,
        *,
        settings: Settings,
        dialect: str | None = None,
        fallback: Fallback | None = None,
        max_tables: int = DEFAULT_MAX_TABLES,
        max_corrections: int = MAX_CORRECTIONS,
    ) -> None:
        self.provider = provider
        self.engine = engine
        self.settings = settings
        self.dialect = dialect or engine.dialect
        native = engine.schema()
        self.model = model if model is not None else draft_from_schema(native)
        self.fallback = fallback
        self.max_tables = max_tables
        self.max_corrections = max_corrections
        self.semantic = is_renaming(self.model)
        self._view = semantic_schema(self.model, native)
        self.index = SchemaIndex(self._view, aliases=retrieval_aliases(self.model))
        self._neighbours: dict[str, set[str]] = {t.name.lower(): set() for t in self._view.tables}
        for table in self._view.tables:
            for key in table.foreign_keys:
                self._neighbours[table.name.lower()].add(key.references_table.lower())
                self._neighbours.setdefault(key.references_table.lower(), set()).add(
                    table.name.lower()
                )
        self._models = {m.name.lower(): m.name for m in self.model.models}
        self._physical = allowed_physical_tables(self.model)

    # --- the whole question -----------------------------------------------------------------

    def generate(
        self,
        question: str,
        history: Sequence[HistoryTurn] = (),
        *,
        log_prefix: str = "",
        on_record: Callable[[PromptRecord], None] | None = None,
    ) -> Generation:
        """Answer ``question`` (``history``: the thread's previous turns, oldest first).

        Returns SQL or NON_SQL; raises :class:`GeneratedSqlFailed` when no answer passed the
        checks, a :class:`ProviderError` when the provider failed and there is no fallback, and
        :class:`~sqlgate.errors.ConnectionFailed` when the dry run cannot reach the database."""
        started = time.monotonic()
        limit = self.settings.llm_generation_timeout
        run = _Run(self.provider, started + limit, limit, log_prefix, on_record)
        intent: Intent | None = None
        try:
            intent = self._intent(run, question, history)
            if intent.kind == "non_sql":
                result = Generation(
                    outcome="non_sql",
                    question=question,
                    standalone_question=intent.standalone_question,
                    reason=intent.reason,
                )
            else:
                result = self._generate(run, question, intent.standalone_question, history)
        except ProviderError as exc:
            if self.fallback is None:
                raise
            asked = intent.standalone_question if intent is not None else question
            answer = self.fallback(asked, history)
            for step in answer.steps:
                run.add(step)
            result = replace(
                answer,
                question=question,
                source="fallback",
                fallback_error=exc.message,
                steps=(),
            )
        return replace(
            result,
            steps=tuple(run.steps),
            log_prefix=log_prefix,
            elapsed_ms=round((time.monotonic() - started) * 1000, 3),
        )

    # --- step 1: intent ---------------------------------------------------------------------

    def _intent(self, run: _Run, question: str, history: Sequence[HistoryTurn]) -> Intent:
        system, messages = intent_messages(self.model, question, history)
        answer = run.chat("intent", system, messages)
        try:
            return parse_intent(answer, question, has_history=bool(history))
        except MalformedAnswer as exc:
            retry = [
                *messages,
                _message("assistant", answer),
                intent_retry_message(exc.message),
            ]
        answer = run.chat("intent-2", system, retry)
        try:
            return parse_intent(answer, question, has_history=bool(history))
        except MalformedAnswer as exc:
            raise MalformedAnswer(
                "The LLM did not answer the intent step with the asked-for JSON, twice: "
                + exc.message
            ) from None

    # --- steps 2-4: generation and corrections ----------------------------------------------

    def _generate(
        self, run: _Run, question: str, standalone: str, history: Sequence[HistoryTurn]
    ) -> Generation:
        schema_text, shown = self._prompt_schema(standalone)
        system, first = generation_messages(
            dialect=self.dialect,
            schema_text=schema_text,
            instructions=self.model.instructions,
            examples=select_examples(self.model.examples, standalone),
            semantic=self.semantic,
            question=standalone,
            history=history,
        )
        messages = list(first)
        failure: _Failure | None = None
        for attempt in range(1, self.max_corrections + 2):
            if failure is not None:
                messages.append(_message("assistant", failure.answer))
                messages.append(correction_message(failure.sql, failure.error, stage=failure.stage))
            key = "generate-1" if attempt == 1 else f"correct-{attempt}"
            answer = run.chat(key, system, messages)
            checked = self._check(run, answer)
            if isinstance(checked, _Failure):
                failure = checked
                continue
            return replace(
                checked,
                question=question,
                standalone_question=standalone,
                rounds=attempt - 1,
                retrieved=shown,
            )
        assert failure is not None
        raise GeneratedSqlFailed(
            f"The generated SQL failed its checks {self.max_corrections + 1} times; last "
            f"error: {failure.error}",
            steps=run.steps,
            log_prefix=run.log_prefix,
            attempts=self.max_corrections + 1,
            stage=failure.stage,
            last_error=failure.error,
        )

    def _prompt_schema(self, question: str) -> tuple[str, tuple[str, ...]]:
        """The schema text for the prompt and the tables in it: what retrieval finds for the
        question, then, while fewer than ``max_tables`` are shown and the budget allows, the
        model's other tables, those joined to the retrieved ones first. A small model is thus
        shown whole, and a question whose words name no table ("revenue in 2024?") still gets
        a schema."""
        budget = self.settings.llm_schema_token_budget
        retrieved = self.index.retrieve(question, max_tables=self.max_tables, token_budget=budget)
        shown = [n for n in retrieved.names if n not in retrieved.omitted]
        blocks = [retrieved.text] if retrieved.text else []
        used = retrieved.tokens
        if retrieved.omitted or len(shown) >= self.max_tables:
            return retrieved.text, tuple(shown)
        near = {t for n in shown for t in self._neighbours.get(n.lower(), ())}
        rest = [t for t in self._view.tables if t.name not in shown]
        rest.sort(key=lambda t: t.name.lower() not in near)  # stable: model order otherwise
        for table in rest:
            if len(shown) >= self.max_tables:
                break
            block = render_table(table)
            cost = estimate_tokens(block) + 1
            if used + cost > budget:
                continue
            blocks.append(block)
            shown.append(table.name)
            used += cost
        return "\n\n".join(blocks), tuple(shown)

    def _check(self, run: _Run, answer: str) -> Generation | _Failure:
        """The model's answer, read and checked; only SQL that passed the guard and the model
        check reaches the engine, and only as a dry run."""
        try:
            parsed = parse_sql_answer(answer)
        except MalformedAnswer as exc:
            return _Failure("answer", exc.message, answer)
        if parsed.sql is None:
            return Generation("non_sql", "", "", reason=parsed.reason)
        sql = parsed.sql
        if len(sql) > self.settings.max_sql_chars:
            return _Failure(
                "guard", f"The SQL is longer than {self.settings.max_sql_chars} characters",
                answer, sql,
            )  # fmt: skip
        analysis = analyze_sql(sql, self.dialect)
        if not analysis.is_valid:
            return _Failure("guard", f"{analysis.error} (reason: {analysis.reason})", answer, sql)
        outside = [t for t in analysis.tables if t.lower() not in self._models]
        if outside:
            return _Failure("model", _outside_message(outside, self._models.values()), answer, sql)
        semantic = _normalized(sql, self.dialect)
        try:
            native = expand_semantic_sql(semantic, self.model, self.dialect)
        except SqlgateError as exc:
            stage = "model" if exc.details.get("reason") == "outside_model" else "guard"
            return _Failure(stage, exc.message, answer, sql)
        native_analysis = analyze_sql(native, self.dialect)
        if not native_analysis.is_valid:  # expansion never widens, but check what would run
            return _Failure("guard", native_analysis.error or "refused", answer, sql)
        strays = [t for t in native_analysis.tables if t.lower() not in self._physical]
        if strays:
            return _Failure("model", _outside_message(strays, self._models.values()), answer, sql)
        error = self._dry_run(run, native)
        if error is not None:
            return _Failure("database", error, answer, sql)
        tables = tuple(self._models[t.lower()] for t in analysis.tables)
        return Generation("sql", "", "", sql=semantic, native_sql=native, tables=tables)

    def _dry_run(self, run: _Run, native: str) -> str | None:
        """Run ``native`` with ``LIMIT 0`` (parse, bind, plan; no rows) on the engine's read-only
        path. Returns the database's error, or None."""
        probe = _limit_zero(native, self.dialect)
        if probe is None or not analyze_sql(probe, self.dialect).is_valid:
            probe = native
        timeout = max(0.001, min(run.remaining(), float(self.settings.timeout_default)))
        try:
            self.engine.execute(probe, None, timeout=timeout, row_limit=1)
        except ConnectionFailed:
            raise
        except SqlgateError as exc:
            return exc.message
        return None


def _normalized(sql: str, dialect: str) -> str:
    """The SQL as sqlglot writes it in ``dialect`` (one statement, no trailing ``;``)."""
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except (ParseError, TokenError):
        return sql
    return tree.sql(dialect=dialect) if tree is not None else sql


def _limit_zero(sql: str, dialect: str) -> str | None:
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except (ParseError, TokenError):
        return None
    if not isinstance(tree, exp.Select | exp.SetOperation):
        return None
    return tree.limit(0, copy=True).sql(dialect=dialect)


def _outside_message(tables: Sequence[str], models: Iterable[str]) -> str:
    names = ", ".join(sorted(models))
    which = ", ".join(tables)
    return (
        f"The query reads {which}, which {'is' if len(tables) == 1 else 'are'} not in the "
        f"schema. Use only these tables: {names}"
    )


def _message(role: Literal["user", "assistant"], content: str) -> ChatMessage:
    return {"role": role, "content": content}


# --- fallback: the embedded engine -------------------------------------------------------------


def embedded_fallback(engine: RuleTranslator) -> Fallback:
    """A :class:`Fallback` that asks the embedded engine (no network, no model weights). The
    engine reads questions one at a time, so it gets the standalone question; its rendered
    context and interpretation are logged as the step ``embedded``."""

    def ask(question: str, history: Sequence[HistoryTurn]) -> Generation:
        answer = engine.ask(question)
        step = PromptStep(
            "embedded",
            answer.rendered_context(),
            ({"role": "user", "content": question},),  # it reads the question alone
            answer=answer.native_sql or answer.explanation,
        )
        if answer.is_sql:
            return Generation(
                outcome="sql",
                question=question,
                standalone_question=question,
                sql=answer.sql,
                native_sql=answer.native_sql,
                steps=(step,),
            )
        return Generation(
            outcome="non_sql",
            question=question,
            standalone_question=question,
            reason=answer.explanation,
            steps=(step,),
        )

    return ask


# --- explanations of NON_SQL answers -----------------------------------------------------------


def explanation_step(
    model: SemanticModel, question: str, reason: str | None, *, language: str | None = None
) -> PromptStep:
    """The prompt that explains a NON_SQL answer (log key suffix ``explain``)."""
    system, messages = explanation_messages(model, question, reason, language=language)
    return PromptStep("explain", system, tuple(messages))


def stream_explanation(
    config: ProviderConfig,
    step: PromptStep,
    *,
    timeout: float | None = None,
    fallback_text: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Iterator[str]:
    """Stream the explanation for ``step`` (see :func:`explanation_step`) in text pieces.

    When the provider fails before the first piece and ``fallback_text`` is given (e.g. the
    NON_SQL reason or the embedded engine's explanation), that text is the whole explanation;
    a failure after the first piece raises the :class:`ProviderError`."""
    messages: list[ChatMessage] = [{"role": "system", "content": step.system}, *step.messages]
    sent = False
    try:
        for piece in stream_chat(config, messages, timeout=timeout, transport=transport):
            sent = True
            yield piece
    except ProviderError:
        if sent or fallback_text is None:
            raise
        yield fallback_text
