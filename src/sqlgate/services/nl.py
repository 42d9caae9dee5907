"""Questions in plain language: to SQL (`generate_sql`), to SQL and results (`/v1/queries`), or
to an explanation when they are not about the data (``NON_SQL_QUERY``).

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

from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Scope
from sqlgate.engines.base import QueryResult
from sqlgate.errors import AuthorizationError, NotFound, SqlgateError, ValidationError
from sqlgate.library.saved_queries import SavedInfo, SavedQueries
from sqlgate.nl.pipeline import Generation
from sqlgate.services.connections import ConnectionInfo, ConnectionService
from sqlgate.services.prompt_logs import PromptLogs
from sqlgate.services.query import QueryRequest, QueryService
from sqlgate.services.threads import Threads, Turn
from sqlgate.services.translators import Translators
from sqlgate.store.db import Store
from sqlgate.store.models import Explanation

MAX_QUESTION_CHARS = 2_000


class NonSqlQuestion(SqlgateError):
    """The question cannot be answered with SQL over the connection's model (seed 001). The
    generate_sql route renders it in the seed's shape; elsewhere it is a 400 in the usual one."""

    code = "NON_SQL_QUERY"
    status = 400

    def __init__(self, message: str, *, response_id: str, explanation_id: str) -> None:
        super().__init__(message, explanation_query_id=explanation_id)
        self.response_id = response_id
        self.explanation_id = explanation_id


@dataclass(frozen=True)
class Generated:
    id: str
    sql: str  # semantic SQL, or native when asked for
    native_sql: str
    thread_id: str
    generation: Generation


@dataclass(frozen=True)
class Asked:
    saved: SavedInfo
    result: QueryResult


class NlService:
    def __init__(
        self,
        store: Store,
        connections: ConnectionService,
        queries: QueryService,
        threads: Threads,
        saved: SavedQueries,
        prompt_logs: PromptLogs,
        translators: Translators,
    ) -> None:
        self._store = store
        self._connections = connections
        self._queries = queries
        self._threads = threads
        self._saved = saved
        self._prompt_logs = prompt_logs
        self._translators = translators

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
        conn = self._connections.get(principal.org_id, connection_ref)
        thread = self._threads.open(principal, conn.id, thread_id)
        response_id = str(uuid.uuid4())
        made = self._translate(principal, conn, question, thread, response_id)
        if not made.is_sql or made.sql is None or made.native_sql is None:
            reason = made.reason or "The question does not map to the data."
            explanation = self._explain(principal, conn, made, reason, language)
            raise NonSqlQuestion(reason, response_id=response_id, explanation_id=explanation)
        return Generated(
            id=response_id,
            sql=made.native_sql if native else made.sql,
            native_sql=made.native_sql,
            thread_id=thread,
            generation=made,
        )

    # -- /v1/queries (seed 002) ----------------------------------------------------------

    def ask(self, principal: Principal, question: str, connection_ref: str | None) -> Asked:
        """Translate, run (read-only, through the guard) and save. A question that is not
        about the data is saved too, and raises NonSqlQuestion with its id."""
        conn = self._connections.get(principal.org_id, connection_ref)
        thread = self._threads.open(principal, conn.id, None)
        response_id = str(uuid.uuid4())
        made = self._translate(principal, conn, question, thread, response_id)
        save = partial(
            self._saved.save,
            org_id=principal.org_id,
            member_id=principal.member_id,
            connection_id=conn.id,
            question=question,
            thread_id=thread,
        )
        if not made.is_sql or made.native_sql is None:
            reason = made.reason or "The question does not map to the data."
            explanation = self._explain(principal, conn, made, reason, None)
            saved = save(sql=None, status="non_sql", error_code="NON_SQL_QUERY", explanation=reason)
            error = NonSqlQuestion(reason, response_id=saved.id, explanation_id=explanation)
            error.details["query_id"] = saved.id
            raise error
        try:
            ran = self._queries.execute(
                principal, conn.id, QueryRequest(made.native_sql), action="query.ask"
            )
        except SqlgateError as exc:
            saved = save(sql=made.native_sql, status="error", error_code=exc.code)
            exc.details["query_id"] = saved.id
            raise
        result = ran.result
        saved = save(
            sql=made.native_sql,
            status="ok",
            columns=[c.name for c in result.columns],
            row_count=result.row_count,
            execution_time_ms=round(result.execution_time_ms, 3),
        )
        return Asked(saved, result)

    def delete_saved(self, principal: Principal, query_id: str) -> None:
        """Authors delete their own questions; admins anyone's in the organization."""
        saved = self._saved.get(principal.org_id, query_id)
        if saved.member_id != principal.member_id and Scope.ADMIN not in principal.scopes:
            raise AuthorizationError("Only its author or an admin may delete a saved query")
        self._saved.delete(principal.org_id, query_id)

    # -- explanations --------------------------------------------------------------------

    def explanation(self, principal: Principal, explanation_id: str) -> Iterator[str]:
        """The explanation's text in pieces, streamed by the LLM when one is configured."""
        with self._store.session() as session:
            row = session.get(Explanation, explanation_id) if len(explanation_id) <= 40 else None
        if row is None or row.org_id != principal.org_id:
            raise NotFound(f"Explanation {explanation_id!r} not found")
        conn = self._connections.get(principal.org_id, row.connection_id)
        return self._translators.explain(
            principal.org_id, conn, row.question, row.text, row.language
        )

    # -- the one translation path --------------------------------------------------------

    def _translate(
        self,
        principal: Principal,
        conn: ConnectionInfo,
        question: str,
        thread_id: str,
        response_id: str,
    ) -> Generation:
        question = question.strip()
        if not question:
            raise ValidationError("question must not be empty", field="question")
        if len(question) > MAX_QUESTION_CHARS:
            raise ValidationError(
                f"question is longer than {MAX_QUESTION_CHARS} characters", field="question"
            )
        translate = self._translators.for_connection(principal.org_id, conn)
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        made = translate(
            question,
            self._threads.history(thread_id),
            log_prefix=f"{day}/{thread_id}/{response_id}",
            on_record=partial(self._prompt_logs.record, principal),
        )
        self._threads.append(thread_id, Turn(question, made.standalone_question, made.sql))
        return made

    def _explain(
        self,
        principal: Principal,
        conn: ConnectionInfo,
        made: Generation,
        reason: str,
        language: str | None,
    ) -> str:
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
