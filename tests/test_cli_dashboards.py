"""`sqlgate dashboards list|show|create -f FILE|export ID`: dashboards as files in git."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sqlgate.cli import main
from tests.conftest import CHINOOK_SQLITE

DASHBOARD_YAML = """
name: Music
description: Tracks by genre
refresh_interval: 60
filters:
  - name: genre
    type: values
    default: Rock
widgets:
  - type: metric
    title: Tracks in the genre
    connection_id: chinook
    sql: >-
      SELECT COUNT(*) AS tracks FROM Track t JOIN Genre g ON g.GenreId = t.GenreId
      WHERE g.Name = :genre
    position: {x: 0, y: 0, w: 6, h: 3}
  - type: text
    text: "# Chinook"
    position: {x: 6, y: 0, w: 6, h: 3}
"""


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_create_show_export_and_redeploy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = str(tmp_path / "data")
    monkeypatch.setenv("SQLGATE_DATA_DIR", data_dir)
    assert _run(capsys, "init", "--json", "--data-dir", data_dir)[0] == 0
    code, _, err = _run(
        capsys, "connections", "add", "chinook", "--type", "sqlite",
        "--database", str(CHINOOK_SQLITE), "--data-dir", data_dir,
    )  # fmt: skip
    assert code == 0, err
    source = tmp_path / "music.yaml"
    source.write_text(DASHBOARD_YAML)

    code, out, err = _run(capsys, "dashboards", "create", "-f", str(source), "--data-dir", data_dir)
    assert code == 0, err
    made = json.loads(out)
    assert made["created"] is True and len(made["widgets"]) == 2
    dash = made["dashboard_id"]

    code, out, err = _run(capsys, "dashboards", "list", "--data-dir", data_dir)
    assert code == 0 and dash in out and "Music" in out

    code, out, err = _run(
        capsys, "dashboards", "show", dash, "--filter", "genre=Jazz", "--data-dir", data_dir
    )
    assert code == 0, err
    assert json.loads(out)["widgets"][0]["data"]["value"] == 130

    code, out, err = _run(capsys, "dashboards", "export", dash, "--data-dir", data_dir)
    assert code == 0, err
    exported = yaml.safe_load(out)
    assert exported["dashboard_id"] == dash and exported["filters"][0]["default"] == "Rock"
    assert [w["widget_id"] for w in exported["widgets"]] == made["widgets"]

    # Edited in git and deployed again: the same dashboard, the same widget ids.
    exported["name"] = "Music (edited)"
    exported["widgets"][1]["text"] = "# Chinook, edited"
    source.write_text(yaml.safe_dump(exported))
    code, out, err = _run(capsys, "dashboards", "create", "-f", str(source), "--data-dir", data_dir)
    assert code == 0, err
    again = json.loads(out)
    assert again["replaced"] is True and again["dashboard_id"] == dash
    assert again["widgets"] == made["widgets"]

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "Bad", "widgets": [{"type": "gauge"}]}))
    code, out, err = _run(capsys, "dashboards", "create", "-f", str(bad), "--data-dir", data_dir)
    assert code == 2
    assert "widgets.0.type" in err and "widgets.0.position" in err
