"""The rule-based translator's answer: SQL, or why there is none, and which words it mapped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlgate.nl.questions import NonSqlQuestion


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
class RuleAnswer:
    """The rule-based translator's answer: SQL, or why there is none."""

    question: str
    outcome: Literal["sql", "non_sql"]
    dialect: str
    explanation: str
    sql: str | None = None  # semantic SQL (model names, metrics)
    native_sql: str | None = None  # expanded for the connection's dialect
    mappings: tuple[WordMapping, ...] = ()
    unmatched: tuple[str, ...] = ()
    reason: str | None = None  # non_sql: write_request, no_match, unclear, too_long
    #: Share of the question's content words the answer accounts for (0..1).
    coverage: float = 0.0

    @property
    def is_sql(self) -> bool:
        return self.outcome == "sql"

    def raise_if_non_sql(self) -> None:
        if not self.is_sql:
            raise NonSqlQuestion(self.explanation, reason=self.reason)

    def rendered_context(self) -> str:
        """What the translator saw and did, as text: its "prompt" for prompt logs."""
        lines = [f"question: {self.question}", f"dialect: {self.dialect}", "mappings:"]
        lines += [f"  - {m.words!r} -> {m.kind} {m.target} ({m.role})" for m in self.mappings]
        if self.unmatched:
            lines.append("not understood: " + ", ".join(self.unmatched))
        lines.append(f"coverage: {self.coverage:.0%}")
        lines.append(f"outcome: {self.outcome}")
        lines.append(f"explanation: {self.explanation}")
        if self.sql:
            lines.append(f"semantic sql: {self.sql}")
        if self.native_sql:
            lines.append(f"native sql: {self.native_sql}")
        return "\n".join(lines)
