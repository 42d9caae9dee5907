"""`sqlgate semantic show|draft` and `sqlgate semantic deploy`: draft out, edited model in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sqlgate.cli import main
from sqlgate.container import Services
from sqlgate.services import orgs
from tests.api.test_semantic_models import SHOP_YAML, build_shop
from tests.conftest import make_settings


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_show_the_draft_edit_it_and_deploy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = str(tmp_path / "data")
    monkeypatch.setenv("SQLGATE_DATA_DIR", data_dir)  # main() sets it; restored after
    shop = build_shop(tmp_path / "shop.sqlite")
    assert _run(capsys, "init", "--json", "--data-dir", data_dir)[0] == 0
    code, out, err = _run(
        capsys, "connections", "add", "shop", "--type", "sqlite", "--database", str(shop),
        "--data-dir", data_dir,
    )  # fmt: skip
    assert code == 0, err

    # nothing deployed: `show` prints the draft as YAML and says so
    code, out, err = _run(
        capsys, "semantic", "show", "--connection", "shop", "--data-dir", data_dir
    )
    assert code == 0, err
    assert "draft" in err
    draft = yaml.safe_load(out)
    assert {m["name"] for m in draft["models"]} == {"customers", "orders"}

    # add a synonym and deploy the file
    draft["models"][0]["synonyms"] = ["patrons"]
    model_file = tmp_path / "shop.yaml"
    model_file.write_text("# edited\n" + yaml.safe_dump(draft, sort_keys=False))
    code, out, err = _run(
        capsys, "semantic", "deploy", str(model_file), "--connection", "shop", "--json",
        "--data-dir", data_dir,
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    assert result["version"] == 1 and result["connection"] == "shop" and result["models"] == 2

    # `show` now prints exactly the deployed file; JSON on request; the draft on request
    code, out, err = _run(
        capsys, "semantic", "show", "--connection", "shop", "--data-dir", data_dir
    )
    assert code == 0 and out == model_file.read_text() and "version 1" in err
    code, out, _ = _run(
        capsys, "semantic", "show", "--connection", "shop", "--format", "json",
        "--data-dir", data_dir,
    )  # fmt: skip
    assert json.loads(out)["models"][0]["synonyms"] == ["patrons"]
    code, out, _ = _run(
        capsys, "semantic", "show", "--connection", "shop", "--draft", "--data-dir", data_dir
    )
    assert "synonyms" not in yaml.safe_load(out)["models"][0]

    # a JSON file (by extension) is the next version
    json_file = tmp_path / "model.txt.json"
    json_file.write_text(json.dumps(yaml.safe_load(SHOP_YAML)))
    code, out, err = _run(
        capsys, "semantic", "deploy", str(json_file), "--connection", "shop", "--json",
        "--data-dir", data_dir,
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["version"] == 2

    # the deployed model is what the embedded engine answers with
    services = Services.build(make_settings(Path(data_dir)))
    try:
        org = orgs.first_organization(services.store)
        assert org is not None
        conn = services.connections.get(org.id, "shop")
        answer = services.semantic.embedded_for(conn).ask("revenue by nation")
        assert answer.outcome == "sql" and answer.sql is not None and "revenue" in answer.sql
        assert [v.version for v in services.semantic.versions(org.id, conn)] == [2, 1]
    finally:
        services.close()


def test_deploy_refuses_a_bad_file_and_lists_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = str(tmp_path / "data")
    monkeypatch.setenv("SQLGATE_DATA_DIR", data_dir)
    shop = build_shop(tmp_path / "shop.sqlite")
    assert _run(capsys, "init", "--json", "--data-dir", data_dir)[0] == 0
    assert _run(
        capsys, "connections", "add", "shop", "--type", "sqlite", "--database", str(shop),
        "--data-dir", data_dir,
    )[0] == 0  # fmt: skip
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "models:\n  - name: customers\n    columns: [{name: id}, {name: nation}, {name: city}]\n"
    )
    code, out, err = _run(
        capsys, "semantic", "deploy", str(bad), "--connection", "shop", "--data-dir", data_dir
    )
    assert code == 1 and out == ""
    assert "models[0].columns[1].name: unknown column 'nation'" in err
    assert "models[0].columns[2].name: unknown column 'city'" in err
    code, out, err = _run(
        capsys, "semantic", "deploy", str(tmp_path / "missing.yaml"), "--connection", "shop",
        "--data-dir", data_dir,
    )  # fmt: skip
    assert code == 1 and "Cannot read" in err
    code, out, err = _run(
        capsys, "semantic", "deploy", str(bad), "--connection", "nope", "--data-dir", data_dir
    )
    assert code == 1 and "not found" in err
    # nothing was deployed
    code, out, err = _run(
        capsys, "semantic", "show", "--connection", "shop", "--data-dir", data_dir
    )
    assert code == 0 and "draft" in err
    code, out, err = _run(
        capsys, "semantic", "show", "--connection", "shop", "--version", "1",
        "--data-dir", data_dir,
    )  # fmt: skip
    assert code == 1 and "no semantic model version 1" in err


def test_draft_writes_an_editable_file_that_deploys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = str(tmp_path / "data")
    monkeypatch.setenv("SQLGATE_DATA_DIR", data_dir)
    shop = build_shop(tmp_path / "shop.sqlite")
    assert _run(capsys, "init", "--json", "--data-dir", data_dir)[0] == 0
    code, out, err = _run(
        capsys, "connections", "add", "shop", "--type", "sqlite", "--database", str(shop),
        "--data-dir", data_dir,
    )  # fmt: skip
    assert code == 0, err
    target = tmp_path / "shop.yaml"
    code, out, err = _run(
        capsys, "semantic", "draft", "--connection", "shop", "-o", str(target),
        "--data-dir", data_dir,
    )  # fmt: skip
    assert code == 0, err
    assert out == "" and str(target) in err
    text = target.read_text()
    assert text.startswith("# Semantic model draft for connection 'shop'")
    assert "sqlgate semantic deploy FILE --connection shop" in text
    assert {m["name"] for m in yaml.safe_load(text)["models"]} == {"customers", "orders"}

    # an existing file is kept unless --force
    code, out, err = _run(
        capsys, "semantic", "draft", "--connection", "shop", "-o", str(target),
        "--data-dir", data_dir,
    )  # fmt: skip
    assert code == 1 and "--force" in err

    # without -o it prints; the edited file deploys as it is
    code, out, err = _run(
        capsys, "semantic", "draft", "--connection", "shop", "--data-dir", data_dir
    )
    assert code == 0 and out == text
    code, out, err = _run(
        capsys, "semantic", "deploy", str(target), "--connection", "shop", "--data-dir", data_dir
    )
    assert code == 0, err
