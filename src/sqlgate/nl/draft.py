"""A draft semantic model derived from schema introspection, so a fresh connection is askable.

Every table and view becomes a model under its own name (semantic SQL over the draft is the
native SQL), with its columns, primary key, comments as descriptions, a time column (the first
date or timestamp column, preferring names such as ``created_at`` or ``order_date``) and label
columns (``name``, ``title``, ...). Foreign keys become many-to-one relationships. Names that are
not plain identifiers are renamed (``"Order Details"`` → ``Order_Details``) and keep their
physical name in ``table`` / ``column``.
"""

from __future__ import annotations

import re

from sqlgate.nl.draft_links import implied_foreign_keys
from sqlgate.nl.draft_synonyms import column_synonyms, table_synonyms
from sqlgate.nl.name_words import name_words
from sqlgate.nl.semantic import (
    Column,
    Model,
    Relationship,
    SemanticModel,
)
from sqlgate.nl.text import identifier_words, stem
from sqlgate.vocabulary.schema import DatabaseSchema, SchemaColumn, SchemaTable

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TIME_TYPES = re.compile(r"date|time", re.IGNORECASE)
_TIME_NAMES = ("created", "date", "_at", "time", "day")
_LABEL_NAMES = ("name", "title", "label", "full_name", "fullname", "display_name")


def draft_from_schema(schema: DatabaseSchema) -> SemanticModel:
    """The semantic model a connection gets before anything is deployed."""
    default_schema = schema.tables[0].schema if schema.tables else None
    names: dict[tuple[str | None, str], str] = {}
    used: set[str] = set()
    for table in schema.tables:
        names[(table.schema, table.name)] = _unique(_plain(table.name), used, table.schema)
    models = [
        _model(table, names[(table.schema, table.name)], default_schema) for table in schema.tables
    ]
    by_table = {(t.schema, t.name): m for t, m in zip(schema.tables, models, strict=True)}
    by_name: dict[str, Model] = {}
    for (_, table_name), model in by_table.items():
        by_name.setdefault(table_name.lower(), model)
    relationships: list[Relationship] = []
    for table in schema.tables:
        source = by_table[(table.schema, table.name)]
        for fk in table.foreign_keys:
            target = by_table.get((fk.references_schema, fk.references_table)) or by_name.get(
                fk.references_table.lower()
            )
            if target is None or len(fk.columns) != len(fk.references_columns):
                continue
            from_cols = [_semantic_column(source, c) for c in fk.columns]
            to_cols = [_semantic_column(target, c) for c in fk.references_columns]
            if None in from_cols or None in to_cols:
                continue
            relationships.append(
                Relationship.model_validate(
                    {
                        "from": [f"{source.name}.{c}" for c in from_cols],
                        "to": [f"{target.name}.{c}" for c in to_cols],
                        "type": "many_to_one",
                    }
                )
            )
    for table, column, target, key in implied_foreign_keys(schema.tables):
        source, referenced = (
            by_table[(table.schema, table.name)],
            by_table[(target.schema, target.name)],
        )
        from_col, to_col = _semantic_column(source, column), _semantic_column(referenced, key)
        if from_col and to_col:
            relationships.append(
                Relationship.model_validate(
                    {
                        "from": f"{source.name}.{from_col}",
                        "to": f"{referenced.name}.{to_col}",
                        "type": "many_to_one",
                    }
                )
            )
    return SemanticModel(models=models, relationships=relationships)


def _model(table: SchemaTable, name: str, default_schema: str | None) -> Model:
    used: set[str] = set()
    columns = []
    for column in table.columns:
        semantic = _unique(_plain(column.name), used, None)
        columns.append(
            Column(
                name=semantic,
                column=None if semantic == column.name else column.name,
                type=column.type or None,
                description=column.comment or None,
                synonyms=column_synonyms(column.name),
            )
        )
    by_physical = {c.physical.lower(): c.name for c in columns}
    primary_key = [by_physical[k.lower()] for k in table.primary_key if k.lower() in by_physical]
    time_column = _time_column(table.columns)
    return Model(
        name=name,
        table=None if name == table.name else table.name,
        table_schema=table.schema if table.schema and table.schema != default_schema else None,
        description=table.comment or None,
        synonyms=table_synonyms(table.name, tuple(c.name for c in table.columns)),
        primary_key=primary_key,
        label_columns=_labels(columns, table.name),
        time_column=by_physical[time_column.lower()] if time_column else None,
        columns=columns,
    )


def _semantic_column(model: Model, physical: str) -> str | None:
    for column in model.columns:
        if column.physical.lower() == physical.lower():
            return column.name
    return None


def _time_column(columns: tuple[SchemaColumn, ...]) -> str | None:
    candidates = [c.name for c in columns if _TIME_TYPES.search(c.type or "")]
    for hint in _TIME_NAMES:
        for name in candidates:
            if hint in name.lower() and "birth" not in name.lower():
                return name
    return candidates[0] if candidates else None


def _labels(columns: list[Column], table: str = "") -> list[str]:
    lower = {c.name.lower(): c.name for c in columns}
    first_last = [n for n in lower if "".join(name_words(n)) in ("firstname", "lastname")]
    for wanted in _LABEL_NAMES:
        if wanted == "title" and len(first_last) == 2:
            break  # a person's job title is not what names them
        if wanted in lower:
            return [lower[wanted]]
    if len(first_last) == 2:
        return sorted((lower[n] for n in first_last), key=lambda n: "last" in name_words(n))
    for name, original in lower.items():
        if name.endswith(("name", "title")):
            return [original]
    for name, original in lower.items():
        if name_words(name)[-1:] in (("name",), ("title",)):  # proj_nm, CustNm
            return [original]
    # a column named like its table: continents.Continent, genre.genre
    table_words = {stem(w) for w in identifier_words(table)}
    for column in columns:
        words = [stem(w) for w in identifier_words(column.name)]
        if words and set(words) <= table_words and not _TIME_TYPES.search(column.type or ""):
            return [column.name]
    return []


def _plain(name: str) -> str:
    if _NAME.match(name):
        return name
    cleaned = re.sub(r"\W+", "_", name).strip("_") or "t"
    return cleaned if _NAME.match(cleaned) else f"_{cleaned}"


def _unique(name: str, used: set[str], schema: str | None) -> str:
    candidate = name
    if candidate.lower() in used and schema:
        candidate = _plain(f"{schema}_{name}")
    n = 2
    base = candidate
    while candidate.lower() in used:
        candidate = f"{base}_{n}"
        n += 1
    used.add(candidate.lower())
    return candidate


def with_schema_types(model: SemanticModel, schema: DatabaseSchema) -> SemanticModel:
    """``model`` with every column's missing ``type`` filled in from introspection (the embedded
    engine needs to know which columns hold numbers, dates and text)."""
    tables: dict[str, dict[str, str]] = {}
    for table in schema.tables:
        columns = {c.name.lower(): c.type for c in table.columns}
        tables.setdefault(table.name.lower(), columns)
        if table.schema:
            tables.setdefault(f"{table.schema}.{table.name}".lower(), columns)
    models = []
    for m in model.models:
        key = f"{m.table_schema}.{m.physical}" if m.table_schema else m.physical
        types = tables.get(key.lower(), {})
        fixed: list[Column] = [
            c if c.type or c.physical.lower() not in types
            else c.model_copy(update={"type": types[c.physical.lower()]})
            for c in m.columns
        ]  # fmt: skip
        models.append(m.model_copy(update={"columns": fixed}))
    return model.model_copy(update={"models": models})
