"""Tables as ``CREATE TABLE`` text for prompts: columns, types, keys and comments."""

from __future__ import annotations

import re
from collections.abc import Collection

from sqlglot import exp

from sqlgate.vocabulary.schema import SchemaTable


def qualified_name(table: SchemaTable) -> str:
    return f"{table.schema}.{table.name}" if table.schema else table.name


def render_table(
    table: SchemaTable, *, qualify: bool = False, keep: Collection[str] | None = None
) -> str:
    """``CREATE TABLE`` text for ``table`` (schema-qualified names with ``qualify``).

    With ``keep``, only the key columns and the columns named in ``keep`` are listed, and a
    closing comment says how many were left out.
    """
    key_columns = set(table.primary_key)
    for foreign_key in table.foreign_keys:
        key_columns.update(foreign_key.columns)
    columns = table.columns
    if keep is not None:
        columns = tuple(c for c in columns if c.name in key_columns or c.name in keep)
    single_key = table.primary_key[0] if len(table.primary_key) == 1 else None
    # (definition, comment) pairs; commas go between definitions, before their comments.
    entries: list[tuple[str, str | None]] = []
    for column in columns:
        definition = f"{_ident(column.name)} {column.type}"
        if column.name == single_key:
            definition += " PRIMARY KEY"
        elif not column.nullable:
            definition += " NOT NULL"
        entries.append((definition, _one_line(column.comment) if column.comment else None))
    if len(table.primary_key) > 1:
        entries.append((f"PRIMARY KEY ({_idents(table.primary_key)})", None))
    for foreign_key in table.foreign_keys:
        schema = foreign_key.references_schema if qualify else None
        target = _ident(foreign_key.references_table, schema)
        entries.append(
            (
                f"FOREIGN KEY ({_idents(foreign_key.columns)}) "
                f"REFERENCES {target}({_idents(foreign_key.references_columns)})",
                None,
            )
        )
    lines = []
    for n, (definition, comment) in enumerate(entries):
        comma = "," if n < len(entries) - 1 else ""
        lines.append(f"  {definition}{comma}" + (f" -- {comment}" if comment else ""))
    if len(columns) < len(table.columns):
        lines.append(f"  -- {len(table.columns) - len(columns)} more columns")
    head = f"CREATE TABLE {_ident(table.name, table.schema if qualify else None)} ("
    if table.comment:
        head = f"-- {_one_line(table.comment)}\n{head}"
    return "\n".join([head, *lines, ");"])


# Reserved words that turn up as column names; quoted so a model copying the text writes valid SQL.
_RESERVED = frozenset(
    """all and any as asc between by case check column create default delete desc distinct drop
    else end exists foreign from grant group having in index insert into is join key like
    limit not null offset on or order primary references select table then to union unique
    update user values when where with""".split()  # noqa: SIM905
)
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _ident(name: str, schema: str | None = None) -> str:
    """An identifier, double-quoted only where it needs to be (spaces, reserved words)."""
    parts = [schema, name] if schema else [name]
    return ".".join(
        exp.to_identifier(p, quoted=not _PLAIN.fullmatch(p) or p.lower() in _RESERVED).sql()
        for p in parts
        if p
    )


def _idents(names: Collection[str]) -> str:
    return ", ".join(_ident(n) for n in names)


def _one_line(text: str) -> str:
    return " ".join(text.split())
