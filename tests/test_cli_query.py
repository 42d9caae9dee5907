"""`sqlgate query CONNECTION SQL`: the HTTP query path at the command line, on the demo DuckDB
database and on Chinook (SQLite): a table, or csv/json/ndjson streamed through the export
writers; the guard, the limits and an audit row as the organization's operator."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import select

from sqlgate.cli import main
from sqlgate.container import Services
from sqlgate.demo import build_demo_database
from sqlgate.store.models import AuditEvent
from tests.conftest import CHINOOK_SQLITE, make_settings


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An organization with the (small) demo database as `demo` and Chinook as `chinook`."""
    path = tmp_path_factory.mktemp("cli-query")
    (path / "demo").mkdir()
    build_demo_database(path / "demo" / "demo.duckdb", scale=0.05)
    saved = os.environ.get("SQLGATE_DATA_DIR")
    try:
        assert main(["init", "--json", "--data-dir", str(path)]) == 0
        add = ["connections", "add", "chinook", "--type", "sqlite", "--database"]
        assert main([*add, str(CHINOOK_SQLITE), "--data-dir", str(path)]) == 0
        yield path
    finally:
        if saved is None:
            os.environ.pop("SQLGATE_DATA_DIR", None)
        else:
            os.environ["SQLGATE_DATA_DIR"] = saved


