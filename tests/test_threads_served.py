"""One rule for `threadId` on `generate_sql` and `run_sql`, through a real `sqlgate serve`: an
id the organization has no thread by starts one under that id; the same id in another
organization is another thread, and neither organization sees the other's turns."""

from __future__ import annotations

import io
import json
import signal
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from sqlgate.services import orgs
from sqlgate.store.db import Store
from tests.conftest import CHINOOK_SQLITE
from tests.test_server import prepare, start_server

pytestmark = pytest.mark.server

SEED_THREAD = "9c537507-9cec-46ed-b877-07bfa6322bed"
# Seed 001's example request for `generate_sql`, verbatim.
SEED_GENERATE_SQL = """{
"question": "What are the top 10 customers by total revenue?",
"threadId": "9c537507-9cec-46ed-b877-07bfa6322bed"
}"""


@dataclass
class Org:
    slug: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}


@dataclass
class Served:
    base: str
    first: Org
    second: Org

    def post(self, org: Org, path: str, body: str | dict[str, object]) -> httpx.Response:
        content = body if isinstance(body, str) else json.dumps(body)
        return httpx.post(self.base + path, content=content, headers=org.headers, timeout=30)

    def logs(self, org: Org, thread: str) -> list[tuple[str, str]]:
        """(system, history) of each of the organization's prompt logs in ``thread``."""
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        r = httpx.get(
            f"{self.base}/v1/{org.slug}/admin/get_prompt_logs/",
            params={"prompt_log_prefix": f"{day}/{thread}/"},
            headers=org.headers,
        )
        assert r.status_code == 200, r.text
        archive = zipfile.ZipFile(io.BytesIO(r.content))
        names = archive.namelist()
        return [
            (
                archive.read(name).decode(),
                archive.read(history).decode() if history in names else "",
            )
            for name in names
            if name.endswith("-system")
            for history in [name.removesuffix("-system") + "-history"]
        ]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir: Path = tmp_path_factory.mktemp("threads")
    init = prepare("init", "--json", data_dir=data_dir)
    assert init.returncode == 0, init.stderr
    first = json.loads(init.stdout)
    store = Store(f"sqlite:///{data_dir / 'sqlgate.db'}")
    other = orgs.create_organization(store, name="Other", owner_email="o@other.test")
    store.close()
    assert other.key is not None
    for slug in (first["org_slug"], other.org_slug):
        added = prepare(
            "connections", "add", "chinook", "--type", "sqlite",
            "--database", str(CHINOOK_SQLITE), "--org", slug, data_dir=data_dir,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
    proc, base = start_server(data_dir)
    yield Served(
        base, Org(first["org_slug"], first["api_key"]), Org(other.org_slug, other.key.api_key)
    )
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=20)
    assert "Traceback" not in output, output


def test_the_seed_example_starts_a_thread_under_its_id(served: Served) -> None:
    r = served.post(served.first, "/api/v1/generate_sql", SEED_GENERATE_SQL)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"id", "sql", "threadId"}
    assert body["threadId"] == SEED_THREAD
    assert "Customer" in body["sql"] and "LIMIT 10" in body["sql"].upper()
    # The same id again continues the thread: the follow-up is read with the seed question.
    again = served.post(
        served.first,
        "/api/v1/generate_sql",
        {"question": "How many invoices per year?", "threadId": SEED_THREAD},
    )
    assert again.status_code == 200 and again.json()["threadId"] == SEED_THREAD
    [follow_up] = [h for s, h in served.logs(served.first, SEED_THREAD) if "invoices" in s]
    assert "What are the top 10 customers by total revenue?" in follow_up


def test_the_same_id_in_another_organization_is_another_thread(served: Served) -> None:
    thread = "3f0b2a9e-6a43-4b51-9a35-0d1c5b3e7a11"
    mine = served.post(
        served.first,
        "/api/v1/generate_sql",
        {"question": "How many invoices per year?", "threadId": thread},
    )
    assert mine.status_code == 200 and mine.json()["threadId"] == thread
    theirs = served.post(
        served.second,
        "/api/v1/generate_sql",
        {"question": "How many tracks per genre?", "threadId": thread},
    )
    assert theirs.status_code == 200, theirs.text
    assert theirs.json()["threadId"] == thread
    # A second turn each: each organization's history holds its own first question only.
    for org, own, other in (
        (served.first, "invoices per year", "tracks per genre"),
        (served.second, "tracks per genre", "invoices per year"),
    ):
        r = served.post(
            org,
            "/api/v1/generate_sql",
            {"question": "top 5 artists by number of albums", "threadId": thread},
        )
        assert r.status_code == 200, r.text
        logs = served.logs(org, thread)
        assert len(logs) == 2  # this organization's two questions, not the other's
        [(_, history)] = [log for log in logs if "artists" in log[0]]
        assert own in history and other not in history
        assert not any(other in system for system, _ in logs)


def test_run_sql_follows_the_same_rule(served: Served) -> None:
    thread = "5b2d8c1e-7f64-4c2a-8e19-2a6f0d9b4c33"
    r = served.post(
        served.first,
        "/api/v1/run_sql",
        {"sql": "SELECT 1 AS one", "threadId": thread, "connection_id": "chinook"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["threadId"] == thread
    # The thread run_sql started is the one generate_sql continues (it exists: no new thread
    # is made, and no error), in this organization only.
    g = served.post(
        served.first, "/api/v1/generate_sql", {"question": "How many tracks?", "threadId": thread}
    )
    assert g.status_code == 200 and g.json()["threadId"] == thread
    r = served.post(
        served.second, "/api/v1/run_sql", {"sql": "SELECT 2 AS two", "threadId": thread}
    )
    assert r.status_code == 200 and r.json()["threadId"] == thread
    assert served.logs(served.second, thread) == []
    # Without a threadId each call starts a new thread of its own.
    a = served.post(served.first, "/api/v1/run_sql", {"sql": "SELECT 1 AS one"}).json()
    b = served.post(served.first, "/api/v1/run_sql", {"sql": "SELECT 1 AS one"}).json()
    assert a["threadId"] != b["threadId"]


@pytest.mark.parametrize("path", ["/api/v1/generate_sql", "/api/v1/run_sql"])
def test_a_thread_id_longer_than_40_characters_is_refused_alike(served: Served, path: str) -> None:
    body = {"question": "How many tracks?"} if "generate" in path else {"sql": "SELECT 1"}
    r = served.post(served.first, path, {**body, "threadId": "t" * 41})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["field"] == "threadId"
