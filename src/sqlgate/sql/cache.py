"""Memoised analyses: the guard's verdict, its parsed tree and the ``notNull`` flags, per SQL text.

Dashboards and BI tools send the same statements again and again; parsing is the largest part of
a small query's cost, and both analyses are pure functions of their arguments. Every path that
analyses user or generated SQL (the query service, async jobs, the question pipeline) goes
through :func:`analyze_sql`, so they share one cache.

The tree the guard parsed from an accepted text is kept too (for the most recent texts only):
the access policy's rewrite reads the same text right after the guard, and takes a private copy
of that tree (:func:`parsed_query`) instead of parsing the text a second time.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import lru_cache
from threading import Lock

from sqlglot import exp, parse_one

from sqlgate.sql.guard import Analysis, analyze, analyze_tree
from sqlgate.sql.nullability import not_null_flags
from sqlgate.vocabulary.schema import Catalog

#: Longer texts are analysed every time: few repeat, and each would pin a large key in memory.
CACHEABLE_SQL_CHARS = 8192
#: Parsed trees kept: a tree weighs far more than a verdict (about 300 bytes per character of
#: SQL: 2.6 MB for 8 KB), and is wanted right after, so few are kept, bounded by their texts'
#: total length (about 20 MB at most) as well as by count.
_TREES = 256
_TREE_CHARS = 65_536

_trees: OrderedDict[tuple[str, str], exp.Expr] = OrderedDict()
_trees_lock = Lock()
_tree_chars = 0


@lru_cache(maxsize=2048)
def _analyze_cached(sql: str, dialect: str) -> Analysis:
    # Shared between callers: treat the result (and its lists) as read-only.
    analysis, tree = analyze_tree(sql, dialect)
    if tree is not None:
        _keep(sql, dialect, tree)
    return analysis


def analyze_sql(sql: str, dialect: str) -> Analysis:
    """:func:`~sqlgate.sql.guard.analyze`, remembered for texts up to
    :data:`CACHEABLE_SQL_CHARS`."""
    if len(sql) <= CACHEABLE_SQL_CHARS:
        return _analyze_cached(sql, dialect)
    return analyze(sql, dialect)


def parsed_query(sql: str, dialect: str) -> exp.Expr:
    """A private copy of the tree of ``sql`` (one statement): the guard's, when it parsed this
    text recently, else sqlglot's ``parse_one`` (which raises ``SqlglotError`` when it cannot
    read it). The caller may change the copy."""
    key = (sql, dialect)
    with _trees_lock:
        tree = _trees.get(key)
        if tree is not None:
            _trees.move_to_end(key)
    if tree is None:
        tree = parse_one(sql, read=dialect)
        _keep(sql, dialect, tree)
    return tree.copy()


def forget_trees() -> None:
    """Drop the kept trees (benchmarks measuring a text never seen before)."""
    global _tree_chars
    with _trees_lock:
        _trees.clear()
        _tree_chars = 0


def _keep(sql: str, dialect: str, tree: exp.Expr) -> None:
    global _tree_chars
    if len(sql) > CACHEABLE_SQL_CHARS:
        return
    key = (sql, dialect)
    with _trees_lock:
        if key not in _trees:
            _tree_chars += len(sql)
        _trees[key] = tree
        _trees.move_to_end(key)
        while len(_trees) > _TREES or _tree_chars > _TREE_CHARS:
            (old, _dialect), _tree = _trees.popitem(last=False)
            _tree_chars -= len(old)


@lru_cache(maxsize=2048)
def not_null_cached(
    sql: str, dialect: str, catalog: Catalog, names: tuple[str, ...]
) -> tuple[bool, ...]:
    """:func:`~sqlgate.sql.nullability.not_null_flags`, remembered (the catalog is hashed by
    identity: a refreshed one is a new key)."""
    return tuple(not_null_flags(sql, dialect, catalog, list(names)))
