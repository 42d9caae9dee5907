"""Prompt logs record each prompt exactly as it was sent, through a real `sqlgate serve`: the
`-system` file is the system message, the `-history` file every other message in order (then
the answer), so a follow-up's log ends with the user's new question and the answer to it. With
an LLM configured, the test's local OpenAI-compatible server (the only test double: a hosted LLM
cannot run here) records what arrived, and each log is compared with it."""

from __future__ import annotations

import io
import json
import signal
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.nl.fake_llm import FakeLLM
from tests.test_server import add_chinook, prepare, start_server

pytestmark = pytest.mark.server

FIRST = "How many invoices per year?"
FOLLOW_UP = "and only for 2023?"
SEPARATOR = "\n---\n"


def _serve(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[tuple[str, str, str]]:
    init = prepare("init", "--json", data_dir=data_dir)
    assert init.returncode == 0, init.stderr
    assert add_chinook(data_dir).returncode == 0
    created = json.loads(init.stdout)
    proc, base = start_server(data_dir, env=env)
    yield base, created["org_slug"], created["api_key"]
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=20)
    assert "Traceback" not in output, output


def _ask(
    served: tuple[str, str, str], question: str, thread: str | None = None, *, native: bool = True
) -> Any:
    base, _, key = served
    body = {"question": question, "connection_id": "chinook", "returnSqlDialect": native}
    if thread:
        body["threadId"] = thread
    r = httpx.post(
        f"{base}/api/v1/generate_sql",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return r.json()


def _logs(served: tuple[str, str, str], answer: Any) -> dict[str, tuple[str, list[str]]]:
    """step -> (system, history prompts) of one answer's prompt logs."""
    base, slug, key = served
    prefix = f"{datetime.now(UTC):%Y-%m-%d}/{answer['threadId']}/{answer['id']}/"
    r = httpx.get(
        f"{base}/v1/{slug}/admin/get_prompt_logs/",
        params={"prompt_log_prefix": prefix},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 200, r.text
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    names = archive.namelist()
    out = {}
    for name in names:
        if name.endswith("-system"):
            step = name.removeprefix(prefix).removesuffix("-system")
            history = f"{prefix}{step}-history"
            text = archive.read(history).decode() if history in names else ""
            out[step] = (archive.read(name).decode(), text.split(SEPARATOR) if text else [])
    return out


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    yield from _serve(tmp_path_factory.mktemp("prompts-embedded"))


def test_the_embedded_engine_logs_the_new_question_of_a_follow_up(
    embedded: tuple[str, str, str],
) -> None:
    first = _ask(embedded, FIRST, native=False)  # the SQL a turn keeps: semantic
    second = _ask(embedded, FOLLOW_UP, first["threadId"])  # the answer logged: native
    [(system, history)] = _logs(embedded, second).values()
    assert [entry.split("\n", 1)[0] for entry in history] == [
        "[user]", "[assistant]", "[user]", "[assistant]",
    ]  # fmt: skip
    assert history[0] == f"[user]\n{FIRST}"
    assert history[1] == f"[assistant]\n{first['sql']}"
    assert history[2] == f"[user]\n{FOLLOW_UP}"
    assert history[3] == f"[assistant]\n{second['sql']}"
    assert f"question: {FIRST} {FOLLOW_UP}" in system  # how the engine read it
    [(_, opening)] = _logs(embedded, first).values()
    assert opening[0] == f"[user]\n{FIRST}" and len(opening) == 2


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


@pytest.fixture(scope="module")
def with_llm(
    tmp_path_factory: pytest.TempPathFactory, llm: FakeLLM
) -> Iterator[tuple[str, str, str]]:
    env = {
        "SQLGATE_LLM_BASE_URL": llm.base_url,
        "SQLGATE_LLM_MODEL": "fake",
        "SQLGATE_LLM_MAX_RETRIES": "0",
    }
    yield from _serve(tmp_path_factory.mktemp("prompts-llm"), env)


def _intent(standalone: str) -> str:
    return json.dumps({"intent": "SQL", "standalone_question": standalone})


def test_each_llm_prompt_is_logged_as_sent(with_llm: tuple[str, str, str], llm: FakeLLM) -> None:
    sql_1 = "SELECT strftime('%Y', InvoiceDate) AS year, COUNT(*) AS n FROM Invoice GROUP BY 1"
    llm.answer(_intent(FIRST), json.dumps({"sql": sql_1}))
    first = _ask(with_llm, FIRST)
    standalone = "How many invoices were there in 2023?"
    sql_2 = "SELECT COUNT(*) AS n FROM Invoice WHERE strftime('%Y', InvoiceDate) = '2023'"
    seen = len(llm.requests)
    replies = [_intent(standalone), json.dumps({"sql": sql_2})]
    llm.answer(*replies)
    second = _ask(with_llm, FOLLOW_UP, first["threadId"])
    sent = llm.requests[seen:]
    logs = _logs(with_llm, second)
    assert sorted(logs) == ["generate-1", "intent"]
    for step, request, reply in zip(["intent", "generate-1"], sent, replies, strict=True):
        system, history = logs[step]
        messages = request.messages
        assert messages[0]["role"] == "system" and system == messages[0]["content"]
        assert history == [f"[{m['role']}]\n{m['content']}" for m in messages[1:]] + [
            f"[assistant]\n{reply}"
        ]
    # The follow-up's own question is in what was sent and logged, after the earlier turn.
    _, intent_history = logs["intent"]
    asked = intent_history[-2]
    assert asked.startswith("[user]\n") and asked.rstrip().endswith(f"New question: {FOLLOW_UP}")
    assert asked.index(FIRST) < asked.index(FOLLOW_UP)
    _, generation_history = logs["generate-1"]
    assert generation_history[-2].rstrip().endswith(f"Question: {standalone}")
