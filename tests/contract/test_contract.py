"""The same assertions on every engine, through the HTTP API, against Chinook.

Queries are written once with Chinook's PascalCase names (`backend.sql` renames them for
PostgreSQL) and their answers come from the shipped SQLite file, read directly.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import time
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest

from tests.contract.chinook import chinook_tables
from tests.contract.conftest import Backend

Row = list[Any]


def expect(ref: sqlite3.Connection, query: str, params: dict[str, Any] | None = None) -> list[Row]:
    return [list(row) for row in ref.execute(query, params or {})]


_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_DATETIME = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?")


def canon(value: Any) -> Any:
    """One spelling per value, whatever the format or engine said: numbers as rounded floats
    (SQLite keeps NUMERIC(10,2) as REAL), timestamps as ISO text (SQLite keeps them as text,
    CSV writes them as text)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | Decimal):
        return round(float(value), 6)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return round(float(value), 6)
    if isinstance(value, str) and _DATETIME.fullmatch(value):
        return datetime.fromisoformat(value).isoformat()
    return value


def canon_rows(rows: list[Row]) -> list[Row]:
    return [[canon(v) for v in row] for row in rows]


# --- query: answers, ordering, NULLs ----------------------------------------------------------


@pytest.mark.parametrize("table", ["Track", "Album", "Artist", "Invoice", "Customer"])
def test_counts(backend: Backend, ref: sqlite3.Connection, table: str) -> None:
    query = f"SELECT count(*) AS n FROM {table}"
    assert backend.run(query)["rows"] == expect(ref, query)


def test_join_aggregate_and_ordering(backend: Backend, ref: sqlite3.Connection) -> None:
    query = (
        "SELECT g.Name, count(*) AS n FROM Track t JOIN Genre g ON g.GenreId = t.GenreId "
        "GROUP BY g.GenreId, g.Name ORDER BY n DESC, g.GenreId"
    )
    data = backend.run(query)
    assert data["rows"] == expect(ref, query)
    assert data["rows"][0] == ["Rock", 1297]
    assert [c["name"] for c in data["columns"]] == [backend.name("Name"), "n"]
    by_artist = (
        "SELECT ar.Name, count(*) AS albums FROM Artist ar JOIN Album al "
        "ON al.ArtistId = ar.ArtistId GROUP BY ar.ArtistId, ar.Name "
        "ORDER BY albums DESC, ar.ArtistId LIMIT 5"
    )
    assert backend.run(by_artist)["rows"] == expect(ref, by_artist)


def test_sum_of_decimals(backend: Backend, ref: sqlite3.Connection) -> None:
    query = "SELECT sum(Total) AS total FROM Invoice"
    data = backend.run(query)
    [[total]] = data["rows"]
    [[expected]] = expect(ref, query)
    # A sum of DECIMAL(10,2) is a JSON number on every engine, whatever its declared precision.
    assert isinstance(total, float), f"{backend.kind}: {total!r} ({data['columns'][0]['type']})"
    assert round(total, 2) == round(expected, 2) == 2328.60


def test_nulls(backend: Backend, ref: sqlite3.Connection) -> None:
    counts = (
        "SELECT count(*) AS n, count(Company) AS with_company, "
        "sum(CASE WHEN Company IS NULL THEN 1 ELSE 0 END) AS without_company FROM Customer"
    )
    got = backend.run(counts)["rows"]
    assert got == expect(ref, counts)
    assert 0 < got[0][2] < got[0][0]
    missing = "SELECT CustomerId, Company FROM Customer WHERE Company IS NULL ORDER BY CustomerId"
    rows = backend.run(missing)["rows"]
    assert rows == expect(ref, missing)
    assert {company for _, company in rows} == {None}
    filled = (
        "SELECT CustomerId, COALESCE(Company, 'none') AS company FROM Customer "
        "ORDER BY CustomerId LIMIT 10"
    )
    assert backend.run(filled)["rows"] == expect(ref, filled)


# --- parameters -------------------------------------------------------------------------------


def test_named_parameters(backend: Backend, ref: sqlite3.Connection) -> None:
    p = backend.param
    by_id = backend.run(f"SELECT Name FROM Track WHERE TrackId = {p('id')}", params={"id": 2})
    assert by_id["rows"] == expect(ref, "SELECT Name FROM Track WHERE TrackId = :id", {"id": 2})
    by_name = f"SELECT ArtistId FROM Artist WHERE Name = {p('name')}"
    quoted = {"name": "Guns N' Roses"}
    rows = backend.run(by_name, params=quoted)["rows"]
    assert rows == expect(ref, "SELECT ArtistId FROM Artist WHERE Name = :name", quoted)
    assert len(rows) == 1
    injected = backend.run(by_name, params={"name": "x' OR '1'='1"})
    assert injected["rows"] == []


