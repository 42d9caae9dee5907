"""Questions in plain language: to SQL (`generate_sql`), or to an explanation when they are not
about the data (``NON_SQL_QUERY``). Asking and saving (`/v1/queries`) is in
:mod:`sqlgate.library.questions`, which translates here.

One path for every surface: the connection's translator (the embedded engine over its semantic
model) reads the question with the thread's recent turns; every step records a prompt log; the
SQL it writes goes through the same guard and read-only engine path as SQL a user sends.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import NamedTuple

from sqlgate.auth.principal import Principal
from sqlgate.errors import NotFound, ValidationError
from sqlgate.nl.pipeline import Generation
from sqlgate.nl.questions import MAX_QUESTION_CHARS, NonSqlQuestion
from sqlgate.services.access_policies import AccessPolicies
from sqlgate.services.connections import ConnectionInfo, ConnectionService
from sqlgate.services.prompt_logs import PromptLogs
from sqlgate.services.threads import Thread, Threads, Turn
from sqlgate.services.translators import Translators
from sqlgate.store.db import Store
from sqlgate.store.models import Explanation


@dataclass(frozen=True)
class Generated:
    id: str
    sql: str  # semantic SQL, or native when asked for
    native_sql: str
    thread_id: str
    generation: Generation


class Translation(NamedTuple):
    """A question read over its connection, in its thread: what the translator made of it."""

    conn: ConnectionInfo
    thread_id: str
    response_id: str
    generation: Generation


class NlService:
    def __init__(
        self,
        store: Store,
        connections: ConnectionService,
        threads: Threads,
        prompt_logs: PromptLogs,
        translators: Translators,
    ) -> None:
        self._store = store
        self._connections = connections
        self._threads = threads
        self._prompt_logs = prompt_logs
        self._translators = translators
        #: Access policies: questions under one see and sample only what it shows the caller.
        self.policies: AccessPolicies | None = None

    # -- generate_sql (seed 001) ---------------------------------------------------------

    def generate(
        self,
        principal: Principal,
        question: str,
        *,
        thread_id: str | None = None,
        connection_ref: str | None = None,
        native: bool = False,
        language: str | None = None,
    ) -> Generated:
        """SQL for ``question``, in the thread's context; raises NonSqlQuestion."""
        conn, thread, response_id, made = self.translate(
            principal, question, connection_ref=connection_ref, thread_id=thread_id
        )
        if not made.is_sql or made.sql is None or made.native_sql is None:
            reason = made.reason or "The question does not map to the data."
            explanation = self.record_explanation(principal, conn, made, reason, language)
            raise NonSqlQuestion(reason, response_id=response_id, explanation_id=explanation)
        return Generated(
            id=response_id,
            sql=made.native_sql if native else made.sql,
            native_sql=made.native_sql,
            thread_id=thread,
            generation=made,
        )

    # -- explanations --------------------------------------------------------------------

    def explanation(self, principal: Principal, explanation_id: str) -> Iterator[str]:
        """The explanation's text in pieces, streamed by the LLM when one is configured."""
        with self._store.session() as session:
            row = session.get(Explanation, explanation_id) if len(explanation_id) <= 40 else None
        if row is None or row.org_id != principal.org_id:
            raise NotFound(f"Explanation {explanation_id!r} not found")
        conn = self._connections.get(principal.org_id, row.connection_id)
        policy = self.policies.effective(principal, conn) if self.policies else None
        return self._translators.explain(
            principal.org_id, conn, row.question, row.text, row.language, policy
        )

    # -- the one translation path --------------------------------------------------------

    def translate(
        self,
        principal: Principal,
        question: str,
        *,
        connection_ref: str | None = None,
        thread_id: str | None = None,
    ) -> Translation:
        """``question`` read over its connection (``None``: the organization's default) in the
        thread's context (``None``: a new thread; an id the organization has no thread by starts
        one under that id), its prompts logged. Runs nothing."""
        conn = self._connections.get(principal.org_id, connection_ref)
        thread = self._threads.open(principal, conn.id, thread_id)
        response_id = str(uuid.uuid4())
        made = self._translate(principal, conn, question, thread, response_id)
        return Translation(conn, thread.key, response_id, made)

    def _translate(
        self,
        principal: Principal,
        conn: ConnectionInfo,
        question: str,
        thread: Thread,
        response_id: str,
    ) -> Generation:
        question = question.strip()
        if not question:
            raise ValidationError("question must not be empty", field="question")
        if len(question) > MAX_QUESTION_CHARS:
            raise ValidationError(
                f"question is longer than {MAX_QUESTION_CHARS} characters", field="question"
            )
        policy = self.policies.effective(principal, conn) if self.policies else None
        translate = self._translators.for_connection(principal.org_id, conn, policy)
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        made = translate(
            question,
            self._threads.history(thread),
            log_prefix=f"{day}/{thread.key}/{response_id}",
            on_record=partial(self._prompt_logs.record, principal),
        )
        self._threads.append(thread, Turn(question, made.standalone_question, made.sql))
        return made

    def record_explanation(
        self,
        principal: Principal,
        conn: ConnectionInfo,
        made: Generation,
        reason: str,
        language: str | None,
    ) -> str:
        """Keep what was understood of a question that is not about the data; the id it
        returns streams it (``explanation``)."""
        explanation_id = str(uuid.uuid4())
        with self._store.session() as session:
            session.add(
                Explanation(
                    id=explanation_id,
                    org_id=principal.org_id,
                    member_id=principal.member_id,
                    connection_id=conn.id,
                    question=made.standalone_question,
                    text=reason,  # what it understood, and what not
                    language=language,
                )
            )
        return explanation_id
