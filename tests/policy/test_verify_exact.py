"""The rewrite's independent check, as it now works: a fresh parse of the rewritten text, and
each wrapper recognised node for node (no rendering), so any change to a wrapper's text, even
one of case, quoting or a comment, refuses the query; and the rewrite reading the guard's
tree gives exactly the text a fresh parse gives."""

from __future__ import annotations

import pytest
from sqlglot import exp

from sqlgate.errors import SqlNotAllowed
from sqlgate.sql import access_rewrite, cache
from sqlgate.sql.access_bind import EffectivePolicy, PolicyContext, bind
from sqlgate.sql.access_document import compile_document, spec_from_mapping
from sqlgate.sql.access_rewrite import enforce, verify
from sqlgate.vocabulary.schema import DatabaseSchema, SchemaColumn, SchemaTable

POLICY = {
    "tables": {"orders": {"tenant": {"column": "org_id", "attribute": "tenant_id"}}},
    "default": "deny",
}


def _policy(dialect: str, tenant: int = 1) -> EffectivePolicy:
    columns = tuple(SchemaColumn(name, "INTEGER", True) for name in ("id", "org_id", "amount"))
    schema_name = "public" if dialect == "postgres" else "main"
    schema = DatabaseSchema((SchemaTable(schema_name, "orders", "table", columns),))
    spec, problems = spec_from_mapping(POLICY)
    assert spec is not None, problems
    document, problems = compile_document(spec, schema, dialect)
    assert document is not None, problems
    context = PolicyContext("org", None, "member", {"tenant_id": tenant})
    return bind(document, [], schema, context, {"operator": 1})


@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "sqlite"])
def test_the_rewrite_passes_and_every_altered_wrapper_is_refused(dialect: str) -> None:
    policy = _policy(dialect)
    sql = "SELECT o.id FROM orders AS o WHERE o.amount > 5"
    out = enforce(sql, policy).sql
    verify(out, policy, frozenset())  # the genuine text passes
    (wrapper,) = policy.wrappers.values()
    assert wrapper.text in out
    altered = {
        "another tenant": wrapper.text.replace("= 1", "= 2"),
        "no row filter": wrapper.text.replace(" WHERE ", " WHERE TRUE OR "),
        "a comment": wrapper.text.replace("SELECT", "SELECT /* x */", 1),
        "another case": wrapper.text.replace('"orders"', '"ORDERS"'),
        "no fence": wrapper.text.replace("OFFSET 0", "").replace("LIMIT -1", ""),
    }
    for what, text in altered.items():
        assert text != wrapper.text, what
        with pytest.raises(SqlNotAllowed):
            verify(out.replace(wrapper.text, text), policy, frozenset())


def test_a_wrapper_of_another_caller_is_refused() -> None:
    mine, theirs = _policy("duckdb", 1), _policy("duckdb", 2)
    out = enforce("SELECT count(*) AS n FROM orders", theirs).sql
    verify(out, theirs, frozenset())
    with pytest.raises(SqlNotAllowed):
        verify(out, mine, frozenset())


def test_the_guards_tree_is_lent_as_a_private_copy() -> None:
    sql = "SELECT id FROM orders WHERE amount > 7 -- lent"
    assert cache.analyze_sql(sql, "duckdb").is_valid
    first = cache.parsed_query(sql, "duckdb")
    first.find(exp.Column).replace(exp.column("secret"))  # a caller changing its copy
    again = cache.parsed_query(sql, "duckdb")
    assert again is not first
    assert [c.name for c in again.find_all(exp.Column)] == ["id", "amount"]


def test_reading_the_guards_tree_rewrites_exactly_as_a_fresh_parse() -> None:
    policy = _policy("duckdb")
    sql = (
        "WITH big AS (SELECT * FROM orders WHERE amount > 9) "
        "SELECT b.id, (SELECT max(id) FROM orders) AS top FROM big AS b"
    )
    cache.forget_trees()
    fresh = access_rewrite._enforce(sql, policy)  # parses the text itself
    assert cache.analyze_sql(sql + " ", "duckdb").is_valid  # the guard parses this text
    lent = access_rewrite._enforce(sql + " ", policy)
    assert lent.sql == fresh.sql + " "
    assert lent.tables == fresh.tables == ("main.orders",)


def test_kept_trees_stay_within_their_memory_bound() -> None:
    texts = [f"SELECT {n} AS x{n}{' ' * 3000}" for n in range(60)]  # 180,000 characters in all
    for text in texts:
        assert cache.analyze_sql(text, "duckdb").is_valid
    assert sum(len(sql) for sql, _ in cache._trees) <= cache._TREE_CHARS
    oldest = cache.parsed_query(texts[0], "duckdb")  # forgotten: parsed again, the same tree
    assert oldest.sql() == "SELECT 0 AS x0"