# --- truncation and timeouts ------------------------------------------------------------------


def test_row_limit_truncates(backend: Backend, ref: sqlite3.Connection) -> None:
    query = "SELECT TrackId, Name FROM Track ORDER BY TrackId"
    data = backend.run(query, row_limit=7)
    assert data["truncated"] is True
    assert data["row_count"] == len(data["rows"]) == 7
    assert data["rows"] == expect(ref, query)[:7]
    genres = "SELECT GenreId FROM Genre"
    [[n]] = expect(ref, "SELECT count(*) FROM Genre")
    exact = backend.run(genres, row_limit=n)
    assert (exact["row_count"], exact["truncated"]) == (n, False)


SLOW = (
    "SELECT count(*) AS n FROM Track a CROSS JOIN Track b CROSS JOIN Track c "
    "WHERE a.Milliseconds + b.Milliseconds > c.Milliseconds"
)


def test_timeout_stops_the_query(backend: Backend, ref: sqlite3.Connection) -> None:
    started = time.monotonic()
    response = backend.post("", SLOW, timeout=1)
    elapsed = time.monotonic() - started
    assert response.status_code == 504, response.text
    assert response.json()["error"]["code"] == "timeout"
    assert elapsed < 2.0, f"{backend.kind}: answered after {elapsed:.2f} s"
    started = time.monotonic()
    after = backend.run("SELECT count(*) AS n FROM Genre")
    assert time.monotonic() - started < 1.0
    assert after["rows"] == expect(ref, "SELECT count(*) AS n FROM Genre")


# --- types and notNull ------------------------------------------------------------------------

TYPED = (
    "SELECT t.TrackId, t.Name, t.Composer, t.UnitPrice, i.InvoiceDate "
    "FROM Track t JOIN InvoiceLine il ON il.TrackId = t.TrackId "
    "JOIN Invoice i ON i.InvoiceId = il.InvoiceId ORDER BY il.InvoiceLineId LIMIT 1"
)
# Per engine: integer, text, text, decimal(10,2), timestamp. SQLite reports the types of the
# values it holds: NUMERIC columns hold REAL and DATETIME columns hold text.
EXPECTED_TYPES = {
    "duckdb": ["INTEGER", "VARCHAR", "VARCHAR", r"DECIMAL\(10,2\)", "TIMESTAMP"],
    "sqlite": ["BIGINT", "VARCHAR", "VARCHAR", "DOUBLE", "VARCHAR"],
    "postgresql": [
        "integer",
        r"character varying\(200\)",
        r"character varying\(220\)",
        r"numeric\(10,2\)",
        "timestamp without time zone",
    ],
    "mysql": ["INT", "VARCHAR", "VARCHAR", r"DECIMAL\(10,2\)", "DATETIME"],
}


def test_types_and_not_null(backend: Backend, ref: sqlite3.Connection) -> None:
    response = backend.post("", TYPED)
    assert response.status_code == 200, response.text
    data = response.json()
    names = ["TrackId", "Name", "Composer", "UnitPrice", "InvoiceDate"]
    assert [c["name"] for c in data["columns"]] == [backend.name(n) for n in names]
    types = [c["type"] for c in data["columns"]]
    for got, pattern in zip(types, EXPECTED_TYPES[backend.kind], strict=True):
        assert re.fullmatch(pattern, got, re.IGNORECASE), f"{backend.kind}: {types}"
    # Inner joins keep each column's NOT NULL from the schema; Composer is nullable.
    assert [c["notNull"] for c in data["columns"]] == [True, True, False, True, True]
    assert canon_rows(data["rows"]) == canon_rows(expect(ref, TYPED))
    assert data["rows"][0][3] == 0.99
    assert re.search(rb",\s*0\.99\s*,", response.content)


# --- schema introspection ---------------------------------------------------------------------


