"""`sqlgate team list|invite|service-account|remove` and `keys create --service-account`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sqlgate.auth.principal import authenticate
from sqlgate.cli import main
from sqlgate.container import Services
from sqlgate.errors import AuthenticationError
from tests.conftest import make_settings


def _json(capsys: pytest.CaptureFixture[str]) -> object:
    return json.loads(capsys.readouterr().out)


def test_team_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = ["--data-dir", str(tmp_path)]
    assert main(["init", "--json", *d]) == 0
    capsys.readouterr()

    assert main(["team", "invite", "Ann@Example.com", "--role", "editor", "--json", *d]) == 0
    invited = _json(capsys)
    assert isinstance(invited, dict)
    assert invited["status"] == "invited" and invited["invite_token"].startswith("sqgi_")
    assert main(["team", "invite", "ann@example.com", *d]) == 1  # already invited
    assert "already been invited" in capsys.readouterr().err

    assert main(["team", "service-account", "airflow", "--role", "viewer", "--json", *d]) == 0
    account = _json(capsys)
    assert isinstance(account, dict) and account["kind"] == "service"
    assert main(["keys", "create", "--service-account", "airflow", "--json", *d]) == 0
    key = _json(capsys)
    assert isinstance(key, dict)
    assert key["scopes"] == ["connections:read", "query:validate", "team:read"]

    assert main(["team", "list", "--json", *d]) == 0
    members = _json(capsys)
    assert isinstance(members, list)
    assert [(m["email"], m["role"], m["status"]) for m in members] == [
        ("owner@localhost", "owner", "active"),
        ("ann@example.com", "editor", "invited"),
        (None, "viewer", "active"),
    ]
    owner_id = members[0]["id"]
    assert main(["team", "remove", owner_id, *d]) == 1  # the last owner stays
    assert "at least one owner" in capsys.readouterr().err

    assert main(["team", "remove", account["id"], *d]) == 0
    assert "revoked 1 key" in capsys.readouterr().out
    services = Services.build(make_settings(tmp_path))
    try:
        with pytest.raises(AuthenticationError):
            authenticate(services.store, key["api_key"])
    finally:
        services.close()
