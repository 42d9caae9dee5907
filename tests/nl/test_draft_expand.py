"""The draft model from introspection (Chinook on SQLite and DuckDB) and semantic SQL expansion."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlgate.engines.base import Engine
from sqlgate.engines.duckdb import DuckDBEngine
from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.errors import SqlNotAllowed
from sqlgate.nl.draft import draft_from_schema
from sqlgate.nl.expand import expand_semantic_sql
from sqlgate.nl.semantic import SemanticModel, parse_semantic_model
from sqlgate.vocabulary.schema import DatabaseSchema, SchemaColumn, SchemaTable
from tests.contract.chinook import build_duckdb


@pytest.fixture(scope="module", params=["sqlite", "duckdb"])
def chinook(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
    chinook_engine: SQLiteEngine,
) -> Engine:  # fmt: skip
    if request.param == "sqlite":
        return chinook_engine
    path = build_duckdb(tmp_path_factory.mktemp("chinook") / "chinook.duckdb")
    return DuckDBEngine(Path(path))


def test_draft_of_chinook(chinook: Engine) -> None:
    draft = draft_from_schema(chinook.schema())
    names = {m.name.lower() for m in draft.models}
    assert {"album", "artist", "customer", "invoice", "invoiceline", "track"} <= names
    invoice = next(m for m in draft.models if m.name.lower() == "invoice")
    assert [k.lower() for k in invoice.primary_key] == ["invoiceid"]
    assert (invoice.time_column or "").lower() == "invoicedate"
    assert [
        c.lower() for c in next(m for m in draft.models if m.name.lower() == "artist").label_columns
    ] == ["name"]
    pairs = {(r.from_[0].lower(), r.to[0].lower()) for r in draft.relationships}
    assert ("track.albumid", "album.albumid") in pairs
    assert ("invoiceline.invoiceid", "invoice.invoiceid") in pairs
    assert ("customer.supportrepid", "employee.employeeid") in pairs
    assert len(draft.relationships) == 11
    # the draft is a valid model: it survives its own text form
    assert parse_semantic_model(draft.to_yaml()) == draft


def test_draft_renames_names_that_are_not_identifiers() -> None:
    schema = DatabaseSchema(
        (
            SchemaTable("main", "Order Details", "table",
                        (SchemaColumn("Unit Price", "DECIMAL", False),
                         SchemaColumn("id", "INT", False)),
                        primary_key=("id",)),
            SchemaTable("sales", "Order Details", "table", (SchemaColumn("x", "INT", True),)),
        )
    )  # fmt: skip
    draft = draft_from_schema(schema)
    first, second = draft.models
    assert (first.name, first.table) == ("Order_Details", "Order Details")
    assert first.columns[0].name == "Unit_Price" and first.columns[0].column == "Unit Price"
    assert second.name == "sales_Order_Details" and second.table_schema == "sales"
    sql = expand_semantic_sql("SELECT Unit_Price FROM Order_Details", draft, "duckdb")
    assert sql == (
        'SELECT "Order_Details"."Unit Price" AS Unit_Price FROM "Order Details" AS "Order_Details"'
    )


RENAMED = """
models:
  - name: clients
    table: customers
    primary_key: customer_id
    columns:
      - {name: customer_id}
      - {name: full_name, column: name}
      - {name: nation, column: country}
      - {name: segment}
    calculated_fields:
      - {name: is_big, expression: "segment = 'enterprise'"}
  - name: orders
    columns:
      - {name: order_id}
      - {name: customer_id}
      - {name: amount, column: total_amount}
      - {name: status}
    calculated_fields:
      - {name: net, expression: "CASE WHEN status = 'cancelled' THEN 0 ELSE amount END"}
metrics:
  - {name: revenue, model: orders, expression: sum(net)}
relationships:
  - {from: orders.customer_id, to: clients.customer_id}