def test_schema_lists_tables_keys_and_columns(backend: Backend) -> None:
    response = backend.client.get(
        f"/v1/connections/{backend.connection}/schema", headers=backend.headers
    )
    assert response.status_code == 200, response.text
    default = response.json()["data"]["schemas"][0]
    tables = {t["name"]: t for t in default["tables"]}
    expected = chinook_tables()
    assert set(tables) == {backend.name(t.name) for t in expected}
    for table in expected:
        got = tables[backend.name(table.name)]
        assert got["kind"] == "table"
        columns = [(c["name"], c["nullable"]) for c in got["columns"]]
        assert columns == [(backend.name(c.name), not c.not_null) for c in table.columns]
        assert got["primary_key"] == [backend.name(c) for c in table.primary_key]
        keys = {
            (tuple(fk["columns"]), fk["references_table"], tuple(fk["references_columns"]))
            for fk in got["foreign_keys"]
        }
        assert keys == {
            (
                tuple(backend.name(c) for c in fk.columns),
                backend.name(fk.references_table),
                tuple(backend.name(c) for c in fk.references_columns),
            )
            for fk in table.foreign_keys
        }, f"{table.name}: {got['foreign_keys']}"
    album = tables[backend.name("Album")]
    assert album["primary_key"] == [backend.name("AlbumId")]
    [artist_fk] = album["foreign_keys"]
    assert artist_fk["references_table"] == backend.name("Artist")


# --- validate ---------------------------------------------------------------------------------


def test_validate_warns_about_unknown_tables(backend: Backend) -> None:
    response = backend.post("/validate", "SELECT Name FROM Trak")
    assert response.status_code == 200
    body = response.json()
    assert body["is_valid"] is True
    assert "trak" in (body["warning"] or "").lower()
    known = backend.post("/validate", "SELECT t.Name FROM Track t").json()
    assert (known["is_valid"], known["warning"]) == (True, None)
    assert known["tables"] == [backend.name("Track")]


def test_validate_refuses_writes(backend: Backend) -> None:
    response = backend.post("/validate", "DELETE FROM Track WHERE TrackId = 1")
    assert response.status_code == 200
    body = response.json()
    assert body["is_valid"] is False
    assert body["query_type"] == "delete"
    assert body["error"]


# --- export -----------------------------------------------------------------------------------

EXPORTED = (
    "SELECT il.InvoiceLineId, t.Name, t.Composer, il.UnitPrice, il.Quantity, i.InvoiceDate, "
    "c.Company FROM InvoiceLine il JOIN Track t ON t.TrackId = il.TrackId "
    "JOIN Invoice i ON i.InvoiceId = il.InvoiceId JOIN Customer c ON c.CustomerId = i.CustomerId "
    "WHERE il.InvoiceId <= 60 ORDER BY il.InvoiceLineId"
)
EXPORTED_COLUMNS = [
    "InvoiceLineId",
    "Name",
    "Composer",
    "UnitPrice",
    "Quantity",
    "InvoiceDate",
    "Company",
]


def _parse(fmt: str, body: bytes) -> tuple[list[str], list[Row]]:
    """Header and rows of an exported file."""
    if fmt == "csv":
        header, *rows = csv.reader(io.StringIO(body.decode()))
        return header, [[None if v == "" else v for v in row] for row in rows]
    if fmt in ("json", "ndjson"):
        records = json.loads(body) if fmt == "json" else [json.loads(x) for x in body.splitlines()]
        return list(records[0]), [list(r.values()) for r in records]
    if fmt == "excel":
        sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True).active
        header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        return [str(h) for h in header], rows
    table = pq.read_table(io.BytesIO(body))
    return table.column_names, [list(r.values()) for r in table.to_pylist()]


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson", "excel", "parquet"])
def test_export_gives_the_same_rows(backend: Backend, ref: sqlite3.Connection, fmt: str) -> None:
    response = backend.post(f"/export?format={fmt}", EXPORTED)
    assert response.status_code == 200, response.text
    header, rows = _parse(fmt, response.content)
    assert header == [backend.name(c) for c in EXPORTED_COLUMNS]
    expected = canon_rows(expect(ref, EXPORTED))
    assert len(rows) == len(expected) > 100
    assert canon_rows(rows) == expected
    assert any(r[2] is None for r in rows) and any(r[6] is None for r in rows)


# --- forbidden SQL ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "DELETE FROM Track",
        "UPDATE Track SET Name = 'x'",
        "DROP TABLE Track",
        "SELECT 1; DELETE FROM Track",
        "SELECT count(*) FROM Track; DROP TABLE Track",
    ],
)
def test_forbidden_sql_is_refused(backend: Backend, ref: sqlite3.Connection, query: str) -> None:
    for route in ("", "/export?format=csv"):
        response = backend.post(route, query)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "sql_not_allowed"
    check = "SELECT count(*) AS n, max(TrackId) AS top, sum(Milliseconds) AS ms FROM Track"
    assert backend.run(check)["rows"] == expect(ref, check)
