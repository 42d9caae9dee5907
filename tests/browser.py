"""A real headless Chromium, driven through the DevTools protocol, for tests of pages.

Chromium is Debian's package (`.ci/run` installs it). Without it the test skips, or fails with
SQLGATE_REQUIRE_SERVICES=1, as in CI.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "chromium is not installed (`apt-get install chromium`; .ci/run installs it)"
        if os.environ.get("SQLGATE_REQUIRE_SERVICES") == "1":
            pytest.fail(message + " and SQLGATE_REQUIRE_SERVICES=1")
        pytest.skip(message)
    return found


@dataclass
class PageLog:
    """What a page did while it loaded: console errors, uncaught exceptions, error log entries
    (failed loads, blocked content) and every URL it requested."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


class Page:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.log = PageLog()

    def call(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        call_id = next(self.ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(deadline)
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def wait(self, event: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(deadline)
            if message.get("method") == event:
                params: dict[str, Any] = message.get("params", {})
                return params

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def wait_until(self, expression: str, timeout: float = 30) -> Any:
        """Evaluate until the value is truthy; the last value otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value or time.monotonic() > deadline:
                return value
            self.drain(0.2)

    def drain(self, seconds: float) -> None:
        """Take in the events of the next ``seconds``."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                self._receive(deadline)
        except TimeoutError:
            pass

    def _receive(self, deadline: float) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        message: dict[str, Any] = json.loads(self.ws.recv(timeout=remaining))
        self._record(message.get("method"), message.get("params", {}))
        return message

    def _record(self, method: str | None, params: dict[str, Any]) -> None:
        errors = self.log.errors
        if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            args = [a.get("value", a.get("description", "")) for a in params.get("args", [])]
            errors.append("console." + params["type"] + ": " + " ".join(map(str, args)))
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            errors.append(f"uncaught: {text}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            errors.append(f"{entry['source']}: {entry['text']} {entry.get('url', '')}".strip())
        elif method == "Network.requestWillBeSent":
            self.log.requests.append(params["request"]["url"])
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            errors.append(f"network: {params.get('errorText')} ({params.get('type')})")


@contextmanager
def browser_page() -> Iterator[Page]:
    """A fresh headless Chromium (own profile, no sandbox: tests run as root) and its one tab,
    with the console, log and network domains on."""
    binary = chromium()
    # Chromium's helper processes may still write to the profile after the browser exits; a
    # leftover file in a temporary directory is no reason to fail the test.
    with tempfile.TemporaryDirectory(
        prefix="sqlgate-chromium-", ignore_cleanup_errors=True
    ) as profile:
        proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--disable-background-networking",
             "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            port = _devtools_port(Path(profile), proc)
            targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
            url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
            with connect(url, max_size=None, open_timeout=10) as ws:
                page = Page(ws)
                for domain in ("Page", "Runtime", "Log", "Network"):
                    page.call(f"{domain}.enable")
                yield page
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _devtools_port(profile: Path, proc: subprocess.Popen[bytes]) -> int:
    active = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while True:
        if active.is_file() and (text := active.read_text().strip()):
            return int(text.splitlines()[0])
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"chromium did not open its DevTools port (exit {proc.returncode})")
        time.sleep(0.1)


def open_page(page: Page, url: str, ready: str, timeout: float = 30) -> Any:
    """Navigate, wait for the load event, then until ``ready`` (JS) is truthy; a second of late
    events is taken in before returning its value."""
    page.call("Page.navigate", url=url)
    page.wait("Page.loadEventFired", timeout=timeout)
    value = page.wait_until(ready, timeout=timeout)
    page.drain(1.0)
    return value
