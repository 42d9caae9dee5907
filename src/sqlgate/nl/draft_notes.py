"""The draft semantic model as an editable YAML document: the model, headed by comments that
say what the draft guessed (labels, people's names, synonyms, time columns, relationships
inferred from names) so an editor checks those first, and how to deploy the edited file."""

from __future__ import annotations

from sqlgate.nl.draft_links import implied_foreign_keys
from sqlgate.nl.semantic import Model, SemanticModel
from sqlgate.nl.text import identifier_words
from sqlgate.vocabulary.schema import DatabaseSchema

_PERSON = ({"first", "name"}, {"last", "name"}, {"full", "name"}, {"surname"}, {"given", "name"})


def draft_document(model: SemanticModel, schema: DatabaseSchema, connection: str) -> str:
    """``model`` (the draft of ``schema``) as YAML with a commented header."""
    lines = [
        f"# Semantic model draft for connection {connection!r}, derived from its schema.",
        "# Edit it (synonyms, descriptions, metrics, relationships), then deploy it:",
        f"#   sqlgate semantic deploy FILE --connection {connection}",
        "# What the draft guessed, to check first:",
    ]
    for m in model.models:
        notes = _model_notes(m)
        if notes:
            lines.append(f"#   {m.name}: " + "; ".join(notes))
    for table, column, target, key in implied_foreign_keys(schema.tables):
        lines.append(
            f"#   {table.name}.{column} -> {target.name}.{key}: inferred from the names "
            "(no foreign key declared)"
        )
    return "\n".join(lines) + "\n" + model.to_yaml()


def person_name_columns(m: Model) -> list[str]:
    """The columns of ``m`` that hold a person's name (first, last, full name, surname)."""
    out = []
    for column in m.columns:
        words = set(identifier_words(column.name))
        if any(p <= words for p in _PERSON):
            out.append(column.name)
    return out


def _model_notes(m: Model) -> list[str]:
    notes = []
    people = person_name_columns(m)
    if m.label_columns:
        who = " (a person's name)" if set(m.label_columns) & set(people) else ""
        notes.append(f"label {', '.join(m.label_columns)}{who}")
    elif people:
        notes.append(f"a person's name in {', '.join(people)}")
    if m.synonyms:
        notes.append(f"also called {', '.join(m.synonyms)}")
    guessed = [f"{c.name} ({', '.join(c.synonyms)})" for c in m.columns if c.synonyms]
    if guessed:
        notes.append("synonyms " + "; ".join(guessed))
    if m.time_column:
        notes.append(f"time column {m.time_column}")
    return notes
