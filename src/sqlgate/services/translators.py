"""Who turns a connection's questions into SQL: the LLM pipeline when ``SQLGATE_LLM_BASE_URL`` is
set (with the embedded engine as its fallback), else the embedded engine alone.

Both answer with a :class:`~sqlgate.nl.pipeline.Generation` and report every step's rendered
prompt through ``on_record``, so the service above them does not care which one answered.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

from sqlgate.nl.draft import draft_from_schema
from sqlgate.nl.pipeline import (
    Generation,
    LlmPipeline,
    embedded_fallback,
    explanation_step,
    stream_explanation,
)
from sqlgate.nl.prompts import HistoryTurn, PromptRecord, PromptStep
from sqlgate.nl.providers import (
    ChatMessage,
    ChatProvider,
    ProviderConfig,
    provider_from_settings,
)
from sqlgate.services.connections import ConnectionInfo, ConnectionService
from sqlgate.services.policy_engine import PolicyBoundEngine
from sqlgate.services.semantic_models import SemanticModels
from sqlgate.settings import Settings
from sqlgate.sql.access_bind import EffectivePolicy

if TYPE_CHECKING:  # the rule engine is loaded by the first question
    from sqlgate.nl.rules import RuleTranslator

OnRecord = Callable[[PromptRecord], None]
_CACHED_PIPELINES = 32

# A follow-up leans on the previous question: "and only for 2023?", "what about Germany".
_FOLLOW_UP = re.compile(
    r"^\s*(and|but|also|only|just|now|then|same|what about|how about|instead|except)\b",
    re.IGNORECASE,
)


class Translator(Protocol):
    def __call__(
        self, question: str, history: Sequence[HistoryTurn], *, log_prefix: str, on_record: OnRecord
    ) -> Generation: ...


class EmbeddedTranslator:
    """The offline engine, which reads one question at a time: a follow-up is read together
    with the question before it (when it starts like one, or alone maps to nothing)."""

    def __init__(self, engine: RuleTranslator) -> None:
        self._engine = engine

    def __call__(
        self, question: str, history: Sequence[HistoryTurn], *, log_prefix: str, on_record: OnRecord
    ) -> Generation:
        standalone, answer = question, self._engine.ask(question)
        previous = (history[-1].standalone or history[-1].question) if history else None
        follow_up = _FOLLOW_UP.match(question) or not answer.is_sql
        if previous and follow_up and answer.reason != "write_request":
            combined = f"{previous} {question}"
            retry = self._engine.ask(combined)
            if retry.is_sql:
                standalone, answer = combined, retry
        # What the engine was given: the thread's turns, then the new question (its context,
        # the -system part, shows the question as the engine read it, follow-ups joined).
        messages: list[ChatMessage] = []
        for turn in history:
            messages.append({"role": "user", "content": turn.question})
            messages.append({"role": "assistant", "content": turn.sql or "(no SQL)"})
        messages.append({"role": "user", "content": question})
        step = PromptStep(
            "embedded",
            answer.rendered_context(),
            tuple(messages),
            answer=answer.native_sql or answer.explanation,
        )
        on_record(step.record(log_prefix))
        return Generation(
            outcome="sql" if answer.is_sql else "non_sql",
            question=question,
            standalone_question=standalone,
            sql=answer.sql,
            native_sql=answer.native_sql,
            reason=None if answer.is_sql else answer.explanation,
            steps=(step,),
            log_prefix=log_prefix,
            source="fallback",
        )


class LlmTranslator:
    def __init__(self, pipeline: LlmPipeline) -> None:
        self._pipeline = pipeline

    def __call__(
        self, question: str, history: Sequence[HistoryTurn], *, log_prefix: str, on_record: OnRecord
    ) -> Generation:
        return self._pipeline.generate(
            question, history, log_prefix=log_prefix, on_record=on_record
        )


class Translators:
    def __init__(
        self, settings: Settings, connections: ConnectionService, semantic: SemanticModels
    ) -> None:
        self._settings = settings
        self._connections = connections
        self._semantic = semantic
        self._config = ProviderConfig.from_settings(settings)
        self._provider: ChatProvider | None = provider_from_settings(settings)
        self._pipelines: OrderedDict[tuple[str, object, int | None], LlmPipeline] = OrderedDict()
        self._lock = threading.Lock()
        self._bound_cache: OrderedDict[tuple[object, ...], Translator] = OrderedDict()

    @property
    def uses_llm(self) -> bool:
        return self._provider is not None

    def for_connection(
        self, org_id: str, conn: ConnectionInfo, policy: EffectivePolicy | None = None
    ) -> Translator:
        """The translator for ``conn``; under an access ``policy``, one that sees only what the
        policy shows the caller (see :meth:`_bound`)."""
        if policy is not None:
            return self._bound(conn, policy)
        embedded = self._semantic.embedded_for(conn)
        if self._provider is None:
            return EmbeddedTranslator(embedded)
        deployed = self._semantic.current(org_id, conn)
        key = (conn.id, conn.updated_at, deployed.version)
        with self._lock:
            pipeline = self._pipelines.get(key)
            if pipeline is not None:
                self._pipelines.move_to_end(key)
        if pipeline is None:
            pipeline = LlmPipeline(
                self._provider,
                self._connections.engine(conn),
                embedded.model,
                settings=self._settings,
                dialect=conn.dialect,
                fallback=embedded_fallback(embedded),
            )
            with self._lock:
                self._pipelines[key] = pipeline
                while len(self._pipelines) > _CACHED_PIPELINES:
                    self._pipelines.popitem(last=False)
        return LlmTranslator(pipeline)

    def _bound(self, conn: ConnectionInfo, policy: EffectivePolicy) -> Translator:
        """Under an access policy: the draft model of the visible schema (a deployed semantic
        model may name what the policy hides), values sampled and SQL dry-run through the
        policy. Cached per (connection, its settings, policy fingerprint, schema read)."""
        engine = PolicyBoundEngine(self._connections.engine(conn), policy)
        schema = engine.schema()
        key = ("policy", conn.id, conn.updated_at, policy.fingerprint, schema.read_at)
        with self._lock:
            cached = self._bound_cache.get(key)
            if cached is not None:
                self._bound_cache.move_to_end(key)
                return cached
        from sqlgate.nl.prepare import prepare_embedded

        embedded = prepare_embedded(engine, conn.dialect)  # type: ignore[arg-type]
        translator: Translator
        if self._provider is None:
            translator = EmbeddedTranslator(embedded)
        else:
            pipeline = LlmPipeline(
                self._provider,
                engine,  # type: ignore[arg-type]
                embedded.model,
                settings=self._settings,
                dialect=conn.dialect,
                fallback=embedded_fallback(embedded),
            )
            translator = LlmTranslator(pipeline)
        with self._lock:
            self._bound_cache[key] = translator
            while len(self._bound_cache) > _CACHED_PIPELINES:
                self._bound_cache.popitem(last=False)
        return translator

    def explain(
        self,
        org_id: str,
        conn: ConnectionInfo,
        question: str,
        reason: str,
        language: str | None,
        policy: EffectivePolicy | None = None,
    ) -> Iterator[str]:
        """The explanation of a NON_SQL answer: streamed by the LLM when one is configured
        (falling back to ``reason`` if it fails before the first piece), else ``reason``.
        Under an access ``policy`` the LLM is shown only what the policy shows the caller."""
        if self._config is None:
            return _pieces(reason)
        if policy is not None:
            visible = PolicyBoundEngine(self._connections.engine(conn), policy).schema()
            model = draft_from_schema(visible)
        else:
            model = self._semantic.embedded_for(conn).model
        step = explanation_step(model, question, reason, language=language)
        return stream_explanation(
            self._config,
            step,
            timeout=self._settings.llm_generation_timeout,
            fallback_text=reason,
        )


def _pieces(text: str, size: int = 48) -> Iterator[str]:
    """Word-aligned pieces of about ``size`` characters, as a model would stream them."""
    piece = ""
    for word in re.findall(r"\S+\s*", text):
        piece += word
        if len(piece) >= size:
            yield piece
            piece = ""
    if piece:
        yield piece
