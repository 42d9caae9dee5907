"""PostgreSQL introspection: the catalog queries (run in a READ ONLY transaction) and what the
engine makes of their rows: the schema of ``GET /v1/connections/{id}/schema``, and why
credentials look able to write (``POST /v1/connections/{id}/test``).
"""

from __future__ import annotations

from typing import Any

from sqlgate.vocabulary.schema import DatabaseSchema, ForeignKey, SchemaColumn, SchemaTable

RELATIONS = """
WITH rel AS (
    SELECT c.oid, n.nspname, c.relname, c.relkind
    FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm') AND NOT c.relispartition
      AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
)
"""

SCHEMA_COLUMNS = (
    RELATIONS
    + """
SELECT rel.nspname, rel.relname, rel.relkind, obj_description(rel.oid, 'pg_class'),
       a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       col_description(rel.oid, a.attnum)
FROM rel LEFT JOIN pg_attribute AS a
  ON a.attrelid = rel.oid AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY rel.nspname IS DISTINCT FROM current_schema(), rel.nspname, rel.relname, a.attnum
"""
)

PRIMARY_KEYS = (
    RELATIONS
    + """
SELECT rel.nspname, rel.relname, array_agg(a.attname ORDER BY k.i)
FROM rel
JOIN pg_constraint AS con ON con.conrelid = rel.oid AND con.contype = 'p'
CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(num, i)
JOIN pg_attribute AS a ON a.attrelid = rel.oid AND a.attnum = k.num
GROUP BY rel.nspname, rel.relname
"""
)

FOREIGN_KEYS = (
    RELATIONS
    + """
SELECT rel.nspname, rel.relname, con.conname,
       array_agg(a.attname ORDER BY k.i), fn.nspname, fc.relname, array_agg(fa.attname ORDER BY k.i)
FROM rel
JOIN pg_constraint AS con ON con.conrelid = rel.oid AND con.contype = 'f'
CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(num, fnum, i)
JOIN pg_attribute AS a ON a.attrelid = con.conrelid AND a.attnum = k.num
JOIN pg_attribute AS fa ON fa.attrelid = con.confrelid AND fa.attnum = k.fnum
JOIN pg_class AS fc ON fc.oid = con.confrelid
JOIN pg_namespace AS fn ON fn.oid = fc.relnamespace
GROUP BY rel.nspname, rel.relname, con.conname, fn.nspname, fc.relname
ORDER BY con.conname
"""
)

# Superuser; any table the role may change (owners included); any schema it may create in.
WRITE_CHECK = """
SELECT r.rolsuper,
       (SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
        FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm')
          AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
          AND has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')
        ORDER BY 1 LIMIT 1),
       (SELECT quote_ident(n.nspname) FROM pg_namespace AS n
        WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
          AND has_schema_privilege(n.oid, 'CREATE')
        ORDER BY 1 LIMIT 1)
FROM pg_roles AS r WHERE r.rolname = current_user
"""


Rows = list[tuple[Any, ...]]


def build_schema(columns: Rows, primary_keys: Rows, foreign_keys: Rows) -> DatabaseSchema:
    """The rows of :data:`SCHEMA_COLUMNS`, :data:`PRIMARY_KEYS` and :data:`FOREIGN_KEYS` as
    tables, in the order the first lists them (default schema first)."""
    primary = {(s, t): tuple(c) for s, t, c in primary_keys}
    foreign: dict[tuple[str, str], list[ForeignKey]] = {}
    for s, t, name, cols, ref_s, ref_t, ref_cols in foreign_keys:
        foreign.setdefault((s, t), []).append(
            ForeignKey(tuple(cols), ref_s, ref_t, tuple(ref_cols), name)
        )
    tables: dict[tuple[str, str], tuple[str, str | None, list[SchemaColumn]]] = {}
    for schema, table, relkind, comment, column, type_name, nullable, note in columns:
        kind = "view" if relkind in ("v", "m") else "table"
        _, _, table_columns = tables.setdefault((schema, table), (kind, comment, []))
        if column is not None:
            table_columns.append(SchemaColumn(column, type_name, nullable, note))
    return DatabaseSchema(
        tuple(
            SchemaTable(
                schema=schema,
                name=table,
                kind=kind,
                columns=tuple(table_columns),
                primary_key=primary.get((schema, table), ()),
                foreign_keys=tuple(foreign.get((schema, table), ())),
                comment=comment,
            )
            for (schema, table), (kind, comment, table_columns) in tables.items()
        )
    )


def write_reasons(superuser: bool, table: str | None, schema: str | None) -> list[str]:
    """What the row of :data:`WRITE_CHECK` says the role could change."""
    reasons = []
    if superuser:
        reasons.append("the role is a superuser")
    if table:
        reasons.append(f"it can INSERT, UPDATE, DELETE or TRUNCATE {table}")
    if schema:
        reasons.append(f"it can CREATE objects in schema {schema}")
    return reasons
