"""`sqlgate ask`: a question in plain language from the command line, offline."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from sqlgate.cli import main
from tests.conftest import CHINOOK_SQLITE


def test_ask_prints_sql_and_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = ["--data-dir", str(tmp_path)]
    assert main(["init", "--json", *d]) == 0
    add = ["connections", "add", "chinook", "--type", "sqlite", "--database", str(CHINOOK_SQLITE)]
    assert main([*add, *d]) == 0
    capsys.readouterr()

    assert main(["ask", "How many customers per country?", "--connection", "chinook",
                 "--json", *d]) == 0  # fmt: skip
    answer = json.loads(capsys.readouterr().out)
    with sqlite3.connect(f"file:{CHINOOK_SQLITE}?mode=ro", uri=True) as con:
        gold = dict(con.execute("SELECT Country, count(*) FROM Customer GROUP BY Country"))
    assert {row[0]: row[1] for row in answer["rows"]} == gold
    assert answer["query_id"].startswith("q_") and answer["sql"].upper().startswith("SELECT")

    # a table by default (the SQL on stderr); csv on request
    assert main(["ask", "How many genres?", "--connection", "chinook", *d]) == 0
    out = capsys.readouterr()
    assert out.out.splitlines()[2].strip() == "25" and out.out.splitlines()[-1] == "(1 row)"
    assert "SELECT" in out.err
    assert main(["ask", "How many genres?", "--connection", "chinook", "--format", "csv", *d]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "25"

    # not a question about the data: one error line, exit status 1
    assert main(["ask", "delete all customers", "--connection", "chinook", *d]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: not a question about the data") and "read-only" in err
    assert len(err.splitlines()) == 1


def test_ask_has_the_sync_maxima(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The question path runs on the query surface: its maxima cap even a default above them."""
    monkeypatch.setenv("SQLGATE_ROW_LIMIT_DEFAULT", "500")
    monkeypatch.setenv("SQLGATE_ROW_LIMIT_MAX", "7")
    d = ["--data-dir", str(tmp_path)]
    assert main(["init", "--json", *d]) == 0
    add = ["connections", "add", "chinook", "--type", "sqlite", "--database", str(CHINOOK_SQLITE)]
    assert main([*add, *d]) == 0
    capsys.readouterr()

    assert main(["ask", "list all customers", "--connection", "chinook", "--json", *d]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["row_count"] == 7 and len(answer["rows"]) == 7
