"""The semantic model seen as a schema: what an LLM prompt shows and what the SQL may read.

The LLM pipeline never shows the model the connection's raw catalog. It shows the semantic
model: each model is a table under its semantic name, with its (possibly renamed) columns, its
calculated fields and the metrics based on it as extra columns whose comments give their
expressions, and relationships as foreign keys. Schema retrieval
(:class:`~sqlgate.nl.retrieval.SchemaIndex`) runs over this view, with the model's synonyms as
aliases, so a question's words find models by the names and synonyms users gave them.

Types and nullability come from introspection (the physical columns'); tables the semantic model
does not list are not in the view at all, so they are neither retrievable nor readable
(:func:`allowed_physical_tables` is what the generated native SQL may name).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlgate.nl.draft import with_schema_types
from sqlgate.nl.semantic import CalculatedField, Column, Model, SemanticIndex, SemanticModel
from sqlgate.vocabulary.schema import DatabaseSchema, ForeignKey, SchemaColumn, SchemaTable

METRIC_TYPE = "METRIC"
#: Shown as the type of a calculated field that declares none, and of untyped columns.
CALCULATED_TYPE = "CALCULATED"
UNKNOWN_TYPE = "ANY"


def semantic_schema(model: SemanticModel, native: DatabaseSchema | None = None) -> DatabaseSchema:
    """The semantic model as a :class:`DatabaseSchema` of its models (see the module doc)."""
    if native is not None:
        model = with_schema_types(model, native)
    nullable = _nullability(native)
    index = SemanticIndex(model)
    metrics: dict[str, list[SchemaColumn]] = {}
    for metric in model.metrics:
        note = f"metric = {metric.expression}"
        if metric.description:
            note += f"; {metric.description}"
        metrics.setdefault(metric.model.lower(), []).append(
            SchemaColumn(metric.name, METRIC_TYPE, True, note)
        )
    keys: dict[str, list[ForeignKey]] = {m.name.lower(): [] for m in model.models}
    for rel in model.relationships:
        left, left_columns = _refs(rel.from_)
        right, right_columns = _refs(rel.to)
        if rel.type == "one_to_many":  # the foreign key sits on the "many" side
            left, left_columns, right, right_columns = right, right_columns, left, left_columns
        target = index.get_model(right)
        if left.lower() not in keys or target is None:
            continue
        keys[left.lower()].append(
            ForeignKey(left_columns, None, target.name, right_columns, name=rel.name)
        )
    tables = []
    for m in model.models:
        physical_nulls = nullable.get(_physical_key(m), {})
        columns = [
            SchemaColumn(
                c.name,
                c.type or UNKNOWN_TYPE,
                physical_nulls.get(c.physical.lower(), True),
                c.description,
            )
            for c in m.columns
        ]
        for calc in m.calculated_fields:
            note = f"calculated = {calc.expression}"
            if calc.description:
                note += f"; {calc.description}"
            columns.append(SchemaColumn(calc.name, calc.type or CALCULATED_TYPE, True, note))
        columns.extend(metrics.get(m.name.lower(), []))
        tables.append(
            SchemaTable(
                schema=None,
                name=m.name,
                kind="table",
                columns=tuple(columns),
                primary_key=tuple(m.primary_key),
                foreign_keys=tuple(keys[m.name.lower()]),
                comment=_model_comment(m),
            )
        )
    return DatabaseSchema(tables=tuple(tables))


def retrieval_aliases(model: SemanticModel) -> dict[str, list[str]]:
    """Synonyms of models and fields, for :class:`~sqlgate.nl.retrieval.SchemaIndex`."""
    aliases: dict[str, list[str]] = {}
    for m in model.models:
        if m.synonyms:
            aliases[m.name] = list(m.synonyms)
        fields: list[Column | CalculatedField] = [*m.columns, *m.calculated_fields]
        for field in fields:
            if field.synonyms:
                aliases[f"{m.name}.{field.name}"] = list(field.synonyms)
    for metric in model.metrics:
        if metric.synonyms:
            aliases[f"{metric.model}.{metric.name}"] = list(metric.synonyms)
    return aliases


def allowed_physical_tables(model: SemanticModel) -> frozenset[str]:
    """Lower-case names (bare, and schema-qualified where a model has a schema) of the physical
    tables native SQL expanded from the model may read."""
    names: set[str] = set()
    for m in model.models:
        if m.table_schema:
            names.add(f"{m.table_schema}.{m.physical}".lower())
        else:
            names.add(m.physical.lower())
    return frozenset(names)


def is_renaming(model: SemanticModel) -> bool:
    """True when semantic SQL differs from native SQL: renamed or schema-qualified models,
    renamed columns, calculated fields or metrics."""
    if model.metrics:
        return True
    for m in model.models:
        if m.table_schema or m.physical != m.name or m.calculated_fields:
            return True
        if any(c.physical != c.name for c in m.columns):
            return True
    return False


def _model_comment(m: Model) -> str | None:
    parts = []
    if m.description:
        parts.append(m.description)
    if m.time_column:
        parts.append(f"time column: {m.time_column}")
    return "; ".join(parts) or None


def _refs(refs: Iterable[str]) -> tuple[str, tuple[str, ...]]:
    items = list(refs)
    return items[0].split(".", 1)[0], tuple(r.split(".", 1)[1] for r in items)


def _physical_key(m: Model) -> str:
    return (f"{m.table_schema}.{m.physical}" if m.table_schema else m.physical).lower()


def _nullability(native: DatabaseSchema | None) -> dict[str, dict[str, bool]]:
    out: dict[str, dict[str, bool]] = {}
    if native is None:
        return out
    for table in native.tables:
        columns = {c.name.lower(): c.nullable for c in table.columns}
        out.setdefault(table.name.lower(), columns)
        if table.schema:
            out.setdefault(f"{table.schema}.{table.name}".lower(), columns)
    return out
