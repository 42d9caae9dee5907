"""An engine as one caller's access policy lets them see it, for the question path.

Questions to SQL read the schema (to retrieve tables and write prompts), sample column values
(so "Germany" is found in ``country``) and dry-run generated SQL. Under an access policy each
of those must see only what the caller may: :class:`PolicyBoundEngine` shows the visible schema
and runs every statement through :func:`~sqlgate.sql.access_rewrite.enforce` first, so values
and errors come from permitted rows only. What it builds is cached per policy fingerprint, which
covers the policy versions and the caller's role and attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlgate.engines.base import Engine, QueryResult
from sqlgate.services.access_policies import visible
from sqlgate.sql.access_bind import EffectivePolicy
from sqlgate.sql.access_rewrite import enforce
from sqlgate.vocabulary.schema import Catalog, DatabaseSchema


class PolicyBoundEngine:
    """The parts of :class:`Engine` the question path uses, under ``policy``."""

    def __init__(self, engine: Engine, policy: EffectivePolicy) -> None:
        self._engine = engine
        self.policy = policy
        self.dialect = engine.dialect
        self._schema: tuple[DatabaseSchema, DatabaseSchema] | None = None

    def schema(self, *, refresh: bool = False) -> DatabaseSchema:
        full = self._engine.schema(refresh=refresh)
        if self._schema is None or self._schema[0] is not full:
            self._schema = (full, visible(full, self.policy))
        return self._schema[1]

    def catalog(self, *, refresh: bool = False) -> Catalog:
        return Catalog.from_schema(self.schema(refresh=refresh))

    def execute(
        self, sql: str, params: Mapping[str, Any] | None, *, timeout: float, row_limit: int
    ) -> QueryResult:
        enforced = enforce(sql, self.policy)
        return self._engine.execute(
            enforced.sql,
            params,
            timeout=timeout,
            row_limit=row_limit,
            settings=dict(self.policy.settings) or None,
        )
