"""The fence: the engine may not evaluate the query's own conditions on rows the policy hides,
even when they are cheaper than the policy's (an erroring condition would probe them)."""

from __future__ import annotations

from tests.policy.warehouse import CANARY, POLICY, Warehouse

EXPENSIVE = """
tables:
  orders:
    rows:
      - name: named
        using: "lower(customer) IN ('alice', 'bob', 'carol') AND length(customer) > 0"
default: deny
"""


def test_a_cheap_erroring_condition_never_sees_hidden_rows(house: Warehouse) -> None:
    c = house.nobody
    house.deploy(EXPENSIVE, tenants=(c,))
    try:
        for sql in (
            "SELECT count(*) AS n FROM orders WHERE (amount - 777001) / (amount - 777001) = 1",
            "SELECT count(*) AS n FROM orders WHERE (amount - 777002) / (amount - 777002) = 1",
        ):
            r = house.run(c, sql)
            assert r.status_code == 200, r.text
            assert CANARY not in r.text and r.json()["rows"] == [[3]], r.text
    finally:
        house.deploy(POLICY, tenants=(c,))