def run(capsys: pytest.CaptureFixture[str], data_dir: Path, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([*argv, "--data-dir", str(data_dir)])
    out, err = capsys.readouterr()
    return code, out, err


def chinook(sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{CHINOOK_SQLITE}?mode=ro", uri=True) as con:
        return list(con.execute(sql))


def demo(data_dir: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(data_dir / "demo" / "demo.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def audit_rows(data_dir: Path) -> list[AuditEvent]:
    services = Services.build(make_settings(data_dir))
    try:
        with services.store.session() as session:
            return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    finally:
        services.close()


def test_a_table_by_default(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    sql = "SELECT country, count(*) AS n FROM customers GROUP BY country ORDER BY n DESC, country"
    code, out, err = run(capsys, data_dir, "query", "demo", sql)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["country", "n"] and set(lines[1]) == {"-", " "}
    gold = demo(data_dir, sql)
    assert [line.rsplit(None, 1) for line in lines[2:-1]] == [[c, str(n)] for c, n in gold]
    assert lines[-1] == f"({len(gold)} rows)"

    # NULL is spelled out; numbers are right-aligned
    code, out, _ = run(
        capsys,
        data_dir,
        "query",
        "chinook",
        "SELECT Company, CustomerId FROM Customer WHERE CustomerId IN (1, 2)",
    )
    assert code == 0
    assert out.splitlines()[2:4] == [
        "Embraer - Empresa Brasileira de Aeronáutica S.A.           1",
        "NULL                                                       2",
    ]


def test_csv_json_and_ndjson_stream_every_row(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    sql = "SELECT TrackId, Name, UnitPrice FROM Track ORDER BY TrackId"
    gold = chinook(sql)
    assert len(gold) == 3503  # more than a table shows (its default row limit is 1000)

    code, out, err = run(capsys, data_dir, "query", "chinook", sql, "--format", "csv")
    assert code == 0 and err == ""
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["TrackId", "Name", "UnitPrice"]
    assert [(int(i), n, float(p)) for i, n, p in rows[1:]] == gold

    code, out, err = run(capsys, data_dir, "query", "chinook", sql, "--format", "json")
    assert code == 0 and err == "" and out.endswith("]\n")
    assert [tuple(r.values()) for r in json.loads(out)] == gold
    code, same, _ = run(capsys, data_dir, "query", "chinook", sql, "--json")
    assert same == out

    code, out, _ = run(
        capsys,
        data_dir,
        "query",
        "demo",
        "SELECT order_id, status FROM orders ORDER BY order_id",
        "--format",
        "ndjson",
    )
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    gold_demo = demo(data_dir, "SELECT order_id, status FROM orders ORDER BY order_id")
    assert [(r["order_id"], r["status"]) for r in lines] == gold_demo


def test_limits_say_when_they_cut(
    capsys: pytest.CaptureFixture[str], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run(
        capsys, data_dir, "query", "chinook", "SELECT * FROM Track", "--row-limit", "3"
    )
    assert code == 0 and out.splitlines()[-1] == "(3 rows)"
    assert err.startswith("warning: only the first 3 rows are shown")

    # the streamed formats stop at the export row limit, and say so
    monkeypatch.setenv("SQLGATE_EXPORT_ROW_LIMIT", "100")
    code, out, err = run(
        capsys, data_dir, "query", "demo", "SELECT * FROM range(1000000)", "--format", "csv"
    )
    assert code == 0 and len(out.splitlines()) == 101
    assert err == "warning: the result was cut at 100 rows (the export row limit)\n"

    code, out, err = run(capsys, data_dir, "query", "chinook", "SELECT 1", "--row-limit", "10001")
    assert (code, out, err) == (1, "", "error: --row-limit must be at most 10000\n")


def test_parameters_and_stdin(
    capsys: pytest.CaptureFixture[str], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(
        capsys,
        data_dir,
        "query",
        "chinook",
        "SELECT Name FROM Artist WHERE ArtistId = :id",
        "--param",
        "id=1",
    )
    assert code == 0 and out.splitlines()[2] == "AC/DC"
    code, out, _ = run(
        capsys,
        data_dir,
        "query",
        "demo",
        "SELECT $name AS who, $n + 1 AS next",
        "--param",
        "name=Ann",
        "--param",
        "n=41",
        "--format",
        "json",
    )
    assert code == 0 and json.loads(out) == [{"who": "Ann", "next": 42}]

    code, out, err = run(
        capsys, data_dir, "query", "chinook", "SELECT Name FROM Artist WHERE ArtistId = :id"
    )
    assert code == 1 and out == ""
    assert err == "error: Parameters do not match the query: missing values for id\n"

    monkeypatch.setattr("sys.stdin", io.StringIO("SELECT count(*) AS albums FROM Album\n"))
    code, out, _ = run(capsys, data_dir, "query", "chinook", "-", "--format", "csv")
    assert code == 0 and list(csv.reader(io.StringIO(out))) == [["albums"], ["347"]]


def test_a_refused_statement_is_one_error_line_and_audited(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    for connection, sql in (("chinook", "DELETE FROM Track"), ("demo", "DROP TABLE orders")):
        for fmt in ("table", "csv"):
            code, out, err = run(capsys, data_dir, "query", connection, sql, "--format", fmt)
            assert code == 1 and out == ""
            assert err.startswith("error: Only read-only queries") and err.count("\n") == 1
    assert chinook("SELECT count(*) FROM Track") == [(3503,)]
    assert demo(data_dir, "SELECT count(*) > 0 FROM orders") == [(True,)]

    rows = [r for r in audit_rows(data_dir) if r.sql == "DELETE FROM Track"]
    assert [(r.action, r.status, r.key_id, r.client) for r in rows] == [
        ("query.execute", "rejected", "cli", "cli"),
        ("query.export", "rejected", "cli", "cli"),
    ]
    assert all(r.member_id and r.member_id.startswith("mem_") for r in rows)


def test_a_run_is_audited_with_its_row_count(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    sql = "SELECT GenreId FROM Genre -- audited"
    assert run(capsys, data_dir, "query", "chinook", sql)[0] == 0
    assert run(capsys, data_dir, "query", "chinook", sql, "--format", "csv")[0] == 0
    rows = [(r.action, r.status, r.row_count) for r in audit_rows(data_dir) if r.sql == sql]
    assert rows == [("query.execute", "ok", 25), ("query.export", "ok", 25)]


def test_the_timeout_stops_the_query(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    slow = "SELECT count(*) FROM range(1000000) a, range(1000000) b"
    code, out, err = run(capsys, data_dir, "query", "demo", slow, "--timeout", "0.5")
    assert code == 1 and out == "" and err.startswith("error: ") and err.count("\n") == 1
    assert "0.5" in err or "time" in err.lower()
