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


def test_list_and_remove(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sqlalchemy import select

    from sqlgate.store.models import AuditEvent
    from tests.conftest import CHINOOK_SQLITE

    monkeypatch.setenv("SQLGATE_DATA_DIR", str(tmp_path))
    d = ["--data-dir", str(tmp_path)]
    assert main(["init", *d]) == 0
    add = ["connections", "add", "chinook", "--type", "sqlite", "--database", str(CHINOOK_SQLITE)]
    assert main([*add, *d]) == 0
    assert main(["query", "chinook", "SELECT 1", *d]) == 0  # its engine is now open
    capsys.readouterr()

    assert main(["connections", "list", *d]) == 0
    header, rule, row = capsys.readouterr().out.splitlines()
    assert header.split() == ["ID", "NAME", "TYPE", "DATABASE", "DEFAULT"] and "--" in rule
    assert row.split()[1:4] == ["chinook", "sqlite", str(CHINOOK_SQLITE)]
    conn_id = row.split()[0]

    # not at a terminal and no --yes: a usage error, nothing removed
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["connections", "remove", "chinook", *d]) == 2
    assert "--yes" in capsys.readouterr().err
    # at a terminal: asked, and "no" keeps it
    terminal = io.StringIO("n\n")
    terminal.isatty = lambda: True  # type: ignore[method-assign]
    monkeypatch.setattr("sys.stdin", terminal)
    assert main(["connections", "remove", "chinook", *d]) == 1
    err = capsys.readouterr().err
    assert "Remove connection chinook" in err and err.endswith("error: not removed\n")
    assert main(["connections", "list", "--json", *d]) == 0
    assert [c["name"] for c in json.loads(capsys.readouterr().out)] == ["chinook"]

    # by id, with --yes: gone, audited as the operator's change
    assert main(["connections", "remove", conn_id, "--yes", *d]) == 0
    assert capsys.readouterr().out == f"removed connection chinook ({conn_id})\n"
    assert main(["connections", "list", "--json", *d]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["query", "chinook", "SELECT 1", *d]) == 1
    assert capsys.readouterr().err == "error: Connection 'chinook' not found\n"
    services = Services.build(make_settings(tmp_path))
    try:
        with services.store.session() as session:
            rows = session.scalars(
                select(AuditEvent).where(AuditEvent.action == "connection.delete")
            ).all()
        assert [(r.connection_id, r.status) for r in rows] == [(conn_id, "ok")]
    finally:
        services.close()
