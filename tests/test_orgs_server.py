"""Several organizations on one real `sqlgate serve` process: created and suspended by the
operator (its HTTP API and the CLI beside the server), sharing one warehouse. The suspend and
the revoke whose arrival in the server is timed run as their own processes; the commands that
only set the scene run the CLI in this process (tests/test_server.py prepare)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import CHINOOK_SQLITE
from tests.test_server import prepare, sqlgate, start_server

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("orgs-served")
    proc, base = start_server(data_dir)
    yield base, data_dir
    proc.send_signal(signal.SIGINT)
    try:
        proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("server did not stop on SIGINT")


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_suspend_through_the_operator_api_answers_403_at_once(served: tuple[str, Path]) -> None:
    base, data_dir = served
    operator = _ok(prepare("operator-key", "create", "--name", "ops", data_dir=data_dir)).strip()
    ops = {"Authorization": f"Bearer {operator}"}
    made = httpx.post(f"{base}/v1/platform/organizations", headers=ops,
                      json={"name": "Acme", "attributes": {"tenant_id": 1}})  # fmt: skip
    assert made.status_code == 201, made.text
    key = {"Authorization": f"Bearer {made.json()['owner_key']['api_key']}"}
    assert httpx.get(f"{base}/v1/connections", headers=key).status_code == 200
    # The key is now in the server's memory; suspending must still refuse it at once.
    r = httpx.post(f"{base}/v1/platform/organizations/acme/suspend", headers=ops)
    assert r.status_code == 200 and r.json()["data"]["status"] == "suspended"
    refused = httpx.get(f"{base}/v1/connections", headers=key)
    assert refused.status_code == 403 and "suspended" in refused.json()["error"]["message"]
    assert httpx.get(f"{base}/v1/platform/organizations", headers=key).status_code == 403
    httpx.post(f"{base}/v1/platform/organizations/acme/resume", headers=ops).raise_for_status()
    assert httpx.get(f"{base}/v1/connections", headers=key).status_code == 200


def test_suspend_from_the_cli_reaches_the_server_within_the_auth_cache_time(
    served: tuple[str, Path],
) -> None:
    base, data_dir = served
    made = json.loads(_ok(prepare("orgs", "create", "--name", "Beta", "--json",
                                  data_dir=data_dir)))  # fmt: skip
    key = {"Authorization": f"Bearer {made['api_key']}"}
    assert httpx.get(f"{base}/v1/connections", headers=key).status_code == 200
    _ok(sqlgate("orgs", "suspend", "beta", data_dir=data_dir))
    deadline = time.monotonic() + 1.0 + 2.0  # SQLGATE_AUTH_CACHE_SECONDS (1 s) and slack
    while httpx.get(f"{base}/v1/connections", headers=key).status_code != 403:
        assert time.monotonic() < deadline, "still let in after the auth cache time"
        time.sleep(0.1)


def test_two_orgs_share_one_warehouse_and_a_revoke_applies(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    base, data_dir = served
    warehouse = tmp_path / "warehouse.sqlite"
    warehouse.write_bytes(CHINOOK_SQLITE.read_bytes())
    _ok(prepare("connections", "add", "warehouse", "--shared", "--type", "sqlite",
                "--database", str(warehouse), data_dir=data_dir))  # fmt: skip
    keys = {}
    for name in ("One", "Two"):
        made = json.loads(_ok(prepare("orgs", "create", "--name", name, "--json",
                                      data_dir=data_dir)))  # fmt: skip
        keys[name] = {"Authorization": f"Bearer {made['api_key']}"}
        _ok(prepare("connections", "grant", "warehouse", "--org", made["slug"],
                    data_dir=data_dir))  # fmt: skip
    body = {"query": "SELECT count(*) FROM Album"}
    for headers in keys.values():
        r = httpx.post(f"{base}/api/v1/query/warehouse", json=body, headers=headers)
        assert r.status_code == 200 and r.json()["rows"] == [[347]], r.text
        assert str(warehouse) not in httpx.get(f"{base}/v1/connections", headers=headers).text
    _ok(sqlgate("connections", "revoke", "warehouse", "--org", "two", data_dir=data_dir))
    deadline = time.monotonic() + 1.0 + 2.0  # SQLGATE_CONNECTION_CACHE_SECONDS and slack
    while httpx.post(f"{base}/api/v1/query/warehouse", json=body,
                     headers=keys["Two"]).status_code != 404:  # fmt: skip
        assert time.monotonic() < deadline, "still there after the connection cache time"
        time.sleep(0.1)
    r = httpx.post(f"{base}/api/v1/query/warehouse", json=body, headers=keys["One"])
    assert r.status_code == 200
    # Through the operator API the revoke applies at once in the server.
    operator = _ok(prepare("operator-key", "create", data_dir=data_dir)).strip()
    revoked = httpx.delete(f"{base}/v1/platform/connections/warehouse/grants/one",
                           headers={"Authorization": f"Bearer {operator}"})  # fmt: skip
    assert revoked.status_code == 204, revoked.text
    r = httpx.post(f"{base}/api/v1/query/warehouse", json=body, headers=keys["One"])
    assert r.status_code == 404, r.text
