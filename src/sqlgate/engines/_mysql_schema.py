"""What a MySQL/MariaDB connection exposes (information_schema) and whether its user could write
(SHOW GRANTS), kept apart from the query path."""

from __future__ import annotations

import re
from typing import Any

from sqlgate.vocabulary.schema import DatabaseSchema, ForeignKey, SchemaColumn, SchemaTable

TABLES = (
    "SELECT TABLE_NAME, TABLE_TYPE, TABLE_COMMENT FROM information_schema.TABLES "
    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE IN ('BASE TABLE', 'VIEW', 'SYSTEM VERSIONED') "
    "ORDER BY TABLE_NAME"
)
COLUMNS = (
    "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE = 'YES', COLUMN_COMMENT "
    "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
    "ORDER BY TABLE_NAME, ORDINAL_POSITION"
)
KEYS = (
    "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_SCHEMA, "
    "REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
    "WHERE TABLE_SCHEMA = DATABASE() "
    "AND (CONSTRAINT_NAME = 'PRIMARY' OR REFERENCED_TABLE_NAME IS NOT NULL) "
    "ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION"
)


def build_schema(
    database: str,
    tables: tuple[tuple[Any, ...], ...],
    columns: tuple[tuple[Any, ...], ...],
    keys: tuple[tuple[Any, ...], ...],
) -> DatabaseSchema:
    cols: dict[str, list[SchemaColumn]] = {}
    for table, name, data_type, nullable, comment in columns:
        cols.setdefault(table, []).append(
            SchemaColumn(name, str(data_type), bool(nullable), comment or None)
        )
    pks: dict[str, list[str]] = {}
    fks: dict[tuple[str, str], list[tuple[str, str | None, str, str]]] = {}
    for table, constraint, column, ref_schema, ref_table, ref_column in keys:
        if ref_table is None:
            pks.setdefault(table, []).append(column)
        else:
            fks.setdefault((table, constraint), []).append(
                (column, ref_schema, ref_table, ref_column)
            )
    foreign: dict[str, list[ForeignKey]] = {}
    for (table, constraint), parts in fks.items():
        foreign.setdefault(table, []).append(
            ForeignKey(
                columns=tuple(p[0] for p in parts),
                references_schema=parts[0][1],
                references_table=parts[0][2],
                references_columns=tuple(p[3] for p in parts),
                name=constraint,
            )
        )
    return DatabaseSchema(
        tuple(
            SchemaTable(
                schema=database,
                name=name,
                kind="view" if kind == "VIEW" else "table",
                columns=tuple(cols.get(name, ())),
                primary_key=tuple(pks.get(name, ())),
                foreign_keys=tuple(foreign.get(name, ())),
                # Views report the comment "VIEW" on both servers.
                comment=None if kind == "VIEW" or not comment else comment,
            )
            for name, kind, comment in tables
        )
    )


_LIKE = {"%": ".*", "_": "."}  # unescaped wildcards in a grant's database name
_GRANT = re.compile(r"^GRANT (?P<privileges>.+?) ON (?P<target>\S+) TO ", re.IGNORECASE)
_WRITE_PRIVILEGES = frozenset(
    {
        "ALL",
        "ALL PRIVILEGES",
        "INSERT",
        "UPDATE",
        "DELETE",
        "CREATE",
        "DROP",
        "ALTER",
        "INDEX",
        "CREATE VIEW",
        "CREATE ROUTINE",
        "ALTER ROUTINE",
        "TRIGGER",
        "EVENT",
        "DELETE HISTORY",
        "FILE",
        "SUPER",
    }
)


def write_grants(grants: list[str], database: str) -> list[str]:
    """The ``SHOW GRANTS`` privileges that let these credentials change data or files, on
    ``*.*`` or on ``database`` (its tables included), as ``PRIVILEGE ON target``. The grant lines
    themselves are never echoed: MariaDB prints the password hash in them."""
    found = []
    for line in grants:
        match = _GRANT.match(line.strip())
        if not match or not _covers(match.group("target"), database):
            continue
        names = re.sub(r"\([^)]*\)", "", match.group("privileges"))  # column lists
        for privilege in (p.strip().upper() for p in names.split(",")):
            if privilege in _WRITE_PRIVILEGES:
                found.append(f"{privilege} ON {match.group('target')}")
    return found


def _covers(target: str, database: str) -> bool:
    """Whether a grant target (``*.*``, ``db.*``, ```db`.`t```) applies to ``database``.
    Unescaped ``_`` and ``%`` in a database name are wildcards."""
    if target == "*.*":
        return True
    if target.startswith("`"):
        end = target.find("`", 1)
        name = target[1:end] if end > 0 else ""
    else:
        name = target.split(".", 1)[0]
    if not name or name == "*":
        return False
    pattern = "".join(_LIKE.get(part, re.escape(part[-1])) for part in re.findall(r"\\?.", name))
    return re.fullmatch(pattern, database, re.IGNORECASE) is not None
