"""Schema retrieval on small hand-made catalogs and on a real introspected SQLite file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.nl.retrieval import SchemaIndex, render_table
from sqlgate.nl.tokens import estimate_tokens
from sqlgate.vocabulary.schema import DatabaseSchema, ForeignKey, SchemaColumn, SchemaTable
from tests.conftest import CHINOOK_SQLITE


def table(
    name: str,
    *columns: str,
    key: tuple[str, ...] = (),
    refs: tuple[tuple[str, str, str], ...] = (),
    schema: str | None = None,
    comment: str | None = None,
) -> SchemaTable:
    """A table; ``refs`` are (column, referenced table, referenced column)."""
    return SchemaTable(
        schema=schema,
        name=name,
        kind="table",
        columns=tuple(
            SchemaColumn(c, "INTEGER" if c.endswith("id") else "TEXT", True) for c in columns
        ),
        primary_key=key,
        foreign_keys=tuple(ForeignKey((c,), None, t, (tc,)) for c, t, tc in refs),
        comment=comment,
    )


def catalog(*tables: SchemaTable) -> DatabaseSchema:
    return DatabaseSchema(tables=tables)


def names(schema: DatabaseSchema, question: str, **kwargs: int) -> list[str]:
    return SchemaIndex(schema).retrieve(question, **kwargs).names


DISTRACTORS = tuple(
    table(f"{topic}_log", "id", f"{topic}_code", "created_at", key=("id",))
    for topic in ("weather", "inventory", "payroll", "shipping", "audit", "ticket", "campaign")
)


# --- matching --------------------------------------------------------------------------------


def test_camel_case_and_snake_case_names_match_plain_words() -> None:
    schema = catalog(
        table("OrderLineItems", "LineItemId", "UnitPrice", "Quantity", key=("LineItemId",)),
        table("customer_accounts", "account_id", "opened_on", key=("account_id",)),
        table("HTTPRequestLog", "requestID", "statusCode"),
        *DISTRACTORS,
    )
    assert names(schema, "What is the unit price of each order line item?")[0] == "OrderLineItems"
    assert names(schema, "When was each customer account opened?")[0] == "customer_accounts"
    assert names(schema, "How many http requests had status code 500?")[0] == "HTTPRequestLog"
    # A camelCase or snake_case word in the question is split the same way.
    assert names(schema, "list customerAccounts")[0] == "customer_accounts"
    assert names(schema, "sum of unit_price")[0] == "OrderLineItems"


def test_plurals_spelling_variants_and_joined_words_match() -> None:
    schema = catalog(
        table("countries", "country_id", "name", key=("country_id",)),
        table("student_enrolment", "student_id", "term"),
        table("Highschooler", "ID", "name", "grade", key=("ID",)),
        *DISTRACTORS,
    )
    assert names(schema, "Which country is largest?")[0] == "countries"
    assert names(schema, "How many enrollments per term?")[0] == "student_enrolment"
    assert names(schema, "How many high schoolers are there?")[0] == "Highschooler"


def test_table_and_column_comments_and_aliases_are_searched() -> None:
    schema = catalog(
        table("t_cst", "id", "nm", comment="People who buy from us"),
        table("t_ord", "id", "amt", "ts"),
        *DISTRACTORS,
    )
    assert names(schema, "Which people buy the most?")[0] == "t_cst"
    index = SchemaIndex(schema, aliases={"t_ord": ["sales", "orders"], "t_ord.amt": ["revenue"]})
    result = index.retrieve("total revenue of sales")
    assert result.names[0] == "t_ord"
    assert result.tables[0].matched_columns == ("amt",)


def test_one_candidate_per_subject_area_for_an_ambiguous_question() -> None:
    # Three subject areas each have a `players` table; the question fits all of them.
    areas = [
        (area, table(f"{area}__players", "player_id", "name", key=("player_id",)))
        for area in ("tennis", "chess", "golf")
    ]
    extras = [
        table(
            f"{area}__{t}",
            f"{t}_id",
            "player_id",
            refs=(("player_id", f"{area}__players", "player_id"),),
        )
        for area, _ in areas
        for t in ("matches", "rankings", "coaches", "sponsors")
    ]
    schema = catalog(*(t for _, t in areas), *extras, *DISTRACTORS)
    found = names(schema, "How many players are there?", max_tables=4)
    assert {"tennis__players", "chess__players", "golf__players"} <= set(found)


# --- relationships ---------------------------------------------------------------------------


def test_a_join_path_between_two_retrieved_tables_brings_the_bridge_table() -> None:
    schema = catalog(
        table("person", "pid", "full_name", key=("pid",)),
        table(
            "ledger",
            "entry",
            "who",
            "what",
            refs=(("who", "person", "pid"), ("what", "class", "cid")),
        ),
        table("class", "cid", "title", key=("cid",)),
        *DISTRACTORS,
    )
    result = SchemaIndex(schema).retrieve("Show each person with the title of their class")
    by_name = {t.table.name: t for t in result.tables}
    assert {"person", "class", "ledger"} <= by_name.keys()
    assert by_name["ledger"].reason == "bridge"
    assert by_name["person"].reason == "match"
    assert "REFERENCES person(pid)" in result.text


def test_bridges_across_schemas_use_qualified_names() -> None:
    schema = catalog(
        table("customers", "id", "name", key=("id",), schema="crm"),
        table(
            "invoice_links",
            "customer_id",
            "invoice_id",
            schema="billing",
            refs=(("customer_id", "customers", "id"), ("invoice_id", "invoices", "id")),
        ),
        table("invoices", "id", "total", key=("id",), schema="billing"),
    )
    # The link table's references carry no schema: they resolve to the referencing table's
    # schema first, then to any schema.
    result = SchemaIndex(schema).retrieve("customers and their invoices")
    assert set(result.names) == {"crm.customers", "billing.invoices", "billing.invoice_links"}
    assert "CREATE TABLE crm.customers (" in result.text


def test_an_introspected_chinook_schema(tmp_path: Path) -> None:
    if not CHINOOK_SQLITE.is_file():
        pytest.skip(f"Chinook missing at {CHINOOK_SQLITE}")
    path = tmp_path / "chinook.sqlite"
    path.write_bytes(CHINOOK_SQLITE.read_bytes())
    engine = SQLiteEngine(path)
    try:
        schema = engine.schema()
    finally:
        engine.close()
    index = SchemaIndex(schema)

    result = index.retrieve("Which artists have the most tracks?", max_tables=4)
    # Artist and Track are joined through Album, which the question does not name.
    assert {"Artist", "Track", "Album"} <= set(result.names)
    assert next(t for t in result.tables if t.table.name == "Album").reason == "bridge"
    assert result.names.index("Artist") < result.names.index("Album")

    result = index.retrieve("total invoice amount per billing country")
    assert result.names[0] == "Invoice"
    assert "BillingCountry" in result.tables[0].matched_columns


# --- budget and rendering --------------------------------------------------------------------


def wide_catalog() -> DatabaseSchema:
    """Six tables of 40 columns each about sales, joined in a chain."""
    tables = []
    for n in range(6):
        columns = [f"sale{n}_id", *(f"m{n}_{c}" for c in range(40))]
        refs = ((f"sale{n - 1}_id", f"sales_part_{n - 1}", f"sale{n - 1}_id"),) if n else ()
        if n:
            columns.append(f"sale{n - 1}_id")
        tables.append(table(f"sales_part_{n}", *columns, key=(f"sale{n}_id",), refs=refs))
    return catalog(*tables, *DISTRACTORS)


@pytest.mark.parametrize("budget", [50, 120, 300, 800, 5000])
def test_the_schema_text_fits_the_token_budget(budget: int) -> None:
    result = SchemaIndex(wide_catalog()).retrieve("every sale", token_budget=budget)
    assert len(result.tables) == 6
    assert result.tokens == estimate_tokens(result.text) <= budget
    full = sum(estimate_tokens(render_table(t.table)) for t in result.tables)
    if budget >= full + len(result.tables):
        assert not result.shortened and not result.omitted
    else:
        assert result.shortened
    # Whatever is left out goes from the bottom of the ranking: the text keeps a prefix of it.
    kept = [t.table.name for t in result.tables if t.table.name not in result.omitted]
    assert kept == [t.table.name for t in result.tables][: len(kept)]
    for name in kept:
        assert f"CREATE TABLE {name} (" in result.text


def test_shortened_tables_keep_keys_and_matched_columns() -> None:
    result = SchemaIndex(wide_catalog()).retrieve("every sale", token_budget=800)
    assert result.shortened and not result.omitted
    assert "more columns" in result.text
    for block in result.text.split("\n\n"):
        assert "PRIMARY KEY" in block
        if not block.startswith("CREATE TABLE sales_part_0 "):
            assert "FOREIGN KEY" in block


def test_rendering_quotes_what_needs_quoting_and_shows_keys_and_comments() -> None:
    schema = catalog(
        SchemaTable(
            schema=None,
            name="order",
            kind="table",
            columns=(
                SchemaColumn("Home Town", "TEXT", True, comment="where they\nlive"),
                SchemaColumn("line", "INTEGER", False),
                SchemaColumn("shop_id", "INTEGER", False),
            ),
            primary_key=("Home Town", "line"),
            foreign_keys=(ForeignKey(("shop_id",), None, "shop", ("id",)),),
            comment="Orders placed",
        ),
        table("shop", "id", "name", key=("id",)),
    )
    text = SchemaIndex(schema).retrieve("home town of every order", max_tables=1).text
    assert text == (
        "-- Orders placed\n"
        'CREATE TABLE "order" (\n'
        '  "Home Town" TEXT, -- where they live\n'
        "  line INTEGER NOT NULL,\n"
        "  shop_id INTEGER NOT NULL,\n"
        '  PRIMARY KEY ("Home Town", line),\n'
        "  FOREIGN KEY (shop_id) REFERENCES shop(id)\n"
        ");"
    )


# --- questions that match nothing --------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "",
        "   ",
        "?!%$#@",
        "the of and what is",
        "12345 67",
        "zxqv blorf",
        "DROP TABLE;--",
        "é ü 中文",
    ],
)
def test_empty_or_garbage_questions_retrieve_nothing(question: str) -> None:
    result = SchemaIndex(wide_catalog()).retrieve(question)
    assert result.tables == ()
    assert result.text == ""
    assert result.tokens == 0


def test_an_empty_catalog_and_zero_tables() -> None:
    assert SchemaIndex(catalog()).retrieve("sales").tables == ()
    assert SchemaIndex(wide_catalog()).retrieve("sales", max_tables=0).tables == ()


def test_a_huge_question_stays_fast() -> None:
    index = SchemaIndex(wide_catalog())
    question = "sales metric " * 5000 + " ".join(f"word{n}" for n in range(5000))
    started = time.perf_counter()
    result = index.retrieve(question)
    assert time.perf_counter() - started < 1.0
    assert result.names[0].startswith("sales_part_")
