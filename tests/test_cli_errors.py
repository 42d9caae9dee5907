"""Every CLI failure is one `error: ...` line on stderr, exit status 2 for a wrong command line
and 1 for anything else; a closed standard output ends a command quietly."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sqlgate.cli import build_parser, main
from sqlgate.container import Services
from sqlgate.services import orgs
from tests.conftest import CHINOOK_SQLITE, make_settings
from tests.test_server import prepare


def subcommands(parser: argparse.ArgumentParser | None = None) -> list[tuple[str, ...]]:
    """Every runnable command of the parser, as its words: ("serve",), ("keys", "create")..."""
    parser = parser or build_parser()
    found: list[tuple[str, ...]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                below = subcommands(child)
                found.extend([(name, *words) for words in below] or [(name,)])
    return found


def cli(data_dir: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sqlgate", *argv, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_error_line(err: str) -> None:
    assert "Traceback" not in err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "unexpected" not in err, err  # main's last resort: a bug, not a handled failure


def test_an_unknown_scope_is_a_usage_error(tmp_path: Path) -> None:
    assert prepare("init", data_dir=tmp_path).returncode == 0
    done = cli(tmp_path, "keys", "create", "--scopes", "query:explode")
    assert done.returncode == 2 and done.stdout == ""
    assert_one_error_line(done.stderr)
    assert "unknown scope query:explode" in done.stderr and "query:execute" in done.stderr


def test_a_closed_stdout_ends_quietly(tmp_path: Path) -> None:
    """`sqlgate semantic show | head`: the reader is gone before the command writes."""
    assert prepare("init", data_dir=tmp_path).returncode == 0
    add = ("connections", "add", "chinook", "--type", "sqlite", "--database", str(CHINOOK_SQLITE))
    assert prepare(*add, data_dir=tmp_path).returncode == 0
    for argv in (
        ["semantic", "show", "--connection", "chinook"],
        ["query", "chinook", "SELECT * FROM Track", "--format", "csv"],
        ["keys", "list"],
    ):
        proc = subprocess.Popen(
            [sys.executable, "-m", "sqlgate", *argv, "--data-dir", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # like `head` exiting before the output arrives
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=60) == 141, err  # 128 + SIGPIPE, as Unix tools report it
        assert "Traceback" not in err and "Broken pipe" not in err and "error" not in err, err

    # and through a shell pipe, with a result larger than the pipe's buffer
    shell = subprocess.run(
        f"set -o pipefail; {sys.executable} -m sqlgate query chinook "
        f"'SELECT * FROM Track a, Genre b' --format csv --data-dir {tmp_path} | head -2",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shell.stdout.splitlines()[0].startswith('"TrackId"') and shell.stderr == ""
    assert shell.returncode == 141


def test_several_organizations_need_org(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SQLGATE_DATA_DIR", str(tmp_path))
    d = ["--data-dir", str(tmp_path)]
    assert main(["init", "--name", "Acme", *d]) == 0
    assert main(["team", "list", *d]) == 0  # one organization: no --org needed
    services = Services.build(make_settings(tmp_path))
    try:
        orgs.create_organization(services.store, name="Beta", owner_email="owner@beta.test")
    finally:
        services.close()
    capsys.readouterr()
    for argv in (["team", "list"], ["keys", "create"], ["connections", "list"]):
        assert main([*argv, *d]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err == "error: several organizations (acme, beta): name one with --org SLUG\n"
    assert main(["team", "list", "--org", "beta", "--json", *d]) == 0
    assert "owner@beta.test" in capsys.readouterr().out
    assert main(["keys", "list", "--org", "gamma", *d]) == 1
    assert capsys.readouterr().err == (
        "error: Organization 'gamma' not found; organizations: acme, beta\n"
    )


#: For every command, inputs it must refuse: (argv, exit status). The data dir holds one
#: organization with Chinook as `chinook`. Adding a command without adding it here fails.
BAD_INPUT: dict[tuple[str, ...], list[tuple[list[str], int]]] = {
    ("serve",): [(["--tls-cert", "/nonexistent/cert.pem"], 2), (["--port", "http"], 2)],
    ("init",): [(["--name"], 2)],
    ("orgs", "create"): [
        (["--name", "X", "--attr", "x=[1]"], 1),
        (["--name", "X", "--slug", "Bad Slug"], 1),
        (["--name", "X", "--attr", "9=1"], 1),
        ([], 2),
    ],
    ("orgs", "list"): [(["extra"], 2)],
    ("orgs", "show"): [(["nope"], 1), ([], 2)],
    ("orgs", "update"): [(["nope", "--name", "X"], 1), (["default"], 2)],
    ("orgs", "suspend"): [(["nope"], 1)],
    ("orgs", "resume"): [(["nope"], 1), (["default"], 1)],
    ("orgs", "delete"): [(["nope", "--yes"], 1), (["default"], 2)],
    ("operator-key", "create"): [(["--name", " "], 1)],
    ("operator-key", "list"): [(["extra"], 2)],
    ("operator-key", "revoke"): [(["opk_nope"], 1), ([], 2)],
    ("keys", "create"): [
        (["--scopes", "query:explode"], 2),
        (["--scopes", ","], 2),
        (["--email", "nobody@nowhere.test"], 1),
        (["--scopes", "admin", "--service-account", "nobody"], 1),
    ],
    ("keys", "list"): [(["--org", "nope"], 1)],
    ("keys", "revoke"): [(["key_nope"], 1), ([], 2)],
    ("team", "list"): [(["--org", "nope"], 1)],
    ("team", "invite"): [(["not-an-email"], 1), (["a@b.test", "--role", "god"], 2)],
    ("team", "service-account"): [(["bad name!"], 1), ([], 2)],
    ("team", "remove"): [(["mem_nope"], 1)],
    ("connections", "add"): [
        (["x", "--type", "sqlite", "--database", "/nonexistent/db.sqlite"], 1),
        (["x", "--type", "oracle"], 2),
        (["chinook", "--type", "sqlite", "--database", str(CHINOOK_SQLITE)], 1),
        (["y", "--type", "duckdb", "--database", str(CHINOOK_SQLITE)], 1),
        (["z", "--type", "postgresql", "--host=-oProxyCommand=x", "--database", "d"], 1),
    ],
    ("connections", "list"): [(["--org", "nope"], 1)],
    ("connections", "remove"): [
        (["nope", "--yes"], 1),
        (["chinook"], 2),
        (["chinook", "--shared", "--yes"], 1),
    ],
    ("connections", "grant"): [(["nope", "--org", "default"], 1), (["x"], 2)],
    ("connections", "revoke"): [(["nope", "--org", "default"], 1), (["x"], 2)],
    ("query",): [
        (["chinook", "DROP TABLE Track"], 1),
        (["chinook", "SELEC 1"], 1),
        (["chinook", "SELECT nope FROM Track"], 1),
        (["nope", "SELECT 1"], 1),
        (["chinook", "SELECT 1", "--row-limit", "many"], 2),
        (["chinook", "SELECT 1", "--param", "novalue"], 2),
        (["chinook", "SELECT 1", "--format", "xml"], 2),
        (["chinook", "SELECT 1", "--timeout", "-1"], 2),
        (["chinook", "SELECT 1", "--row-limit", "0"], 2),
        (["chinook", "SELECT 1; SELECT 2", "--format", "csv"], 1),
    ],
    ("ask",): [(["delete every customer", "--connection", "chinook"], 1), ([], 2)],
    ("dashboards", "list"): [(["--org", "nope"], 1)],
    ("dashboards", "show"): [(["dash_nope"], 1), ([], 2), (["dash_nope", "--filter", "x"], 1)],
    ("dashboards", "create"): [(["-f", "/nonexistent/board.yaml"], 1), ([], 2)],
    ("dashboards", "export"): [(["dash_nope"], 1), (["dash_nope", "--format", "xml"], 2)],
    ("workflows", "list"): [(["--org", "nope"], 1)],
    ("workflows", "show"): [(["wf_nope"], 1), ([], 2)],
    ("workflows", "create"): [(["-f", "/nonexistent/flow.yaml"], 1), ([], 2)],
    ("workflows", "run"): [(["wf_nope"], 1), ([], 2)],
    ("workflows", "runs"): [(["wf_nope"], 1), (["wf_nope", "--limit", "0"], 2)],
    ("semantic", "deploy"): [
        (["/nonexistent/model.yaml"], 1),
        ([str(CHINOOK_SQLITE), "--connection", "chinook"], 1),
    ],
    ("semantic", "draft"): [
        (["--connection", "nope"], 1),
        (["--connection", "chinook", "-o", "/nonexistent/dir/model.yaml"], 1),
    ],
    ("semantic", "show"): [
        (["--connection", "chinook", "--version", "9"], 1),
        (["--connection", "nope"], 1),
        (["--version", "one"], 2),
    ],
    ("policy", "deploy"): [
        (["/nonexistent/policy.yaml"], 1),
        ([str(CHINOOK_SQLITE), "--connection", "chinook"], 1),
        ([], 2),
    ],
    ("policy", "show"): [(["--connection", "nope"], 1)],
    ("policy", "rls"): [(["--connection", "chinook"], 1), (["--connection", "nope"], 1)],
    ("migrate",): [(["extra"], 2)],
    ("secrets", "rotate"): [(["--org", "x"], 2)],
}


def test_every_command_refuses_bad_input_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert set(BAD_INPUT) == set(subcommands())
    monkeypatch.setenv("SQLGATE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr("sys.stdin", open(os.devnull))  # noqa: SIM115 - not a terminal
    d = ["--data-dir", str(tmp_path)]
    assert main(["init", *d]) == 0
    add = ["connections", "add", "chinook", "--type", "sqlite", "--database", str(CHINOOK_SQLITE)]
    assert main([*add, *d]) == 0
    capsys.readouterr()
    for words, cases in BAD_INPUT.items():
        for argv, status in [*cases, (["--no-such-option"], 2)]:
            code = main([*words, *argv, *d])
            out, err = capsys.readouterr()
            assert code == status and out == "", (words, argv, err)
            assert_one_error_line(err)

    # a bad setting is one line too, whatever the command
    monkeypatch.setenv("SQLGATE_ROW_LIMIT_MAX", "lots")
    for words in BAD_INPUT:
        if words == ("serve",):
            continue
        code = main([*words, *d])
        err = capsys.readouterr().err
        assert code in (1, 2), (words, err)
        assert_one_error_line(err)
    code = main(["keys", "list", *d])
    assert "row_limit_max" in capsys.readouterr().err


def test_a_real_process_prints_no_traceback(tmp_path: Path) -> None:
    """The sweep above runs in process; a few of its cases as the user runs them."""
    assert cli(tmp_path, "keys", "list").returncode == 1  # no organization yet
    for argv, status in (
        (["keys", "list"], 1),
        (["query", "nope", "SELECT 1"], 1),
        (["semantic", "show", "--version", "x"], 2),
        (["frobnicate"], 2),
    ):
        done = cli(tmp_path, *argv)
        assert done.returncode == status and done.stdout == ""
        assert_one_error_line(done.stderr)
