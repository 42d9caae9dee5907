"""`sqlgate workflows list|show|create -f FILE|run ID|runs ID`: workflows as files, run here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sqlgate.cli import main
from tests.conftest import CHINOOK_SQLITE
from tests.webhook_receiver import webhook_receiver

WORKFLOW_YAML = """
name: Rock tracks
description: Weekdays at 8:00 Berlin time, post the count of rock tracks
trigger: {{type: schedule, cron: "0 8 * * 1-5", timezone: Europe/Berlin}}
steps:
  - type: query
    connection_id: chinook
    sql: >-
      SELECT COUNT(*) AS tracks FROM Track t JOIN Genre g ON g.GenreId = t.GenreId
      WHERE g.Name = :genre
    params: {{genre: Rock}}
  - type: condition
    column: tracks
    op: ">"
    value: {threshold}
  - type: webhook
    url: {url}
    secret: from-the-file
"""


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_create_run_and_read_the_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = str(tmp_path / "data")
    d = ["--data-dir", data_dir]
    monkeypatch.setenv("SQLGATE_DATA_DIR", data_dir)
    monkeypatch.setenv("SQLGATE_WEBHOOK_HOSTS", "127.0.0.1")
    assert _run(capsys, "init", "--json", *d)[0] == 0
    add = ["connections", "add", "chinook", "--type", "sqlite", "--database", str(CHINOOK_SQLITE)]
    assert _run(capsys, *add, *d)[0] == 0
    with webhook_receiver() as hook:
        source = tmp_path / "rock.yaml"
        source.write_text(WORKFLOW_YAML.format(url=hook.url, threshold=1000))
        code, out, err = _run(capsys, "workflows", "create", "-f", str(source), *d)
        assert code == 0, err
        made = json.loads(out)
        assert made["created"] is True and made["next_run_at"]
        wf_id = made["workflow_id"]

        code, out, err = _run(capsys, "workflows", "show", wf_id, *d)
        shown = json.loads(out)
        assert shown["steps"][2]["secret_set"] is True and "from-the-file" not in out
        assert shown["steps"][2]["url_set"] is True and hook.url not in out  # write-only

        code, out, err = _run(capsys, "workflows", "run", wf_id, *d)
        assert code == 0, err
        run = json.loads(out)
        assert run["status"] == "succeeded" and run["steps"][0]["row_count"] == 1
        [got] = hook.deliveries()
        assert got.signed_with("from-the-file")
        assert got.json["result"]["rows"] == [[1297]]  # Chinook's rock tracks

        # the same file with its workflow_id replaces it (its webhook keeps its URL and
        # secret): now the condition is false
        shown["steps"][1]["value"] = 5000
        (tmp_path / "again.json").write_text(json.dumps(shown))
        code, out, err = _run(capsys, "workflows", "create", "-f", str(tmp_path / "again.json"), *d)
        assert code == 0, err
        assert json.loads(out)["replaced"] is True
        code, out, err = _run(capsys, "workflows", "run", wf_id, *d)
        assert code == 0 and json.loads(out)["status"] == "skipped"
        assert len(hook.deliveries()) == 1

    code, out, _ = _run(capsys, "workflows", "runs", wf_id, *d)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2 and "skipped" in lines[0] and "succeeded" in lines[1]
    code, out, _ = _run(capsys, "workflows", "list", *d)
    assert code == 0 and wf_id in out and "0 8 * * 1-5" in out

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsteps: [{type: webhook, url: 'ftp://x'}]\n")
    code, out, err = _run(capsys, "workflows", "create", "-f", str(bad), *d)
    assert code == 1 and out == "" and "steps.0.url" in err and len(err.splitlines()) == 1
