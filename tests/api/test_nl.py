"""Questions over HTTP: `generate_sql`, the explanation stream, threads and `/v1/queries`, on
the real Chinook database with the embedded (offline) engine."""

from __future__ import annotations

import io
import sqlite3
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from sqlgate.auth.scopes import Role
from sqlgate.errors import QueryError
from sqlgate.library.questions import SavedQuestions
from sqlgate.services import orgs
from sqlgate.services.query import QueryService
from tests.conftest import CHINOOK_SQLITE, Env, open_env


@pytest.fixture(scope="module")
def nenv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield from open_env(tmp_path_factory.mktemp("nl"))


def _h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _generate(env: Env, key: str | None = None, **body: Any) -> Any:
    body.setdefault("connection_id", "chinook")
    return env.client.post("/api/v1/generate_sql", json=body, headers=_h(key or env.org.key))


def _chinook(sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{CHINOOK_SQLITE}?mode=ro", uri=True) as con:
        return con.execute(sql).fetchall()


def _run(env: Env, sql: str) -> list[list[Any]]:
    r = env.client.post("/api/v1/query/chinook", json={"query": sql}, headers=_h(env.org.key))
    assert r.status_code == 200, r.text
    rows: list[list[Any]] = r.json()["rows"]
    return rows


def test_generate_sql_returns_sql_that_answers_the_question(nenv: Env) -> None:
    r = _generate(nenv, question="How many invoices are there?", returnSqlDialect=True)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"id", "sql", "threadId"}
    [[count]] = _run(nenv, body["sql"])
    assert count == _chinook("SELECT count(*) FROM Invoice")[0][0]


def test_top_n_with_a_join(nenv: Env) -> None:
    r = _generate(nenv, question="top 3 artists by number of albums", returnSqlDialect=True)
    assert r.status_code == 200, r.text
    rows = _run(nenv, r.json()["sql"])
    gold = _chinook(
        "SELECT ar.Name, count(*) AS n FROM Album al JOIN Artist ar USING (ArtistId) "
        "GROUP BY ar.ArtistId ORDER BY n DESC LIMIT 3"
    )
    assert [row[-1] for row in rows] == [n for _, n in gold]
    assert {g[0] for g in gold} <= {v for row in rows for v in row}


def test_a_follow_up_in_a_thread_keeps_the_context(nenv: Env) -> None:
    first = _generate(nenv, question="How many invoices per year?", returnSqlDialect=True).json()
    thread = first["threadId"]
    second = _generate(nenv, question="and only for 2023?", threadId=thread, returnSqlDialect=True)
    assert second.status_code == 200, second.text
    assert second.json()["threadId"] == thread
    rows = _run(nenv, second.json()["sql"])
    gold = _chinook("SELECT count(*) FROM Invoice WHERE InvoiceDate LIKE '2023%'")[0][0]
    assert [row[-1] for row in rows] == [gold]
    # The prompt log of the follow-up carries the thread's history.
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    r = nenv.client.get(
        f"/v1/{nenv.org.slug}/admin/get_prompt_logs/",
        params={"prompt_log_prefix": f"{day}/{thread}/"},
        headers=_h(nenv.org.key),
    )
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    systems = {n: archive.read(n).decode() for n in archive.namelist() if n.endswith("-system")}
    assert len(systems) == 2  # one step per question
    [follow_up] = [n for n, text in systems.items() if "and only for 2023?" in text]
    history = archive.read(follow_up.replace("-system", "-history")).decode()
    assert "How many invoices per year?" in history.split("---")[0]


def test_an_unknown_or_foreign_thread_id_starts_a_thread_of_this_organization(
    nenv: Env,
) -> None:
    r = _generate(nenv, question="How many tracks?", threadId="nope")
    assert r.status_code == 200, r.text
    assert r.json()["threadId"] == "nope"
    other = orgs.create_organization(
        nenv.org.services.store, name="Other NL", owner_email="o@nl.test"
    )
    assert other.key is not None
    nenv.org.services.connections.create(
        other.org_id, name="chinook", type="sqlite", database=str(CHINOOK_SQLITE),
        trusted_path=True,
    )  # fmt: skip
    theirs = _generate(nenv, other.key.api_key, question="How many invoices per year?")
    thread = theirs.json()["threadId"]
    # The same id here is this organization's own, new thread: their question is not its
    # context, so "and only for 2023?" has nothing to follow.
    r = _generate(nenv, question="and only for 2023?", threadId=thread, returnSqlDialect=True)
    assert r.json().get("threadId", thread) == thread
    assert "Invoice" not in r.json().get("sql", "")
    assert _generate(nenv, question="x" * 3, threadId="t" * 41).status_code == 422


