"""The query request bodies with arbitrary Unicode in their string fields, through the app.

`POST /api/v1/query` (and its `/validate` and `/export`), `/api/v1/run_sql` and `/v1/jobs`, with
SQL, parameter names and values, connection ids, thread ids and idempotency keys drawn from every
code point, lone surrogates included (sent as JSON escapes, as a client would). Whatever the
text: never a 5xx, a status the operation documents, every error in the documented shape, and
text that cannot be encoded as UTF-8 is a 422 `validation_error` on every surface.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.conftest import Env  # noqa: E402

ANY_CHAR = st.characters(codec=None, exclude_categories=())  # lone surrogates included
# Also text from a few troublesome characters, so lone surrogates turn up often.
TRICKY = st.sampled_from(
    ["\udc80", "\ud800", "\udfff", "\x00", "'", '"', "\u202e", "é", "\U0001f600"]
)
TEXT = st.text(ANY_CHAR, max_size=40) | st.lists(
    TRICKY | st.text(ANY_CHAR, max_size=3), max_size=6
).map("".join)


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# SQL: arbitrary text, or a real query with arbitrary text in a literal, an alias or a parameter.
SQL = st.one_of(
    TEXT,
    TEXT.map(lambda t: f"SELECT {_quoted(t)} AS x"),
    TEXT.map(lambda t: f"SELECT name FROM users WHERE name = {_quoted(t)}"),
    TEXT.map(lambda t: 'SELECT 1 AS "' + t.replace('"', '""') + '"'),
    st.just("SELECT $p AS x"),
)
CONNECTION = st.sampled_from(["duck", "lite"]) | TEXT
PARAMS = st.none() | st.dictionaries(st.just("p") | TEXT, TEXT | st.integers(), max_size=2)


def _has_surrogate(value: Any) -> bool:
    text = json.dumps(value, ensure_ascii=False)
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def _query_body(draw: Callable[..., Any]) -> dict[str, Any]:
    return {"query": draw(SQL), "params": draw(PARAMS)}


def _run_sql_body(draw: Callable[..., Any]) -> dict[str, Any]:
    return {"sql": draw(SQL), "connection_id": draw(CONNECTION), "threadId": draw(TEXT)}


def _job_body(draw: Callable[..., Any]) -> dict[str, Any]:
    return {
        "query": draw(SQL),
        "connection_id": draw(CONNECTION),
        "params": draw(PARAMS),
        "request_id": draw(TEXT),
    }


# name -> (path in the OpenAPI document, URL, body builder)
SURFACES = {
    "query": ("/api/v1/query/{connection_id}", "/api/v1/query/duck", _query_body),
    "validate": (
        "/api/v1/query/{connection_id}/validate",
        "/api/v1/query/lite/validate",
        _query_body,
    ),
    "export": (
        "/api/v1/query/{connection_id}/export",
        "/api/v1/query/duck/export?format=csv",
        _query_body,
    ),
    "run_sql": ("/api/v1/run_sql", "/api/v1/run_sql", _run_sql_body),
    "jobs": ("/v1/jobs", "/v1/jobs", _job_body),
}


@pytest.fixture(scope="module")
def documented(env: Env) -> dict[str, set[int]]:
    spec = env.client.get("/openapi.json").json()
    return {
        name: {int(code) for code in spec["paths"][path]["post"]["responses"]}
        for name, (path, _, _) in SURFACES.items()
    }


@pytest.mark.parametrize("surface", sorted(SURFACES))
@settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_text_in_a_body_is_answered_as_documented(
    env: Env, documented: dict[str, set[int]], surface: str, data: st.DataObject
) -> None:
    _, url, build = SURFACES[surface]
    body = {k: v for k, v in build(data.draw).items() if v is not None}
    r = env.client.post(
        url,
        content=json.dumps(body).encode(),  # ASCII JSON: a lone surrogate travels as an escape
        headers={**env.org.headers(), "Content-Type": "application/json"},
    )
    assert r.status_code < 500, r.text
    assert r.status_code in documented[surface], (r.status_code, r.text)
    if r.status_code >= 400:
        error = r.json()["error"]
        assert isinstance(error["code"], str) and error["code"]
        assert isinstance(error["message"], str) and error["message"].strip()
    if _has_surrogate(body):
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "validation_error"
