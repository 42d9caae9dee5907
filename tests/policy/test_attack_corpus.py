"""The attack corpus, through HTTP, on DuckDB, SQLite and PostgreSQL.

Tenant A runs each query on the shared warehouse (tests/policy/warehouse.py). The answer must
never carry the canary or one of tenant B's numbers, and must be either a refusal (4xx, never a
500) or exactly the answer the physically separate copy of A's visible data gives.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.policy.warehouse import B_NUMBER, CANARY, Tenant, Warehouse

# (engines or None for all, SQL). The same text runs on the shared warehouse and the copy.
ATTACKS: list[tuple[frozenset[str] | None, str]] = [
    # reference tricks
    (None, "WITH orders AS (SELECT * FROM orders) SELECT * FROM orders"),
    (None, "WITH o AS (SELECT * FROM orders), orders AS (SELECT * FROM o) SELECT * FROM orders"),
    (None, "SELECT * FROM ORDERS"),
    (None, 'SELECT * FROM "orders"'),
    (None, "SELECT * FROM Orders AS o WHERE o.amount > 0"),
    (frozenset({"duckdb", "sqlite"}), "SELECT * FROM main.orders"),
    (frozenset({"duckdb", "sqlite"}), 'SELECT * FROM "main"."orders"'),
    (frozenset({"duckdb", "sqlite"}), "SELECT * FROM MAIN.ORDERS"),
    (frozenset({"postgres"}), "SELECT * FROM public.orders"),
    (frozenset({"postgres"}), 'SELECT * FROM "public"."orders"'),
    (None, "SELECT * FROM memory.main.orders"),
    (frozenset({"postgres", "duckdb"}), "TABLE orders"),
    (frozenset({"duckdb"}), "FROM orders"),
    (
        frozenset({"postgres", "duckdb"}),
        "SELECT o.id, x.c FROM orders o, LATERAL (SELECT count(*) AS c, sum(amount) AS s "
        "FROM orders i WHERE i.id <> o.id) x ORDER BY o.id",
    ),
    (None, "SELECT customer FROM orders UNION SELECT name FROM users ORDER BY 1"),
    (None, "SELECT id FROM orders UNION ALL SELECT id FROM users ORDER BY 1"),
    (None, "SELECT id FROM orders EXCEPT SELECT id FROM users ORDER BY 1"),
    (None, "SELECT id FROM orders INTERSECT SELECT id FROM users ORDER BY 1"),
    (
        None,
        "WITH RECURSIVE r(n) AS (SELECT min(id) FROM orders UNION ALL SELECT n + 1 FROM r "
        "WHERE n < (SELECT max(id) FROM orders)) SELECT * FROM r",
    ),
    (
        None,
        "WITH RECURSIVE orders(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM orders "
        "WHERE id < 3) SELECT * FROM orders",
    ),
    (
        None,
        "WITH RECURSIVE walk(id) AS (SELECT id FROM orders UNION SELECT o.id FROM orders o "
        "JOIN walk ON o.id > walk.id) SELECT count(*), max(id) FROM walk",
    ),
    # joins
    (
        None,
        "SELECT u.name, o.amount FROM users u RIGHT JOIN orders o ON o.org_id = u.org_id",
    ),
    (
        None,
        "SELECT u.name, o.amount FROM users u FULL OUTER JOIN orders o ON o.id = u.id",
    ),
    (None, "SELECT u.name, o.amount FROM orders o LEFT JOIN users u ON 1 = 1 ORDER BY 1, 2"),
    (None, "SELECT count(*) FROM orders a CROSS JOIN orders b"),
    (
        None,
        "SELECT o.id, (SELECT count(*) FROM orders o2 WHERE o2.id > o.id) FROM orders o ORDER BY 1",
    ),
    (
        None,
        "SELECT o.id, (SELECT count(*) FROM orders o2 WHERE o2.id > o.id) AS c FROM orders o "
        "ORDER BY 1",
    ),
    (None, "SELECT (SELECT sum(amount) FROM orders) AS s, (SELECT count(*) FROM users) AS c"),
    (None, "SELECT * FROM (SELECT (SELECT max(id) FROM orders) AS m) AS t"),
    (
        None,
        "SELECT count(*) FROM users WHERE EXISTS (SELECT 1 FROM orders WHERE customer = 'CANARY')",
    ),
    (None, "SELECT count(*) FROM users WHERE id IN (SELECT id FROM orders WHERE amount > 700000)"),
    (
        None,
        "SELECT id, count(*) OVER (), sum(amount) OVER (), max(id) OVER () FROM orders ORDER BY id",
    ),
    (None, "SELECT max(amount), min(id), count(DISTINCT org_id), sum(id) FROM orders"),
    (None, "SELECT org_id, count(*) FROM orders GROUP BY org_id HAVING count(*) > 0"),
    (None, "SELECT o.id, u.name FROM orders o JOIN users u USING (id)"),
    (None, "SELECT id, name FROM orders NATURAL JOIN users"),
    (None, "SELECT DISTINCT customer FROM orders"),
    (None, "SELECT count(*) FILTER (WHERE amount > 15) AS n FROM orders"),
    (None, "SELECT id FROM orders ORDER BY id LIMIT (SELECT count(*) FROM users)"),
    (None, "SELECT * FROM (VALUES (1), (7771)) AS v(id) WHERE id IN (SELECT id FROM orders)"),
    (None, "SELECT * FROM main/**/.orders"),
    (None, 'SELECT * FROM "ORDERS"'),
    (
        frozenset({"postgres", "duckdb"}),
        "SELECT DISTINCT ON (org_id) id FROM orders ORDER BY org_id, id",
    ),
    (
        frozenset({"postgres", "duckdb"}),
        "SELECT org_id, count(*) FROM orders GROUP BY GROUPING SETS ((org_id), ())",
    ),
    (
        frozenset({"duckdb"}),
        "SELECT id FROM orders QUALIFY row_number() OVER (ORDER BY amount DESC) = 1",
    ),
    (frozenset({"duckdb"}), "SELECT * FROM orders USING SAMPLE 100%"),
    (frozenset({"duckdb"}), "SELECT * FROM orders POSITIONAL JOIN users"),
    (frozenset({"duckdb"}), "PIVOT orders ON customer USING sum(amount)"),
    (frozenset({"duckdb"}), "SELECT * FROM orders o ASOF JOIN users u ON o.id >= u.id"),
    (frozenset({"postgres"}), "SELECT * FROM ONLY orders"),
    (frozenset({"postgres"}), "SELECT * FROM orders TABLESAMPLE BERNOULLI (50)"),
    # smuggled sources
    (frozenset({"duckdb"}), "SELECT * FROM query_table('orders')"),
    (frozenset({"duckdb"}), "SELECT * FROM duckdb_tables()"),
    (frozenset({"duckdb"}), "SELECT * FROM read_csv('/etc/passwd')"),
    (frozenset({"duckdb"}), "SELECT * FROM 'shared.duckdb'"),
    (frozenset({"duckdb"}), "SELECT * FROM range(3)"),
    (frozenset({"sqlite"}), "SELECT * FROM sqlite_master"),
    (frozenset({"sqlite"}), "SELECT * FROM pragma_table_info('orders')"),
    (frozenset({"postgres"}), "SELECT * FROM pg_catalog.pg_tables"),
    (frozenset({"postgres"}), "SELECT * FROM pg_class"),
    (frozenset({"postgres"}), "SELECT * FROM generate_series(1, 3)"),
    (frozenset({"postgres"}), "SELECT to_regclass('public.secrets') AS x"),
    (frozenset({"postgres"}), "SELECT 'public.secrets'::regclass AS x"),
    (frozenset({"postgres"}), "SELECT has_column_privilege('orders', 'note', 'select') AS x"),
    (frozenset({"postgres"}), "SELECT has_table_privilege('secrets', 'select') AS x"),
    (frozenset({"postgres"}), "SELECT query_to_xml('select * from secrets', true, true, '') AS x"),
    (frozenset({"postgres", "duckdb"}), "SELECT * FROM information_schema.tables"),
    (frozenset({"postgres", "duckdb"}), "SELECT * FROM information_schema.columns"),
    (frozenset({"postgres", "duckdb"}), "SELECT * FROM unnest(ARRAY[1, 2])"),
    (None, "SELECT * FROM secrets"),
    (None, "SELECT * FROM orders, secrets"),
    (None, "SELECT note FROM orders"),
    (None, "SELECT pw_hash FROM users"),
    (None, "SELECT orders.note FROM orders"),
    (None, "SELECT * FROM orders AS __sg_src"),
    (frozenset({"postgres", "duckdb"}), "SELECT to_json(o) FROM orders o"),
    (frozenset({"postgres", "duckdb"}), "SELECT row_to_json(orders) FROM orders"),
    # oracles
    (
        None,
        "SELECT count(*) FROM orders "
        "WHERE 1 / (CASE WHEN customer = 'CANARY' THEN 0 ELSE 1 END) = 1",
    ),
    (None, "SELECT count(*) FROM orders WHERE amount / (amount - 777001) >= 0"),
    (
        frozenset({"postgres", "duckdb"}),
        "SELECT count(*) FROM orders WHERE CAST(customer AS INTEGER) > 0",
    ),
    (
        frozenset({"duckdb"}),
        "SELECT count(*) AS n FROM orders WHERE CASE WHEN customer = 'CANARY' "
        "THEN error('leak') ELSE true END",
    ),
    (
        frozenset({"sqlite", "duckdb"}),
        "SELECT count(*) AS n FROM orders WHERE CASE WHEN customer = 'CANARY' "
        "THEN json_extract('{', '$') ELSE 1 END = 1",
    ),
    (None, "EXPLAIN SELECT * FROM orders"),
    (frozenset({"postgres"}), "EXPLAIN ANALYZE SELECT * FROM orders"),
    (frozenset({"sqlite"}), "EXPLAIN QUERY PLAN SELECT * FROM orders"),
]


def _cases() -> list[Any]:
    cases = []
    for engines, sql in ATTACKS:
        marks = ()
        cases.append(pytest.param(engines, sql, id=sql[:70], marks=marks))
    return cases


def assert_clean(text: str) -> None:
    assert CANARY not in text, text
    assert "__sg_src." not in text and "__sg_c0" not in text, text
    assert B_NUMBER + "0" not in text, text
    assert "hash-" not in text and "@a.test" not in text, text


def assert_as_copy(house: Warehouse, tenant: Tenant, sql: str) -> Any:
    """``sql`` on the shared warehouse as ``tenant`` (A): refused, or the copy's answer."""
    shared = house.run(tenant, sql)
    assert shared.status_code < 500, shared.text
    assert_clean(shared.text)
    if shared.status_code != 200:
        assert shared.json()["error"]["code"] in (
            "sql_not_allowed",
            "sql_syntax_error",
            "query_error",
        ), shared.text
        return shared
    copy = house.run(tenant, sql, house.copy)
    assert copy.status_code == 200, (shared.text, copy.text)
    got, want = shared.json(), copy.json()
    assert [c["name"] for c in got["columns"]] == [c["name"] for c in want["columns"]]
    assert sorted(map(repr, got["rows"])) == sorted(map(repr, want["rows"])), (sql, got, want)
    return shared


