"""`sqlgate policy deploy|show`: the operator deploys an access policy on a shared connection
and each granted organization sees its own rows at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sqlgate.cli import main
from tests.policy.warehouse import CANARY, POLICY, build_file


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_operator_deploys_a_policy_on_a_shared_connection(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = str(tmp_path / "data")
    monkeypatch.setenv("SQLGATE_DATA_DIR", data_dir)
    warehouse = tmp_path / "warehouse.duckdb"
    build_file("duckdb", warehouse, copy=False)
    keys = {}
    for name, tenant in (("Acme", 1), ("Globex", 2)):
        code, out, err = _run(
            capsys, "orgs", "create", "--name", name, "--attr", f"tenant_id={tenant}", "--json",
            "--data-dir", data_dir,
        )  # fmt: skip
        assert code == 0, err
        keys[name] = json.loads(out)["api_key"]
    code, out, err = _run(
        capsys, "connections", "add", "warehouse", "--shared", "--type", "duckdb",
        "--database", str(warehouse), "--data-dir", data_dir,
    )  # fmt: skip
    assert code == 0, err
    for org in ("acme", "globex"):
        assert _run(capsys, "connections", "grant", "warehouse", "--org", org,
                    "--data-dir", data_dir)[0] == 0  # fmt: skip
    code, out, err = _run(capsys, "policy", "show", "--connection", "warehouse",
                          "--data-dir", data_dir)  # fmt: skip
    assert code == 0 and "no access policy" in err
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(POLICY)
    code, out, err = _run(
        capsys, "policy", "deploy", str(policy_file), "--connection", "warehouse", "--json",
        "--data-dir", data_dir,
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["version"] == 1
    code, out, err = _run(capsys, "policy", "show", "--connection", "warehouse",
                          "--data-dir", data_dir)  # fmt: skip
    assert code == 0 and out == POLICY
    bad = tmp_path / "bad.yaml"
    bad.write_text("tables:\n  nosuch: {}\n")
    code, out, err = _run(capsys, "policy", "deploy", str(bad), "--connection", "warehouse",
                          "--data-dir", data_dir)  # fmt: skip
    assert code == 1 and "no table nosuch" in err

    from fastapi.testclient import TestClient

    from sqlgate.app import create_app
    from tests.conftest import make_settings

    with TestClient(create_app(make_settings(Path(data_dir)))) as client:
        for name, expected in (("Acme", ["alice", "bob", "carol"]), ("Globex", [CANARY] * 2)):
            r = client.post(
                "/api/v1/query/warehouse",
                json={"query": "SELECT customer FROM orders ORDER BY id"},
                headers={"Authorization": f"Bearer {keys[name]}"},
            )
            assert r.status_code == 200, r.text
            assert [row[0] for row in r.json()["rows"]] == expected
