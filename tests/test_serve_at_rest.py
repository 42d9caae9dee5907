"""What `sqlgate serve` holds in memory at rest: what every request needs, not what only some
use. The offline question engine and its dictionaries come with the first question, Alembic only
when the store is behind, cryptography with the first secret, the Parquet and Excel writers
with the first such export; numpy, pandas, rich and pygments never (see
``sqlgate.cli._unused``). Each check also sees a module when it is there: a question loads the
engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.services import PG_ADMIN_URL
from tests.test_server import add_chinook, prepare, start_server

#: Loaded by neither the server's start, a query nor a CSV export.
NOT_AT_REST = (
    "numpy",
    "pandas",
    "rich",
    "pygments",
    "alembic",
    "mako",
    "cryptography",
    "xlsxwriter",
    "pyarrow.parquet",
    "sqlgate.nl.rules",
    "sqlgate.nl.prepare",
    "simplemma",
    "rapidfuzz",
)
#: Loaded by the first question.
BY_A_QUESTION = {"sqlgate.nl.rules", "sqlgate.nl.prepare", "simplemma", "rapidfuzz"}

# The application as `sqlgate serve` builds it (serving_app), in a new interpreter; a query, a
# CSV export (pyarrow builds its header from a Python list), then a question.
_SCRIPT = """
import json, sys
from sqlgate.cli._serving import serving_app
from sqlgate.settings import Settings

app = serving_app(Settings(data_dir=sys.argv[1]))
from starlette.testclient import TestClient

def loaded():
    return sorted(name for name, module in sys.modules.items() if module is not None)

with TestClient(app) as client:
    headers = {"X-API-Key": sys.argv[2]}
    at_start = loaded()
    query = client.post("/api/v1/query/chinook", json={"query": "SELECT 1"}, headers=headers)
    export = client.post(
        "/api/v1/query/chinook/export?format=csv",
        json={"query": "SELECT * FROM Album"},
        headers=headers,
    )
    assert query.status_code == 200 and export.status_code == 200, (query.text, export.text)
    served = loaded()
    question = client.post(
        "/api/v1/generate_sql",
        json={"question": "how many albums are there", "connection_id": "chinook"},
        headers=headers,
    )
    assert question.status_code == 200, question.text
    print(json.dumps({"start": at_start, "served": served, "asked": loaded()}))
"""


def _matching(modules: list[str]) -> set[str]:
    return {h for h in NOT_AT_REST if any(m == h or m.startswith(h + ".") for m in modules)}


@pytest.fixture
def data_dir(tmp_path: Path) -> tuple[Path, str]:
    init = prepare("init", "--json", data_dir=tmp_path)
    assert init.returncode == 0, init.stderr
    assert add_chinook(tmp_path).returncode == 0
    return tmp_path, json.loads(init.stdout)["api_key"]


def test_start_query_and_export_leave_out_what_only_questions_and_secrets_use(
    data_dir: tuple[Path, str],
) -> None:
    path, key = data_dir
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(path), key],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert _matching(seen["start"]) == set()
    assert _matching(seen["served"]) == set()
    assert _matching(seen["asked"]) == BY_A_QUESTION  # and still no numpy or pandas


def _native_libraries(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.server
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_started_server_maps_no_numpy_pandas_or_question_engine(
    data_dir: tuple[Path, str],
) -> None:
    """The real `sqlgate serve` (its own start-up path): the native libraries it has mapped."""
    path, key = data_dir
    proc, base = start_server(path)
    try:
        headers = {"X-API-Key": key}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            assert client.post("/api/v1/query/chinook", json={"query": "SELECT 1"}).is_success
            export = client.post(
                "/api/v1/query/chinook/export?format=csv", json={"query": "SELECT * FROM Track"}
            )
            assert export.is_success
            served = _native_libraries(proc.pid)
            asked = client.post(
                "/api/v1/generate_sql",
                json={"question": "how many tracks are there", "connection_id": "chinook"},
            )
            assert asked.is_success, asked.text
            after_question = _native_libraries(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    for package in ("/numpy/", "/pandas/", "/cryptography/", "/rapidfuzz/"):
        assert package not in served, package
    assert "/rapidfuzz/" in after_question  # the question engine's, loaded by the question
    assert "/numpy/" not in after_question and "/pandas/" not in after_question


@pytest.mark.parametrize(("setting", "kept_out"), [("", True), ("on", False)])
def test_the_embedding_model_turned_on_keeps_numpy_and_pandas_importable(
    setting: str, kept_out: bool
) -> None:
    # PyTorch needs numpy, and the libraries around it look for pandas before importing it.
    script = (
        "import importlib, json\n"
        "from sqlgate.cli._unused import keep_out_unused\n"
        "keep_out_unused()\n"
        "def refused(name):\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ModuleNotFoundError:\n"
        "        return True\n"
        "    return False\n"
        "print(json.dumps([refused(n) for n in ('numpy', 'pandas')]))"
    )
    env = {**os.environ, "SQLGATE_NL_EMBEDDINGS": setting}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [kept_out, kept_out]


@pytest.mark.postgres
def test_postgresql_parameters_work_with_numpy_kept_out() -> None:
    # psycopg looks for numpy in sys.modules when it picks how to send an integer.
    script = (
        "import sys, psycopg\n"
        "from sqlgate.cli._unused import keep_out_unused\n"
        "keep_out_unused()\n"
        "with psycopg.connect(sys.argv[1]) as conn:\n"
        "    print(conn.execute('SELECT %s::int[]', ([1, 2],)).fetchone()[0])"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, PG_ADMIN_URL], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[1, 2]"