@pytest.mark.parametrize(("engines", "sql"), _cases())
def test_attack_is_refused_or_answers_as_the_copy(
    house: Warehouse, engines: frozenset[str] | None, sql: str
) -> None:
    if engines is not None and house.engine not in engines:
        pytest.skip(f"not {house.engine} SQL")
    assert_as_copy(house, house.a, sql)


def test_visible_rows_and_masks(house: Warehouse) -> None:
    r = house.run(house.a, "SELECT * FROM users ORDER BY id")
    assert r.status_code == 200, r.text
    assert [c["name"] for c in r.json()["columns"]] == ["id", "org_id", "name", "email"]
    assert r.json()["rows"] == [[1, 1, "alice", "***"], [2, 1, "bob", "***"]]
    b = house.run(house.b, "SELECT customer, amount FROM orders ORDER BY id")
    assert b.json()["rows"] == [[CANARY, 777001], [CANARY, 777002]]


def test_hidden_column_is_unknown_not_secret(house: Warehouse) -> None:
    r = house.run(house.a, "SELECT note FROM orders")
    assert r.status_code == 400, r.text
    assert "a-note" not in r.text
    assert "__sg" not in r.text and "OFFSET" not in r.text.upper()


def test_missing_attribute_gives_no_rows(house: Warehouse) -> None:
    for sql in (
        "SELECT * FROM orders",
        "SELECT * FROM users",
        "SELECT id FROM orders UNION SELECT id FROM users",
    ):
        r = house.run(house.nobody, sql)
        assert r.status_code == 200, r.text
        assert r.json()["rows"] == []
    r = house.run(house.nobody, "SELECT count(*), sum(amount) FROM orders")
    assert r.json()["rows"] == [[0, None]]


