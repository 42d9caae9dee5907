"""Reading the LLM's answers: strict JSON, checked field by field, never executed.

The intent step answers ``{"intent": "SQL", "standalone_question": "..."}`` or
``{"intent": "NON_SQL", "reason": "..."}``; the generation step ``{"sql": "..."}`` (or
``{"sql": null, "reason": "..."}`` when the schema cannot answer). An answer that does not have
that shape raises :class:`MalformedAnswer`, whose message is what the pipeline tells the model
when it asks again. The text of an answer is data: SQL from it goes through the guard like any
user's SQL, and nothing in it is ever evaluated as code.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from sqlgate.nl.providers import ProviderResponseError
from sqlgate.nl.questions import MAX_QUESTION_CHARS

MAX_REASON_CHARS = 1_000
MAX_SQL_CHARS = 20_000

_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)
_SQL_FENCE = re.compile(r"```(?:sql|SQL)?\s*\n(.*?)\n?\s*```", re.DOTALL)
_INTENTS = {
    "sql": "sql",
    "sql_query": "sql",
    "non_sql": "non_sql",
    "non_sql_query": "non_sql",
    "nonsql": "non_sql",
}


class MalformedAnswer(ProviderResponseError):
    """The model's answer does not have the asked-for JSON shape (after one retry, the
    pipeline falls back or reports this)."""


@dataclass(frozen=True)
class Intent:
    """What the intent step decided."""

    kind: Literal["sql", "non_sql"]
    #: The question rewritten to stand alone (follow-ups resolved with the thread's history).
    standalone_question: str
    #: For ``non_sql``: why the question is not one for SQL, in a sentence.
    reason: str | None = None


@dataclass(frozen=True)
class SqlAnswer:
    """What a generation step answered: SQL, or why there is none."""

    sql: str | None
    reason: str | None = None


def parse_json_object(text: str) -> dict[str, Any]:
    """The JSON object in ``text``: the whole text, or inside one Markdown code fence.

    Raises :class:`MalformedAnswer` otherwise."""
    candidate = text.strip()
    fenced = _FENCE.match(candidate)
    if fenced:
        candidate = fenced.group(1).strip()
    try:
        data = json.loads(candidate)
    except ValueError:
        raise MalformedAnswer(
            "The answer is not a JSON object. Answer with exactly one JSON object and nothing else."
        ) from None
    if not isinstance(data, dict):
        raise MalformedAnswer("The answer is JSON but not an object; answer with one object.")
    return data


def parse_intent(text: str, original_question: str, *, has_history: bool) -> Intent:
    """The intent step's answer. Without history, a missing rewrite means the question as
    asked; with history, it is required."""
    data = parse_json_object(text)
    raw = data.get("intent")
    kind = _INTENTS.get(str(raw).strip().lower()) if isinstance(raw, str) else None
    if kind is None:
        raise MalformedAnswer('"intent" must be "SQL" or "NON_SQL".')
    standalone = data.get("standalone_question")
    if standalone is not None and not isinstance(standalone, str):
        raise MalformedAnswer('"standalone_question" must be a string.')
    standalone = (standalone or "").strip()
    if len(standalone) > MAX_QUESTION_CHARS:
        raise MalformedAnswer(
            f'"standalone_question" is longer than {MAX_QUESTION_CHARS} characters.'
        )
    if kind == "sql":
        if not standalone:
            if has_history:
                raise MalformedAnswer(
                    '"standalone_question" is required: the question rewritten so that it can '
                    "be understood without the conversation."
                )
            standalone = original_question
        return Intent("sql", standalone)
    reason = data.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise MalformedAnswer('"reason" must be a string.')
    reason = " ".join((reason or "").split())[:MAX_REASON_CHARS] or (
        "The question cannot be answered with a query over this data."
    )
    return Intent("non_sql", standalone or original_question, reason)


def parse_sql_answer(text: str) -> SqlAnswer:
    """The generation step's answer: ``{"sql": "..."}``, ``{"sql": null, "reason": "..."}``, or,
    leniently, one fenced ```sql block. Raises :class:`MalformedAnswer` otherwise."""
    try:
        data = parse_json_object(text)
    except MalformedAnswer:
        fenced = _SQL_FENCE.findall(text)
        if len(fenced) == 1 and fenced[0].strip():
            return SqlAnswer(_check_sql(fenced[0]))
        raise MalformedAnswer(
            'The answer is not a JSON object. Answer with exactly {"sql": "<one SELECT '
            'statement>"} and nothing else.'
        ) from None
    if "sql" not in data:
        raise MalformedAnswer('The JSON object has no "sql" field.')
    sql = data["sql"]
    if sql is None or (isinstance(sql, str) and not sql.strip()):
        reason = data.get("reason")
        reason = " ".join(reason.split())[:MAX_REASON_CHARS] if isinstance(reason, str) else ""
        return SqlAnswer(None, reason or "The model found no query that answers the question.")
    if not isinstance(sql, str):
        raise MalformedAnswer('"sql" must be a string holding one SQL statement.')
    return SqlAnswer(_check_sql(sql))


def _check_sql(sql: str) -> str:
    sql = sql.strip()
    if len(sql) > MAX_SQL_CHARS:
        raise MalformedAnswer(f"The SQL is longer than {MAX_SQL_CHARS} characters.")
    return sql
