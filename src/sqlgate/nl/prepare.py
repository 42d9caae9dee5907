"""Ready an embedded engine for a connection: its semantic model (the deployed one, or the draft
from introspection), column types from the schema, and sampled values."""

from __future__ import annotations

from sqlgate.engines.base import Engine
from sqlgate.nl.draft import draft_from_schema, with_schema_types
from sqlgate.nl.rules import RuleTranslator
from sqlgate.nl.semantic import SemanticModel
from sqlgate.nl.values import ValueIndex, sample_values


def prepare_embedded(
    engine: Engine,
    dialect: str,
    model: SemanticModel | None = None,
    *,
    values: ValueIndex | None = None,
) -> RuleTranslator:
    """An embedded engine over ``model`` (default: the draft derived from ``engine.schema()``).

    Values are sampled through the engine's read-only query path unless ``values`` (e.g. cached
    with the deployed model) are given. Build once per deployed model version and reuse.
    """
    schema = engine.schema()
    model = with_schema_types(model or draft_from_schema(schema), schema)
    if values is None:
        values = sample_values(engine, model, dialect)
    return RuleTranslator(model, dialect, values)