@pytest.mark.parametrize(
    "value",
    [
        "1' OR '1'='1",
        "1 OR 1=1",
        "1); DROP TABLE orders; --",
        "' UNION SELECT * FROM secrets --",
        "1\\' OR 1=1 --",
        'x"y',
    ],
)
def test_quotes_and_sql_in_attribute_values_stay_literals(house: Warehouse, value: str) -> None:
    house.attributes[house.nobody.org_id] = {"tenant_id": value}
    try:
        r = house.run(house.nobody, "SELECT * FROM orders")
        assert r.status_code < 500, r.text
        assert_clean(r.text)
        if r.status_code == 200:
            assert r.json()["rows"] == []
    finally:
        house.attributes[house.nobody.org_id] = {}
    rows = house.run(house.a, "SELECT count(*) FROM orders").json()["rows"]
    assert rows == [[3]]


def test_policy_change_takes_effect_at_once(house: Warehouse) -> None:
    from tests.policy.warehouse import POLICY

    c = house.nobody
    house.attributes[c.org_id] = {"tenant_id": 1}
    try:
        assert house.run(c, "SELECT count(*) FROM orders").json()["rows"] == [[3]]
        narrower = POLICY.replace("columns: {note: hide}", "columns: {note: hide, customer: hide}")
        house.deploy(narrower, tenants=(c,))
        r = house.run(c, "SELECT * FROM orders")
        assert [col["name"] for col in r.json()["columns"]] == ["id", "org_id", "amount"]
        assert house.run(c, "SELECT customer FROM orders").status_code == 400
        only_users = "tables:\n  users:\n    tenant: {column: org_id, attribute: tenant_id}\n"
        house.deploy(only_users, tenants=(c,))
        assert house.run(c, "SELECT count(*) FROM orders").status_code == 422
        house.attributes[c.org_id] = {"tenant_id": 2}  # attributes change: at once too
        rows = house.run(c, "SELECT name FROM users").json()["rows"]
        assert rows == [[CANARY]]
    finally:
        house.attributes[c.org_id] = {}
        house.deploy(POLICY, tenants=(c,))


