"""What every path from a question to SQL shares: how long a question may be, and the error for
a question that is not about the data.

The rule-based translator, the LLM's intent step and the NL service all hold questions to
:data:`MAX_QUESTION_CHARS`; the translator and the service both raise :class:`NonSqlQuestion`.
"""

from __future__ import annotations

from sqlgate.errors import SqlgateError

MAX_QUESTION_CHARS = 2_000


class NonSqlQuestion(SqlgateError):
    """The question cannot be answered with SQL over the connection's model (seed 001). The
    generate_sql route renders it in the seed's shape; elsewhere it is a 400 in the usual one.

    ``reason`` is the translator's short reason (``write_request``, ``no_match``, ...); the NL
    service, which saves the answer and its explanation, gives ``response_id`` and
    ``explanation_id`` (the latter also as the detail ``explanation_query_id``)."""

    code = "NON_SQL_QUERY"
    status = 400

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        response_id: str | None = None,
        explanation_id: str | None = None,
    ) -> None:
        super().__init__(message, reason=reason, explanation_query_id=explanation_id)
        self.response_id = response_id
        self.explanation_id = explanation_id
