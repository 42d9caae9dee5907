"""Saved questions (seed 002 `/v1/queries`): a question is translated (:mod:`sqlgate.services.nl`),
run through the one query path (:class:`QueryService`: the guard, the read-only engine, the
audit) and saved with its SQL and outcome, whatever that outcome is."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Scope
from sqlgate.engines.result import QueryResult
from sqlgate.errors import AuthorizationError, SqlgateError
from sqlgate.library.saved_queries import SavedInfo, SavedQueries
from sqlgate.nl.questions import NonSqlQuestion
from sqlgate.services.nl import NlService
from sqlgate.services.query import QueryRequest, QueryService


@dataclass(frozen=True)
class Asked:
    saved: SavedInfo
    result: QueryResult


class SavedQuestions:
    def __init__(self, nl: NlService, queries: QueryService, saved: SavedQueries) -> None:
        self._nl = nl
        self._queries = queries
        self._saved = saved

    def ask(self, principal: Principal, question: str, connection_ref: str | None) -> Asked:
        """Translate, run (read-only, through the guard) and save. A question that is not
        about the data is saved too, and raises NonSqlQuestion with its id."""
        conn, thread, _response_id, made = self._nl.translate(
            principal, question, connection_ref=connection_ref
        )
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
            explanation = self._nl.record_explanation(principal, conn, made, reason, None)
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

    def delete(self, principal: Principal, query_id: str) -> None:
        """Authors delete their own questions; admins anyone's in the organization."""
        saved = self._saved.get(principal.org_id, query_id)
        if saved.member_id != principal.member_id and Scope.ADMIN not in principal.scopes:
            raise AuthorizationError("Only its author or an admin may delete a saved query")
        self._saved.delete(principal.org_id, query_id)
