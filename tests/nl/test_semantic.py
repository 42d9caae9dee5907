"""Semantic models: YAML and JSON, every reference checked, errors that name the bad field."""

from __future__ import annotations

import json

import pytest

from sqlgate.errors import ValidationError
from sqlgate.nl.semantic import parse_semantic_model, semantic_model_from_data

BASE = """
version: 1
models:
  - name: clients
    table: customers
    synonyms: [buyers]
    primary_key: customer_id
    columns:
      - {name: customer_id}
      - {name: nation, column: country}
    calculated_fields:
      - {name: shouty_nation, expression: upper(nation)}
  - name: orders
    time_column: order_date
    columns:
      - {name: order_id}
      - {name: customer_id}
      - {name: order_date}
      - {name: total_amount}
metrics:
  - {name: revenue, model: orders, expression: sum(total_amount), synonyms: [sales]}
relationships:
  - {from: orders.customer_id, to: clients.customer_id, type: many_to_one}
instructions:
  - Revenue includes cancelled orders.
examples:
  - question: Revenue per nation?
    sql: SELECT nation, revenue FROM orders JOIN clients USING (customer_id) GROUP BY 1
"""


def test_yaml_and_json_give_the_same_model() -> None:
    model = parse_semantic_model(BASE)
    assert [m.name for m in model.models] == ["clients", "orders"]
    assert model.models[0].physical == "customers"
    assert model.models[0].columns[1].physical == "country"
    assert model.metrics[0].synonyms == ["sales"]
    assert model.relationships[0].from_ == ["orders.customer_id"]
    assert model.instructions == ["Revenue includes cancelled orders."]
    again = parse_semantic_model(model.to_json())
    assert again == model
    assert parse_semantic_model(model.to_yaml()) == model
    assert json.loads(model.to_json())["relationships"][0]["from"] == ["orders.customer_id"]


def _error(text: str) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        parse_semantic_model(text)
    return info.value


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (("{name: nation, column: country}", "{name: nation, colour: red}"),
         "models[0].columns[1].colour", "unknown field"),
        (("name: clients", "name: 2clients"), "models[0].name", "plain name"),
        (("model: orders, expression", "model: invoices, expression"),
         "metrics[0].model", "unknown model 'invoices'"),
        (("to: clients.customer_id", "to: clients.client_no"),
         "relationships[0].to", "unknown column 'client_no' in model clients"),
        (("to: clients.customer_id", "to: shops.id"),
         "relationships[0].to", "unknown model 'shops'"),
        (("expression: sum(total_amount)", "expression: sum(discount)"),
         "metrics[0].expression", "unknown field 'discount'"),
        (("expression: upper(nation)", "expression: sum(nation)"),
         "models[0].calculated_fields[0].expression", "no aggregate"),
        (("expression: upper(nation)", "expression: (SELECT pw FROM users)"),
         "models[0].calculated_fields[0].expression", "may not contain queries"),
        (("expression: upper(nation)", "expression: shouty_nation || 'x'"),
         "models[0].calculated_fields[0].expression", "refers to itself"),
        (("time_column: order_date", "time_column: shipped_at"),
         "models[1].time_column", "unknown column 'shipped_at'"),
        (("primary_key: customer_id", "primary_key: [customer_id, id]"),
         "models[0].primary_key[1]", "unknown column 'id'"),
        (("type: many_to_one", "type: sideways"), "relationships[0].type", "many_to_one"),
        (("expression: sum(total_amount)", "expression: sum(total_amount"),
         "metrics[0].expression", "does not parse"),
    ],
)  # fmt: skip
def test_errors_name_the_bad_field(change: tuple[str, str], path: str, words: str) -> None:
    old, new = change
    assert old in BASE
    error = _error(BASE.replace(old, new, 1))
    assert error.status == 422
    assert error.details["path"] == path
    assert words in error.message
    assert any(e["path"] == path for e in error.details["errors"])


def test_duplicates_and_every_problem_listed() -> None:
    text = BASE.replace("  - name: orders", "  - name: CLIENTS").replace(
        "{name: order_date}", "{name: order_id}"
    )
    error = _error(text)
    paths = [e["path"] for e in error.details["errors"]]
    assert "models[1].name" in paths
    assert "models[1].columns[2].name" in paths
    assert "more problems" in error.message


def test_malformed_documents_report_where() -> None:
    error = _error("models:\n  - name: a\n    columns: [\n")
    assert error.details["path"] == ""
    assert error.details["line"] >= 3
    error = _error('{"models": [}')
    assert "not valid JSON" in error.message
    assert error.details["line"] == 1
    error = _error("- just\n- a list\n")
    assert "mapping" in error.message


def test_yaml_aliases_are_refused() -> None:
    bomb = "a: &a [x, x, x]\nb: [*a, *a, *a]\n"
    error = _error(bomb)
    assert "aliases" in error.message


def test_yaml_tags_never_build_objects() -> None:
    error = _error("models: !!python/object/apply:os.system ['true']\n")
    assert error.status == 422


def test_data_from_a_request_body() -> None:
    model = semantic_model_from_data(
        {"models": [{"name": "t", "columns": [{"name": "a"}]}], "metrics": []}
    )
    assert model.models[0].name == "t"
    with pytest.raises(ValidationError) as info:
        semantic_model_from_data({"models": "nope"})
    assert info.value.details["path"] == "models"
