"""The question endpoints with an LLM configured: a local OpenAI-compatible server started by
the test replays scripted answers and records the prompts (the only test double: a hosted LLM
cannot run here)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import Env, open_env
from tests.nl.fake_llm_stream import StreamingFakeLLM

GOOD_SQL = "SELECT COUNT(*) AS n FROM Genre"


@pytest.fixture(scope="module")
def llm() -> Iterator[StreamingFakeLLM]:
    with StreamingFakeLLM() as server:
        yield server


@pytest.fixture(scope="module")
def lenv(tmp_path_factory: pytest.TempPathFactory, llm: StreamingFakeLLM) -> Iterator[Env]:
    yield from open_env(
        tmp_path_factory.mktemp("nl-llm"),
        llm_base_url=llm.base_url,
        llm_model="fake",
        # Long enough for the scripted replies on a loaded CI machine; the timeout test waits
        # past it on purpose.
        llm_timeout=8,
        llm_max_retries=0,
    )


@pytest.fixture(autouse=True)
def _fresh_replies(llm: StreamingFakeLLM) -> None:
    llm.clear()


def _h(env: Env) -> dict[str, str]:
    return {"Authorization": f"Bearer {env.org.key}"}


def _generate(env: Env, **body: Any) -> Any:
    body.setdefault("connection_id", "chinook")
    return env.client.post("/api/v1/generate_sql", json=body, headers=_h(env))


def _intent(standalone: str) -> str:
    return json.dumps({"intent": "SQL", "standalone_question": standalone})


def test_generated_sql_comes_from_the_llm_and_prompts_are_logged(
    lenv: Env, llm: StreamingFakeLLM
) -> None:
    seen = len(llm.requests)
    llm.answer(_intent("How many genres are there?"), json.dumps({"sql": GOOD_SQL}))
    r = _generate(lenv, question="How many genres are there?", returnSqlDialect=True)
    assert r.status_code == 200, r.text
    assert r.json()["sql"].upper().startswith("SELECT COUNT(*)")
    intent, generation = llm.requests[seen], llm.requests[seen + 1]
    prompt = "\n".join(m["content"] for m in generation.messages)
    assert "Genre" in prompt  # the retrieved schema is in the prompt
    # Each step is a prompt log under <date>/<thread>/<response id>/.
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    thread = r.json()["threadId"]
    logs = lenv.client.get(
        f"/v1/{lenv.org.slug}/admin/get_prompt_logs/",
        params={"prompt_log_prefix": f"{day}/{thread}/{r.json()['id']}/"},
        headers=_h(lenv),
    )
    names = zipfile.ZipFile(io.BytesIO(logs.content)).namelist()
    assert any(n.endswith("/intent-system") for n in names)
    assert any(n.endswith("/generate-1-system") for n in names)
    assert intent.messages  # the intent step was asked first


def test_a_failing_dry_run_is_corrected_with_the_database_error(
    lenv: Env, llm: StreamingFakeLLM
) -> None:
    seen = len(llm.requests)
    llm.answer(
        _intent("How many genres are there?"),
        json.dumps({"sql": "SELECT COUNT(*) AS n FROM Genre WHERE NoSuchColumn = 1"}),
        json.dumps({"sql": GOOD_SQL}),
    )
    r = _generate(lenv, question="How many genres are there?", returnSqlDialect=True)
    assert r.status_code == 200, r.text
    correction = "\n".join(m["content"] for m in llm.requests[seen + 2].messages)
    assert "NoSuchColumn" in correction  # the database's error went back to the model


def test_non_sql_intent_streams_an_llm_explanation(lenv: Env, llm: StreamingFakeLLM) -> None:
    llm.answer(json.dumps({"intent": "NON_SQL", "reason": "It asks about the weather."}))
    r = _generate(lenv, question="Will it rain tomorrow?")
    assert r.status_code == 400 and r.json()["code"] == "NON_SQL_QUERY"
    assert r.json()["error"] == "It asks about the weather."
    llm.answer("This service answers questions about your music store data.")
    stream = lenv.client.get(
        "/api/v1/stream_explanation",
        params={"queryId": r.json()["explanationQueryId"]},
        headers=_h(lenv),
    )
    assert stream.status_code == 200
    events = [e for e in stream.text.split("\n\n") if e]
    assert events[-1].startswith("event: done")
    text = "".join(json.loads(e.split("data: ", 1)[1])["message"] for e in events[:-1])
    assert text == "This service answers questions about your music store data."


def test_a_provider_timeout_falls_back_to_the_embedded_engine(
    lenv: Env, llm: StreamingFakeLLM
) -> None:
    llm.delay(10.0, _intent("How many tracks are there?"))  # past llm_timeout (8 s)
    r = _generate(lenv, question="How many tracks are there?", returnSqlDialect=True)
    assert r.status_code == 200, r.text
    run = lenv.client.post(
        "/api/v1/query/chinook", json={"query": r.json()["sql"]}, headers=_h(lenv)
    )
    assert run.json()["rows"] == [[3503]]
