"""Memoised analyses: the guard's verdict and the ``notNull`` flags, per SQL text.

Dashboards and BI tools send the same statements again and again; parsing is the largest part of
a small query's cost, and both analyses are pure functions of their arguments. Every path that
analyses user or generated SQL (the query service, async jobs, the question pipeline) goes
through :func:`analyze_sql`, so they share one cache.
"""

from __future__ import annotations

from functools import lru_cache

from sqlgate.sql.guard import Analysis, analyze
from sqlgate.sql.nullability import not_null_flags
from sqlgate.vocabulary.schema import Catalog

#: Longer texts are analysed every time: few repeat, and each would pin a large key in memory.
CACHEABLE_SQL_CHARS = 8192


@lru_cache(maxsize=2048)
def _analyze_cached(sql: str, dialect: str) -> Analysis:
    # Shared between callers: treat the result (and its lists) as read-only.
    return analyze(sql, dialect)


def analyze_sql(sql: str, dialect: str) -> Analysis:
    """:func:`~sqlgate.sql.guard.analyze`, remembered for texts up to
    :data:`CACHEABLE_SQL_CHARS`."""
    if len(sql) <= CACHEABLE_SQL_CHARS:
        return _analyze_cached(sql, dialect)
    return analyze(sql, dialect)


@lru_cache(maxsize=2048)
def not_null_cached(
    sql: str, dialect: str, catalog: Catalog, names: tuple[str, ...]
) -> tuple[bool, ...]:
    """:func:`~sqlgate.sql.nullability.not_null_flags`, remembered (the catalog is hashed by
    identity: a refreshed one is a new key)."""
    return tuple(not_null_flags(sql, dialect, catalog, list(names)))
