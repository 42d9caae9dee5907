"""`/docs` in a real headless Chromium against a real `sqlgate serve`: every operation of the
OpenAPI document is listed, the console shows no errors, and nothing is fetched from elsewhere."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.browser import browser_page, chromium, open_page
from tests.test_server import start_server

pytestmark = pytest.mark.server

OPERATIONS_JS = """Array.from(document.querySelectorAll('.opblock')).map(b => [
    b.querySelector('.opblock-summary-method').textContent.trim().toLowerCase(),
    b.querySelector('.opblock-summary-path').dataset.path])"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    chromium()  # skip (or fail under CI) before starting anything
    proc, base = start_server(tmp_path_factory.mktemp("docs"))
    yield base
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=20)


def test_docs_lists_every_operation_without_console_errors(served: str) -> None:
    spec = httpx.get(f"{served}/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    expected = {
        (method, path)
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    with browser_page() as page:
        listed = open_page(page, f"{served}/docs", "document.querySelectorAll('.opblock').length")
        assert listed, page.evaluate("document.body.innerText")
        shown = {tuple(op) for op in page.evaluate(OPERATIONS_JS)}
        text = page.evaluate("document.body.innerText")
        version = page.evaluate("window.versions && window.versions.swaggerUI.version")
        log = page.log
    assert "Unable to render" not in text
    assert shown == expected
    assert version.startswith("5."), version
    assert log.errors == []
    # Offline: the page, its script, style, icon and the OpenAPI document all come from sqlgate.
    assert log.requests and all(url.startswith(served) for url in log.requests), log.requests
    assert f"{served}/openapi.json" in log.requests


def test_a_console_error_would_be_seen(served: str, tmp_path: Path) -> None:
    """The check above can fail: a page that logs an error and throws is reported."""
    page_file = tmp_path / "broken.html"
    page_file.write_text(
        "<script>console.error('boom'); missing();</script><img src='/nowhere.png'>"
    )
    with browser_page() as page:
        open_page(page, page_file.as_uri(), "document.readyState === 'complete'")
        errors = page.log.errors
    assert any("console.error: boom" in e for e in errors), errors
    assert any("missing is not defined" in e for e in errors), errors
