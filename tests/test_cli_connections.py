"""`sqlgate connections add` for server databases, with the password read from stdin."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from sqlgate.cli import main
from sqlgate.container import Services
from tests.conftest import make_settings
from tests.mysql_services import fresh_mysql_database


def test_add_mysql_with_password_on_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = str(tmp_path)
    assert main(["init", "--json", "--data-dir", data_dir]) == 0
    capsys.readouterr()
    with fresh_mysql_database() as db:
        monkeypatch.setattr("sys.stdin", io.StringIO(db.password + "\n"))
        code = main(
            ["connections", "add", "maria", "--type", "mysql", "--host", db.host,
             "--port", str(db.port), "--database", db.name, "--username", db.user,
             "--password-stdin", "--json", "--data-dir", data_dir]
        )  # fmt: skip
        out = capsys.readouterr().out
        assert code == 0, out
        assert json.loads(out)["host"] == db.host and db.password not in out
        services = Services.build(make_settings(tmp_path))
        try:
            [conn] = services.connections.list(_org_id(services))
            assert conn.password_set and conn.port == db.port
            engine = services.connections.engine(conn)
            assert engine.execute("SELECT 1 AS one", None, timeout=5, row_limit=1).row_count == 1
        finally:
            services.close()

        # a wrong password is refused and nothing is stored
        monkeypatch.setattr("sys.stdin", io.StringIO("wrong-password\n"))
        code = main(
            ["connections", "add", "bad", "--type", "mysql", "--host", db.host,
             "--database", db.name, "--username", db.user, "--password-stdin",
             "--data-dir", data_dir]
        )  # fmt: skip
        err = capsys.readouterr().err
        assert code == 1 and "denied" in err.lower() and "wrong-password" not in err


def _org_id(services: Services) -> str:
    from sqlgate.services import orgs

    org = orgs.first_organization(services.store)
    assert org is not None
    return org.id
