"""HTTPS webhooks connect to the address the SSRF guard checked, not to the name again, and the
receiver's certificate is still checked against the URL's host name: a local HTTPS server with
certificates from a test CA (trusted through SQLGATE_WEBHOOK_CA_FILE), the host allowed by
SQLGATE_WEBHOOK_HOSTS."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sqlgate.library.webhooks import DeliveryFailed, HostPolicy, WebhookSender
from tests.conftest import Env, open_env
from tests.webhook_receiver import certificates, server_tls, webhook_receiver


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    return certificates(tmp_path_factory.mktemp("certs"))


def _sender(ca: Path) -> WebhookSender:
    return WebhookSender(HostPolicy.parse("localhost"), ca_file=str(ca), sleep=lambda _s: None)


def _send(sender: WebhookSender, url: str, retries: int = 2) -> Any:
    return sender.send(url, b"{}", delivery_id="d.1", secret="s", timeout=5, retries=retries)


def test_a_valid_certificate_for_the_name_is_accepted(certs: dict[str, tuple[Path, Path]]) -> None:
    with webhook_receiver(tls=server_tls(*certs["good"]), name="localhost") as hook:
        assert hook.url.startswith("https://localhost:")
        delivery = _send(_sender(certs["ca"][0]), hook.url)
        [got] = hook.deliveries()
    assert delivery.ok and delivery.attempts[0]["status_code"] == 200
    # the name travelled as SNI and Host, though the connection went to the checked address
    assert hook.server_names == ["localhost"]
    assert got.headers["host"] == hook.url.split("/")[2] and got.signed_with("s")


@pytest.mark.parametrize(
    ("label", "why"),
    [("wrong_host", "not valid for 'localhost'"), ("untrusted", "self-signed certificate")],
)
def test_a_certificate_for_another_name_or_from_an_unknown_ca_is_refused(
    certs: dict[str, tuple[Path, Path]], label: str, why: str
) -> None:
    with webhook_receiver(tls=server_tls(*certs[label]), name="localhost") as hook:
        with pytest.raises(DeliveryFailed) as caught:
            _send(_sender(certs["ca"][0]), hook.url, retries=3)
        assert hook.deliveries() == []  # nothing was sent over the refused connection
    message = caught.value.message
    assert "TLS certificate check failed" in message and why in message, message
    assert "not valid for localhost" in message and "SQLGATE_WEBHOOK_CA_FILE" in message
    attempts = caught.value.delivery["attempts"]  # type: ignore[index]
    assert len(attempts) == 1 and attempts[0]["tls_verified"] is False  # not retried


def test_without_the_test_ca_the_good_certificate_is_refused_too(
    certs: dict[str, tuple[Path, Path]],
) -> None:
    """The default authorities (certifi) do not know the test CA: verification is on."""
    sender = WebhookSender(HostPolicy.parse("localhost"), sleep=lambda _s: None)
    with (
        webhook_receiver(tls=server_tls(*certs["good"]), name="localhost") as hook,
        pytest.raises(DeliveryFailed, match="TLS certificate check failed"),
    ):
        _send(sender, hook.url)


@pytest.fixture(scope="module")
def tls_env(
    tmp_path_factory: pytest.TempPathFactory, certs: dict[str, tuple[Path, Path]]
) -> Iterator[Env]:
    yield from open_env(
        tmp_path_factory.mktemp("tls"),
        webhook_hosts="localhost",
        webhook_ca_file=str(certs["ca"][0]),
        scheduler_interval=0.2,
    )


def _run(env: Env, url: str) -> dict[str, Any]:
    h = {"X-API-Key": env.org.key}
    body = {
        "name": "TLS hook",
        "steps": [
            {"type": "query", "connection_id": "duck", "sql": "SELECT 1 AS one"},
            {"type": "webhook", "url": url, "retries": 2},
        ],
    }
    r = env.client.post("/v1/workflows", json=body, headers=h)
    assert r.status_code == 201, r.text
    wf_id = r.json()["data"]["workflow_id"]
    r = env.client.post(f"/v1/workflows/{wf_id}/run", headers=h)
    path = f"/v1/workflows/{wf_id}/runs/{r.json()['data']['run_id']}"
    deadline = time.monotonic() + 30
    while True:
        run = env.client.get(path, headers=h).json()["data"]
        if run["status"] not in ("queued", "running"):
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.05)


def test_a_workflow_run_shows_the_refused_certificate_as_its_step_error(
    tls_env: Env, certs: dict[str, tuple[Path, Path]]
) -> None:
    with webhook_receiver(tls=server_tls(*certs["good"]), name="localhost") as hook:
        run = _run(tls_env, hook.url)
        assert run["status"] == "succeeded", run
        assert len(hook.deliveries()) == 1
    with webhook_receiver(tls=server_tls(*certs["wrong_host"]), name="localhost") as hook:
        run = _run(tls_env, hook.url)
        assert hook.deliveries() == []
    assert run["status"] == "failed"
    assert run["error"]["code"] == "delivery_failed"
    assert "TLS certificate check failed" in run["error"]["message"]
    step = run["steps"][1]
    assert step["status"] == "failed" and step["error"] == run["error"]
    [attempt] = step["deliveries"][0]["attempts"]
    assert attempt["tls_verified"] is False and "not valid for 'localhost'" in attempt["error"]