"""


@pytest.fixture(scope="module")
def renamed() -> SemanticModel:
    return parse_semantic_model(RENAMED, dialect="duckdb")


def test_expansion_of_renames_calculated_fields_and_metrics(
    renamed: SemanticModel, demo_engine: DuckDBEngine
) -> None:
    semantic = (
        "SELECT c.nation, revenue FROM orders JOIN clients c ON orders.customer_id = c.customer_id "
        "WHERE c.is_big GROUP BY c.nation ORDER BY revenue DESC"
    )
    native = expand_semantic_sql(semantic, renamed, "duckdb")
    assert "customers AS c" in native and "c.country AS nation" in native
    assert (
        "SUM(CASE WHEN orders.status = 'cancelled' THEN 0 ELSE orders.total_amount END) AS revenue"
        in native
    )
    got = demo_engine.execute(native, None, timeout=30, row_limit=100).table.to_pylist()
    expected = demo_engine.execute(
        "SELECT c.country AS nation, "
        "sum(CASE WHEN o.status = 'cancelled' THEN 0 ELSE o.total_amount END) AS revenue "
        "FROM orders o JOIN customers c USING (customer_id) WHERE c.segment = 'enterprise' "
        "GROUP BY 1 ORDER BY 2 DESC", None, timeout=30, row_limit=100,
    ).table.to_pylist()  # fmt: skip
    assert got == expected and got


def test_star_lists_the_model_columns_under_their_names(renamed: SemanticModel) -> None:
    native = expand_semantic_sql("SELECT * FROM clients WHERE nation = 'France'", renamed, "duckdb")
    assert native == (
        "SELECT clients.customer_id, clients.name AS full_name, clients.country AS nation, "
        "clients.segment FROM customers AS clients WHERE clients.country = 'France'"
    )  # email and signup_date are not in the model, so * does not reach them


def test_ctes_subqueries_and_using(renamed: SemanticModel, demo_engine: DuckDBEngine) -> None:
    semantic = (
        "WITH big AS (SELECT customer_id, revenue FROM orders GROUP BY customer_id) "
        "SELECT full_name, big.revenue FROM big JOIN clients USING (customer_id) "
        "WHERE big.revenue > (SELECT avg(amount) FROM orders) ORDER BY 2 DESC LIMIT 3"
    )
    native = expand_semantic_sql(semantic, renamed, "duckdb")
    rows = demo_engine.execute(native, None, timeout=30, row_limit=10).table.to_pylist()
    assert len(rows) == 3 and set(rows[0]) == {"full_name", "revenue"}


def test_sqlite_quoting_of_chinook(
    chinook_model: SemanticModel, chinook_engine: SQLiteEngine
) -> None:
    native = expand_semantic_sql(
        "SELECT Genre.Name, sales FROM InvoiceLine "
        "JOIN Track ON InvoiceLine.TrackId = Track.TrackId "
        "JOIN Genre ON Track.GenreId = Genre.GenreId "
        "GROUP BY Genre.Name ORDER BY sales DESC LIMIT 1",
        chinook_model, "sqlite",
    )  # fmt: skip
    assert '"InvoiceLine"."UnitPrice"' in native
    rows = chinook_engine.execute(native, None, timeout=30, row_limit=5).table.to_pylist()
    assert rows[0]["Name"] == "Rock"


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("SELECT * FROM api_keys", "Unknown model: api_keys"),
        ("SELECT email FROM clients", "Unknown column: email"),
        ("SELECT c.email FROM clients c", "Unknown column c.email"),
        ("SELECT * FROM main.customers", "schema-qualified"),
        ("SELECT revenue FROM clients", "Metric revenue is defined on model orders"),
        ("SELECT customer_id FROM orders JOIN clients ON 1 = 1", "ambiguous"),
        ("DELETE FROM clients", "read-only"),
        ("SELECT * FROM read_csv('/etc/passwd')", "not allowed"),
    ],
)
def test_outside_the_model_is_refused(renamed: SemanticModel, sql: str, words: str) -> None:
    with pytest.raises(SqlNotAllowed) as info:
        expand_semantic_sql(sql, renamed, "duckdb")
    assert words in info.value.message
