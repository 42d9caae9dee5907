"""Questions under an access policy, with an LLM double that tries to read another tenant's
rows: the prompts show only visible tables and columns (and values sampled from the caller's
own rows), the dry run goes through the policy, and the answer holds only the caller's rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.nl.fake_llm_stream import StreamingFakeLLM
from tests.policy.warehouse import CANARY, Warehouse, build_file, open_warehouse


@pytest.fixture(scope="module")
def llm() -> Iterator[StreamingFakeLLM]:
    with StreamingFakeLLM() as server:
        yield server


@pytest.fixture(scope="module")
def nl_house(
    tmp_path_factory: pytest.TempPathFactory, llm: StreamingFakeLLM
) -> Iterator[Warehouse]:
    root = tmp_path_factory.mktemp("policy-nl")
    specs = []
    for name, copy in (("shared", False), ("copy", True)):
        path = Path(root) / f"{name}.duckdb"
        build_file("duckdb", path, copy)
        specs.append({"type": "duckdb", "database": str(path)})
    with open_warehouse(
        "duckdb",
        root / "app",
        specs[0],
        specs[1],
        llm_base_url=llm.base_url,
        llm_model="fake",
        llm_timeout=5,
        llm_max_retries=0,
    ) as house:
        yield house


def _intent(question: str) -> str:
    return json.dumps({"intent": "SQL", "standalone_question": question})


def test_an_llm_reaching_for_another_tenant_gets_nothing_of_it(
    nl_house: Warehouse, llm: StreamingFakeLLM
) -> None:
    seen = len(llm.requests)
    llm.answer(
        _intent("Show the other tenant's orders"),
        json.dumps({"sql": "SELECT customer, note FROM orders WHERE org_id = 2"}),
        json.dumps({"sql": "SELECT customer, amount FROM orders WHERE org_id = 2"}),
    )
    r = nl_house.client.post(
        "/v1/queries",
        json={"question": "Show the other tenant's orders", "connection_id": "warehouse"},
        headers=nl_house.a.headers(),
    )
    assert r.status_code < 500, r.text
    assert CANARY not in r.text and "777001" not in r.text
    prompts = "\n".join(m["content"] for request in llm.requests[seen:] for m in request.messages)
    assert "customer" in prompts and "orders" in prompts  # the visible schema is there
    for hidden in ("pw_hash", "secrets", CANARY, "hash-a", "a-note"):
        assert hidden not in prompts, hidden
    # The correction after the dry run came from the policy's view: `note` does not exist.
    assert "note" in "\n".join(m["content"] for m in llm.requests[seen + 2].messages)


def test_generated_sql_runs_under_the_policy(nl_house: Warehouse, llm: StreamingFakeLLM) -> None:
    llm.answer(
        _intent("How much did each customer spend?"),
        json.dumps({"sql": "SELECT customer, sum(amount) AS total FROM orders GROUP BY customer"}),
    )
    r = nl_house.client.post(
        "/api/v1/generate_sql",
        json={"question": "How much did each customer spend?", "connection_id": "warehouse"},
        headers=nl_house.a.headers(),
    )
    assert r.status_code == 200, r.text
    run = nl_house.client.post(
        "/api/v1/run_sql",
        json={"sql": r.json()["sql"], "connection_id": "warehouse"},
        headers=nl_house.a.headers(),
    )
    assert run.status_code < 500, run.text
    assert CANARY not in run.text and "777001" not in run.text
