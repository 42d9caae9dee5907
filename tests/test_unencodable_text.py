"""Text that cannot be encoded as UTF-8 (a lone surrogate from a JSON escape, or a body that is
not UTF-8) is a 422 `validation_error` on every surface, through a real `sqlgate serve`."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sqlgate.api.middleware import unencodable_text
from tests.test_server import add_chinook, prepare, start_server

pytestmark = pytest.mark.server

LONE = r"SELECT '\udc80' AS x"  # as JSON text: the escape, not the character

# (path, body with the surrogate, field named in the error)
SURFACES = [
    ("/api/v1/query/chinook", f'{{"query": "{LONE}"}}', "query"),
    ("/api/v1/query/chinook/validate", f'{{"query": "{LONE}"}}', "query"),
    ("/api/v1/query/chinook/export?format=csv", f'{{"query": "{LONE}"}}', "query"),
    ("/api/v1/query/chinook/export?format=parquet", f'{{"query": "{LONE}"}}', "query"),
    ("/api/v1/run_sql", f'{{"sql": "{LONE}", "connection_id": "chinook"}}', "sql"),
    ("/v1/jobs", f'{{"query": "{LONE}", "connection_id": "chinook"}}', "query"),
    (
        "/api/v1/query/chinook",
        r'{"query": "SELECT :p AS x", "params": {"p": "a\udc80"}}',
        "params.p",
    ),
    ("/api/v1/query/chinook", r'{"query": "SELECT 1", "params": {"\ud800": 1}}', "params"),
    ("/v1/queries", r'{"question": "how many \udfff?", "connection_id": "chinook"}', "question"),
    (
        "/api/v1/generate_sql",
        r'{"question": "\ud83d tracks", "connection_id": "chinook"}',
        "question",
    ),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    data_dir: Path = tmp_path_factory.mktemp("text")
    init = prepare("init", "--json", data_dir=data_dir)
    assert init.returncode == 0, init.stderr
    assert add_chinook(data_dir).returncode == 0
    headers = {
        "Authorization": f"Bearer {json.loads(init.stdout)['api_key']}",
        "Content-Type": "application/json",
    }
    proc, base = start_server(data_dir)
    yield base, headers
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=20)
    assert "Traceback" not in output, output


@pytest.mark.parametrize(("path", "body", "field"), SURFACES)
def test_a_lone_surrogate_is_a_422_everywhere(
    served: tuple[str, dict[str, str]], path: str, body: str, field: str
) -> None:
    base, headers = served
    r = httpx.post(base + path, content=body.encode(), headers=headers, timeout=30)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"].startswith(f"Invalid request: {field}: text with a lone surrogate")
    assert error["details"][0]["field"] == field
    assert "cannot be encoded as UTF-8" in error["details"][0]["message"]


def test_the_same_answer_without_a_key(served: tuple[str, dict[str, str]]) -> None:
    """Like malformed JSON, refused before authentication: nothing below runs."""
    base, _ = served
    r = httpx.post(
        f"{base}/api/v1/query/chinook",
        content=f'{{"query": "{LONE}"}}'.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error", r.text


def test_a_body_that_is_not_utf8_is_a_422(served: tuple[str, dict[str, str]]) -> None:
    base, headers = served
    for path in ("/api/v1/query/chinook", "/api/v1/run_sql", "/v1/jobs"):
        r = httpx.post(base + path, content=b'{"query": "SELECT \'\xff\'"}', headers=headers)
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "validation_error"
        assert "not valid UTF-8: byte 0xff at line 1, column 20" in error["message"]
        assert (error["line"], error["column"]) == (1, 20)


def test_text_that_only_looks_like_a_surrogate_still_runs(
    served: tuple[str, dict[str, str]],
) -> None:
    base, headers = served
    for sql, expected in (
        (r"SELECT '\ud83d\ude00' AS x", "\U0001f600"),  # a valid pair: one emoji
        (r"SELECT '\\udc80' AS x", "\\udc80"),  # an escaped backslash, then plain letters
        ("SELECT 'h\u00e9' AS x", "h\u00e9"),  # UTF-8 sent as such
    ):
        body = json.dumps({"query": "PLACEHOLDER"}).replace("PLACEHOLDER", sql)
        r = httpx.post(f"{base}/api/v1/query/chinook", content=body.encode(), headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["rows"] == [[expected]]
    # Through a form content type (curl -d) as well: the check follows the JSON reading.
    r = httpx.post(
        f"{base}/api/v1/query/chinook",
        content=f'{{"query": "{LONE}"}}'.encode(),
        headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 422, r.text


def test_unencodable_text_leaves_malformed_json_to_the_route() -> None:
    assert unencodable_text(b'{"query": "\\udc80"') is None  # not JSON: the route says so
    assert unencodable_text(b'{"q": ["ok", {"deep": ["\\uDC80"]}]}') is not None
    found = unencodable_text(b'{"q": ["ok", {"deep": ["ab\\uDC80"]}]}')
    assert found is not None and found.details["details"][0]["field"] == "q.1.deep.0"
    assert "at character 2" in found.message