def test_non_sql_questions_get_an_explanation_stream(nenv: Env) -> None:
    r = _generate(nenv, question="What is the weather like today?")
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "NON_SQL_QUERY" and body["error"] and body["id"]
    stream = nenv.client.get(
        "/api/v1/stream_explanation",
        params={"queryId": body["explanationQueryId"]},
        headers=_h(nenv.org.key),
    )
    assert stream.status_code == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    events = [e for e in stream.text.split("\n\n") if e]
    assert events[-1].startswith("event: done")
    import json

    text = "".join(json.loads(e.split("data: ", 1)[1])["message"] for e in events[:-1])
    assert text == body["error"]
    r = nenv.client.get(
        "/api/v1/stream_explanation", params={"queryId": "nope"}, headers=_h(nenv.org.key)
    )
    assert r.status_code == 404
    other = orgs.create_organization(
        nenv.org.services.store, name="Curious", owner_email="c@curious.test"
    )
    assert other.key is not None
    r = nenv.client.get(
        "/api/v1/stream_explanation",
        params={"queryId": body["explanationQueryId"]},
        headers=_h(other.key.api_key),
    )
    assert r.status_code == 404  # another organization's explanation does not exist for it


def test_write_requests_never_become_sql(nenv: Env) -> None:
    before = _chinook("SELECT count(*) FROM Customer")
    for question in (
        "delete all customers",
        "drop table Invoice",
        "update every track price to 0",
        "insert a new artist called Mallory",
    ):
        r = _generate(nenv, question=question)
        assert r.status_code == 400, (question, r.text)
        assert r.json()["code"] == "NON_SQL_QUERY"
    assert _chinook("SELECT count(*) FROM Customer") == before


@pytest.mark.parametrize(
    "body",
    [
        {"question": ""},
        {"question": "x" * 2001},
        {"question": 42},
        {},
        {"question": "How many tracks?", "returnSqlDialect": "maybe"},
        {"question": "How many tracks?", "surprise": True},
    ],
)
def test_bad_generate_bodies_are_422(nenv: Env, body: dict[str, Any]) -> None:
    r = nenv.client.post("/api/v1/generate_sql", json=body, headers=_h(nenv.org.key))
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"