def test_a_filter_only_column_filters_but_never_comes_back(house: Warehouse) -> None:
    from tests.policy.warehouse import POLICY

    c = house.nobody
    house.attributes[c.org_id] = {"tenant_id": 1}
    try:
        house.deploy(POLICY.replace("note: hide}", "note: hide, org_id: filter}"), tenants=(c,))
        ok = {
            "SELECT id FROM orders WHERE org_id = 1 ORDER BY id": [[1], [2], [3]],
            "SELECT count(*) FROM orders WHERE org_id = 2": [[0]],
            "SELECT o.id FROM orders o JOIN users u ON u.org_id = o.org_id WHERE o.id = 1": [
                [1],
                [1],
            ],
        }
        for sql, rows in ok.items():
            r = house.run(c, sql)
            assert r.status_code == 200, (sql, r.text)
            assert r.json()["rows"] == rows, sql
        for sql in (
            "SELECT org_id FROM orders",
            "SELECT * FROM orders",
            "SELECT o.* FROM orders o",
            "SELECT org_id + 0 AS x FROM orders",
            "SELECT count(*) FROM orders GROUP BY org_id",
            "SELECT id FROM orders ORDER BY org_id",
            "SELECT max(org_id) AS m FROM orders",
            "WITH t AS (SELECT org_id AS x FROM orders) SELECT x FROM t",
        ):
            r = house.run(c, sql)
            assert r.status_code == 422, (sql, r.text)
            assert r.json()["error"]["reason"] == "access_policy"
    finally:
        house.attributes[c.org_id] = {}
        house.deploy(POLICY, tenants=(c,))
