"""The access policy on the query path: one step after the guard, for every surface.

:class:`Enforcement` asks :class:`~sqlgate.services.access_policies.AccessPolicies` for the
caller's policy on the connection and rewrites the query with
:func:`~sqlgate.sql.access_rewrite.enforce` (or refuses it). What it did goes into the query's
audit row (``detail.access_policy``: the versions, tables, row policies applied, columns hidden
and masked). The rewritten SQL is never shown: an engine error that quotes it is replaced by one
that does not.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import Any, Protocol

from sqlgate.auth.principal import Principal
from sqlgate.errors import SqlgateError, SqlNotAllowed
from sqlgate.services.access_policies import AccessPolicies, visible
from sqlgate.services.connections import ConnectionInfo
from sqlgate.sql.access_bind import EffectivePolicy
from sqlgate.sql.access_document import RESERVED_PREFIX
from sqlgate.sql.access_rewrite import REASON, enforce
from sqlgate.sql.cache import analyze_sql
from sqlgate.sql.guard import Analysis, refusal
from sqlgate.vocabulary.schema import Catalog, DatabaseSchema

_POSITION_DETAILS = ("position", "line", "column")


class Run(Protocol):
    connection: ConnectionInfo
    policy: dict[str, Any] | None
    settings: dict[str, str] | None


class Enforcement:
    def __init__(self, policies: AccessPolicies | None) -> None:
        self.policies = policies

    def apply(self, principal: Principal, run: Run, request: Any) -> Any:
        """``request`` (a QueryRequest) with its SQL rewritten for the caller's policy, or as
        it is when the connection has none. Raises SqlNotAllowed when the policy refuses."""
        if self.policies is None:
            return request
        policy = self.policies.effective(principal, run.connection)
        if policy is None:
            return request
        run.policy = {"versions": dict(policy.versions)}
        run.settings = dict(policy.settings) or None
        _guarded(request.sql, policy.dialect)
        enforced = enforce(request.sql, policy)
        run.policy.update(
            tables=list(enforced.tables),
            policies=list(enforced.policies),
            hidden=list(enforced.hidden),
            masked=list(enforced.masked),
        )
        return replace(request, sql=enforced.sql)

    def catalog(self, principal: Principal, run: Run, sql: str) -> Catalog | None:
        """For validation: the catalog of what the caller may see (None: no policy), after
        checking that the policy admits ``sql`` (SqlNotAllowed if not)."""
        if self.policies is None:
            return None
        policy = self.policies.effective(principal, run.connection)
        if policy is None:
            return None
        run.policy = {"versions": dict(policy.versions)}
        _guarded(sql, policy.dialect)
        enforce(sql, policy)
        schema = self.policies.engine_schema(run.connection)
        return _visible_catalog(schema, policy)

    @staticmethod
    def refused_analysis(analysis: Analysis, refused: SqlNotAllowed) -> Analysis:
        return replace(
            analysis,
            is_valid=False,
            error=refused.message,
            reason=REASON,
            tables=[],
            columns=[],
        )


def _guarded(sql: str, dialect: str) -> None:
    """Under a policy the guard always applies, even where the operator switched it off
    (``SQLGATE_SQL_GUARD=false``): its deny-lists stop functions that run SQL text."""
    analysis = analyze_sql(sql, dialect)
    if not analysis.is_valid:
        raise refusal(analysis)


@lru_cache(maxsize=256)
def _visible_catalog(schema: DatabaseSchema, policy: EffectivePolicy) -> Catalog:
    return Catalog.from_schema(visible(schema, policy))


def scrubbed(exc: BaseException, policy: dict[str, Any] | None) -> BaseException:
    """``exc`` as the client may see it when a policy rewrote the query: an error whose message
    quotes the rewritten SQL loses the quote, and positions (which point into the rewritten
    text) are dropped."""
    if policy is None or not isinstance(exc, SqlgateError):
        return exc
    if isinstance(exc, SqlNotAllowed) and exc.details.get("reason") == REASON:
        return exc  # the policy's own refusal: says nothing of the rewritten text
    message = exc.message
    if RESERVED_PREFIX in message:
        first = message.split("\n", 1)[0]
        message = first if RESERVED_PREFIX not in first else "The query failed"
        message += " (the query ran under the connection's access policy)"
    details = {k: v for k, v in exc.details.items() if k not in _POSITION_DETAILS}
    if message == exc.message and details == exc.details:
        return exc
    clean = type(exc).__new__(type(exc))
    SqlgateError.__init__(clean, message, status=exc.status, **details)
    clean.headers = exc.headers
    return clean