def test_ask_runs_and_saves(nenv: Env) -> None:
    r = nenv.client.post(
        "/v1/queries",
        json={"question": "How many customers per country?", "connection_id": "chinook"},
        headers=_h(nenv.org.key),
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["query_id"].startswith("q_") and data["execution_time_ms"] >= 0
    results = data["results"]
    gold = dict(_chinook("SELECT Country, count(*) FROM Customer GROUP BY Country"))
    assert results["row_count"] == len(gold) == len(results["rows"])
    assert {row[0]: row[1] for row in results["rows"]} == gold
    assert len(results["columns"]) == 2

    saved = nenv.client.get(f"/v1/queries/{data['query_id']}", headers=_h(nenv.org.key))
    assert saved.status_code == 200
    assert saved.json()["data"]["sql"] == data["sql"]
    assert saved.json()["data"]["status"] == "ok"

    records = nenv.client.post(
        "/v1/queries",
        json={"question": "How many genres?", "connection_id": "chinook", "format": "records"},
        headers=_h(nenv.org.key),
    ).json()["data"]["results"]
    assert isinstance(records["rows"][0], dict)
    assert list(records["rows"][0].values()) == [_chinook("SELECT count(*) FROM Genre")[0][0]]


def test_non_sql_asks_are_saved_too(nenv: Env) -> None:
    r = nenv.client.post(
        "/v1/queries",
        json={"question": "tell me a joke", "connection_id": "chinook"},
        headers=_h(nenv.org.key),
    )
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "NON_SQL_QUERY" and error["explanation_query_id"]
    saved = nenv.client.get(f"/v1/queries/{error['query_id']}", headers=_h(nenv.org.key))
    assert saved.json()["data"]["status"] == "non_sql" and saved.json()["data"]["sql"] is None


def test_a_run_that_fails_is_saved_with_its_error(nenv: Env) -> None:
    """The question is kept when the query path fails it: status error, the error's code, and
    the error names the saved question."""
    services = nenv.org.services

    class _Failing:
        def execute(self, *_args: Any, **_kwargs: Any) -> Any:
            raise QueryError("the database went away")

    failing = cast(QueryService, _Failing())
    questions = SavedQuestions(services.nl, failing, services.saved_queries)
    principal = orgs.operator(services.store, nenv.org.id)
    with pytest.raises(QueryError) as raised:
        questions.ask(principal, "How many genres?", "chinook")
    saved = services.saved_queries.get(nenv.org.id, raised.value.details["query_id"])
    assert (saved.status, saved.error_code, saved.question) == (
        "error",
        "query_error",
        "How many genres?",
    )
    assert saved.sql and "Genre" in saved.sql and saved.row_count is None


def test_saved_queries_page_and_delete(nenv: Env) -> None:
    for question in ("How many albums?", "How many playlists?", "How many employees?"):
        r = nenv.client.post(
            "/v1/queries",
            json={"question": question, "connection_id": "chinook"},
            headers=_h(nenv.org.key),
        )
        assert r.status_code == 200, r.text
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = nenv.client.get("/v1/queries", params=params, headers=_h(nenv.org.key)).json()
        seen += [q["query_id"] for q in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) >= 3
    questions = [
        q["question"]
        for q in nenv.client.get(
            "/v1/queries", params={"limit": 3}, headers=_h(nenv.org.key)
        ).json()["data"]
    ]
    assert questions == ["How many employees?", "How many playlists?", "How many albums?"]
    assert (
        nenv.client.get(
            "/v1/queries", params={"cursor": "garbage!"}, headers=_h(nenv.org.key)
        ).status_code
        == 422
    )

    # An editor may not delete someone else's question; the author (or an admin) may.
    team = nenv.org.services.team
    token = team.invite(None, nenv.org.id, "ed@nl.test", Role.EDITOR).token
    editor = team.accept(token, key_name="e").key.api_key
    assert nenv.client.delete(f"/v1/queries/{seen[0]}", headers=_h(editor)).status_code == 403
    assert nenv.client.delete(f"/v1/queries/{seen[0]}", headers=_h(nenv.org.key)).status_code == 204
    assert nenv.client.get(f"/v1/queries/{seen[0]}", headers=_h(nenv.org.key)).status_code == 404
    assert nenv.client.delete(f"/v1/queries/{seen[0]}", headers=_h(nenv.org.key)).status_code == 404


RENAMED_MODEL = """
version: 1
models:
  - name: customers
    table: Customer
    primary_key: customer_id
    columns:
      - {name: customer_id, column: CustomerId}
      - {name: country, column: Country}
      - {name: first_name, column: FirstName}
  - name: invoices
    table: Invoice
    primary_key: invoice_id
    time_column: invoiced_at
    columns:
      - {name: invoice_id, column: InvoiceId}
      - {name: customer_id, column: CustomerId}
      - {name: total, column: Total}
      - {name: invoiced_at, column: InvoiceDate}
metrics:
  - {name: revenue, model: invoices, expression: "SUM(total)", synonyms: [sales]}
relationships:
  - {from: invoices.customer_id, to: customers.customer_id}
"""


def test_semantic_sql_runs_through_run_sql(nenv: Env) -> None:
    conn = nenv.org.services.connections.create(
        nenv.org.id, name="renamed", type="sqlite", database=str(CHINOOK_SQLITE),
        trusted_path=True,
    )  # fmt: skip
    r = nenv.client.put(
        f"/v1/connections/{conn.id}/semantic_model",
        content=RENAMED_MODEL,
        headers={**_h(nenv.org.key), "Content-Type": "application/yaml"},
    )
    assert r.status_code in (200, 201), r.text
    generated = _generate(nenv, question="revenue by customer country", connection_id="renamed")
    assert generated.status_code == 200, generated.text
    semantic = generated.json()["sql"]
    assert "Invoice" not in semantic  # model names, not tables
    ran = nenv.client.post(
        "/api/v1/run_sql", json={"sql": semantic, "connection_id": "renamed"},
        headers=_h(nenv.org.key),
    )  # fmt: skip
    assert ran.status_code == 200, ran.text
    rows = [list(r.values()) for r in ran.json()["records"]]
    got = {row[0]: row[-1] for row in rows}
    gold = _chinook(
        "SELECT c.Country, SUM(i.Total) FROM Invoice i JOIN Customer c USING (CustomerId) "
        "GROUP BY c.Country"
    )
    assert {k: round(v, 2) for k, v in got.items()} == {k: round(v, 2) for k, v in gold}
    # The query endpoints take semantic SQL too.
    query = nenv.client.post(
        "/api/v1/query/renamed", json={"query": "SELECT revenue FROM invoices"},
        headers=_h(nenv.org.key),
    )  # fmt: skip
    assert query.status_code == 200, query.text
    total = _chinook("SELECT SUM(Total) FROM Invoice")[0][0]
    assert round(query.json()["rows"][0][0], 2) == round(total, 2)
    # Native SQL still runs on the same connection; writes are still refused.
    native = nenv.client.post(
        "/api/v1/run_sql", json={"sql": "SELECT count(*) AS n FROM Genre",
                                 "connection_id": "renamed"}, headers=_h(nenv.org.key),
    )  # fmt: skip
    assert native.status_code == 200 and native.json()["records"] == [{"n": 25}]
    refused = nenv.client.post(
        "/api/v1/run_sql", json={"sql": "DELETE FROM customers", "connection_id": "renamed"},
        headers=_h(nenv.org.key),
    )  # fmt: skip
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "sql_not_allowed"
