"""The main property: on the shared warehouse, tenant A gets exactly what a separate database
holding only A's visible data gives, for generated queries, on DuckDB, SQLite and PostgreSQL.

Queries come from a small grammar over both tables (projections, predicates with literals taken
from both tenants' values, aggregates, GROUP BY, joins of every kind, set operations, window
functions, subqueries in WHERE, CTEs that shadow table names). Each must answer on the shared
connection exactly as on the copy (same columns, same rows in any order), or fail on both.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.policy.test_attack_corpus import assert_clean
from tests.policy.warehouse import Warehouse

COLUMNS = {
    "orders": ["id", "org_id", "customer", "amount"],
    "users": ["id", "org_id", "name", "email"],
}
NUMERIC = {"orders": ["id", "org_id", "amount"], "users": ["id", "org_id"]}
TEXT = {"orders": ["customer"], "users": ["name", "email"]}
NUMBERS = [0, 1, 2, 3, 10, 20, 30, 7771, 777001, 777002]
STRINGS = ["alice", "bob", "carol", "CANARY", "***", "a"]

tables = st.sampled_from(["orders", "users"])


@st.composite
def predicate(draw: st.DrawFn, table: str, alias: str) -> str:
    kind = draw(st.sampled_from(["num", "text", "null", "in", "exists", "scalar"]))
    if kind == "num":
        column = draw(st.sampled_from(NUMERIC[table]))
        op = draw(st.sampled_from(["=", "<>", "<", ">=", ">"]))
        return f"{alias}.{column} {op} {draw(st.sampled_from(NUMBERS))}"
    if kind == "text":
        column = draw(st.sampled_from(TEXT[table]))
        op = draw(st.sampled_from(["=", "<>", "<", ">"]))
        return f"{alias}.{column} {op} '{draw(st.sampled_from(STRINGS))}'"
    if kind == "null":
        column = draw(st.sampled_from(COLUMNS[table]))
        return f"{alias}.{column} IS {draw(st.sampled_from(['', 'NOT ']))}NULL"
    other = draw(tables)
    if kind == "in":
        return f"{alias}.id IN (SELECT id FROM {other} WHERE org_id <> 1 OR id > 1)"
    if kind == "exists":
        return f"EXISTS (SELECT 1 FROM {other} x WHERE x.id = {alias}.id)"
    agg = draw(st.sampled_from(["max", "min", "count", "sum"]))
    return f"{alias}.id <= (SELECT {agg}(id) FROM {other})"


@st.composite
def single(draw: st.DrawFn) -> str:
    table = draw(tables)
    shape = draw(st.sampled_from(["rows", "aggregate", "group", "window"]))
    where = ""
    if draw(st.booleans()):
        where = " WHERE " + draw(predicate(table, "t"))
        if draw(st.booleans()):
            where += draw(st.sampled_from([" AND ", " OR "])) + draw(predicate(table, "t"))
    if shape == "rows":
        cols = draw(st.lists(st.sampled_from(COLUMNS[table]), min_size=1, max_size=3, unique=True))
        return f"SELECT {', '.join('t.' + c for c in cols)} FROM {table} t{where}"
    numeric = draw(st.sampled_from(NUMERIC[table]))
    if shape == "aggregate":
        return (
            f"SELECT count(*) AS n, sum(t.{numeric}) AS s, max(t.{numeric}) AS hi, "
            f"min(t.{numeric}) AS lo FROM {table} t{where}"
        )
    if shape == "group":
        key = draw(st.sampled_from(COLUMNS[table]))
        return f"SELECT t.{key} AS k, count(*) AS n FROM {table} t{where} GROUP BY t.{key}"
    return (
        f"SELECT t.id, count(*) OVER () AS n, sum(t.{numeric}) OVER () AS s, "
        f"rank() OVER (ORDER BY t.{numeric}) AS r FROM {table} t{where}"
    )


@st.composite
def joined(draw: st.DrawFn) -> str:
    kind = draw(
        st.sampled_from(["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL OUTER JOIN", "CROSS JOIN"])
    )
    on = (
        ""
        if kind == "CROSS JOIN"
        else " ON "
        + draw(
            st.sampled_from(["o.id = u.id", "o.org_id = u.org_id", "o.customer = u.name", "1 = 1"])
        )
    )
    select = draw(
        st.sampled_from(
            [
                "o.id, u.id, o.amount, u.name",
                "count(*) AS n",
                "count(u.id) AS n, sum(o.amount) AS s",
            ]
        )
    )
    return f"SELECT {select} FROM orders o {kind} users u{on}"


@st.composite
def combined(draw: st.DrawFn) -> str:
    op = draw(st.sampled_from(["UNION", "UNION ALL", "EXCEPT", "INTERSECT"]))
    left, right = draw(tables), draw(tables)
    lc = draw(st.sampled_from(COLUMNS[left][:2]))
    rc = draw(st.sampled_from(COLUMNS[right][:2]))
    return f"SELECT {lc} FROM {left} {op} SELECT {rc} FROM {right}"


@st.composite
def with_cte(draw: st.DrawFn) -> str:
    table = draw(tables)
    name = draw(st.sampled_from([table, "x", table.upper()]))
    inner = draw(single())
    return f"WITH {name} AS ({inner}) SELECT * FROM {name}"


queries = st.one_of(single(), joined(), combined(), with_cte())


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(sql=queries)
def test_tenant_a_on_the_shared_warehouse_answers_as_its_own_copy(
    house: Warehouse, sql: str
) -> None:
    shared = house.run(house.a, sql)
    copy = house.run(house.a, sql, house.copy)
    assert shared.status_code < 500, shared.text
    assert_clean(shared.text)
    if copy.status_code != 200:
        assert shared.status_code != 200, (sql, shared.text, copy.text)
        return
    assert shared.status_code == 200, (sql, shared.text)
    got, want = shared.json(), copy.json()
    assert [c["name"] for c in got["columns"]] == [c["name"] for c in want["columns"]], sql
    assert sorted(map(repr, got["rows"])) == sorted(map(repr, want["rows"])), (sql, got, want)
