"""Chinook in every engine the contract suite covers, loaded in seconds.

SQLite is the reference file as shipped; DuckDB is built from it with plain DDL (no extension, so
no network); PostgreSQL and MariaDB get a fresh database loaded from the project's own scripts and
are read through a login that may only SELECT, as an operator would register them.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import pyarrow as pa
import pymysql
from pymysql.constants import CLIENT

from tests.conftest import CHINOOK_SQLITE, SHARED
from tests.mysql_services import (
    admin_options,
    create_user,
    drop_user,
    escaped_name,
    fresh_mysql_database,
)
from tests.services import PG_ADMIN_URL, fresh_pg_database

CHINOOK = SHARED / "data" / "chinook"
PG_SCRIPT = CHINOOK / "Chinook_PostgreSql.sql"
MYSQL_SCRIPT = CHINOOK / "Chinook_MySql.sql"

# The scripts create and switch to their own database; the loaders bring a fresh one instead.
_SETUP_LINE = re.compile(r"(DROP DATABASE|CREATE DATABASE|USE |\\c )", re.IGNORECASE)


# --- the reference schema (the SQLite file) ---------------------------------------------------


@dataclass(frozen=True)
class ChinookColumn:
    name: str
    type: str  # as declared in the SQLite file, e.g. NVARCHAR(160), NUMERIC(10,2)
    not_null: bool


@dataclass(frozen=True)
class ChinookForeignKey:
    columns: tuple[str, ...]
    references_table: str
    references_columns: tuple[str, ...]


@dataclass(frozen=True)
class ChinookTable:
    name: str
    columns: tuple[ChinookColumn, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ChinookForeignKey, ...]


def reference() -> sqlite3.Connection:
    """The shipped SQLite file, read-only: the answers every backend must give."""
    return sqlite3.connect(f"file:{CHINOOK_SQLITE}?mode=ro", uri=True)


def chinook_tables() -> list[ChinookTable]:
    """The 11 tables with their columns and keys, in PascalCase, by name."""
    con = reference()
    try:
        names = [
            row[0]
            for row in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return [_table(con, name) for name in names]
    finally:
        con.close()


def _table(con: sqlite3.Connection, name: str) -> ChinookTable:
    info = con.execute(f'PRAGMA table_info("{name}")').fetchall()
    keys: dict[int, list[tuple[str, str, str]]] = {}
    for fk_id, _seq, ref_table, column, ref_column, *_ in con.execute(
        f'PRAGMA foreign_key_list("{name}")'
    ):
        keys.setdefault(fk_id, []).append((ref_table, column, ref_column))
    return ChinookTable(
        name=name,
        columns=tuple(ChinookColumn(c[1], c[2].upper(), bool(c[3])) for c in info),
        primary_key=tuple(c[1] for c in sorted((c for c in info if c[5]), key=lambda c: c[5])),
        foreign_keys=tuple(
            ChinookForeignKey(
                columns=tuple(part[1] for part in parts),
                references_table=parts[0][0],
                references_columns=tuple(part[2] for part in parts),
            )
            for _, parts in sorted(keys.items())
        ),
    )


# --- naming: PascalCase everywhere but PostgreSQL ---------------------------------------------


def _key(identifier: str) -> str:
    return identifier.replace("_", "").lower()


def postgres_names() -> dict[str, str]:
    """Every PascalCase table and column name → its name in the PostgreSQL script, matched table
    by table and column by column in declaration order (so a renamed column is caught)."""
    script = PG_SCRIPT.read_text(encoding="utf-8")
    pg_tables = {
        _key(table): (table, re.findall(r"^\s+(?!CONSTRAINT\b)(\w+)\s", body, re.MULTILINE))
        for table, body in re.findall(r"CREATE TABLE (\w+)\s*\((.*?)\n\);", script, re.DOTALL)
    }
    names: dict[str, str] = {}
    for table in chinook_tables():
        pg_table, pg_columns = pg_tables[_key(table.name)]
        pairs = [(table.name, pg_table)]
        pairs += zip((c.name for c in table.columns), pg_columns, strict=True)
        for pascal, snake in pairs:
            if _key(pascal) != _key(snake) or names.setdefault(pascal, snake) != snake:
                raise ValueError(f"Chinook schemas disagree on {pascal!r} / {snake!r}")
    return names


# Single-quoted literals are skipped (group 1 unset); words are candidate identifiers.
_TOKEN = re.compile(r"'(?:[^']|'')*'|\b([A-Za-z_]\w*)\b")


def translate(sql: str, names: Mapping[str, str]) -> str:
    """``sql`` with each Chinook identifier renamed by ``names`` (exact case, outside literals)."""
    if not names:
        return sql

    def rename(match: re.Match[str]) -> str:
        word = match.group(1)
        return names.get(word, word) if word else match.group(0)

    return _TOKEN.sub(rename, sql)


# --- DuckDB: built from the SQLite file -------------------------------------------------------

_DUCKDB_TYPES = (("NVARCHAR", "VARCHAR"), ("NUMERIC", "DECIMAL"), ("DATETIME", "TIMESTAMP"))


def _duckdb_type(declared: str) -> str:
    for sqlite_name, duckdb_name in _DUCKDB_TYPES:
        if declared.startswith(sqlite_name):
            return duckdb_name + declared[len(sqlite_name) :]
    return declared


def _duckdb_ddl(table: ChinookTable) -> str:
    parts = [
        f'"{c.name}" {_duckdb_type(c.type)}' + (" NOT NULL" if c.not_null else "")
        for c in table.columns
    ]
    parts.append("PRIMARY KEY (" + ", ".join(f'"{c}"' for c in table.primary_key) + ")")
    for fk in table.foreign_keys:
        columns = ", ".join(f'"{c}"' for c in fk.columns)
        referenced = ", ".join(f'"{c}"' for c in fk.references_columns)
        parts.append(f'FOREIGN KEY ({columns}) REFERENCES "{fk.references_table}" ({referenced})')
    return f'CREATE TABLE "{table.name}" (' + ", ".join(parts) + ")"


def build_duckdb(target: Path) -> Path:
    """A DuckDB copy of the SQLite file: same tables, keys and rows, with real DECIMAL and
    TIMESTAMP columns. Rows go through an Arrow table registered on the writing connection."""
    tables = {t.name: t for t in chinook_tables()}
    order = TopologicalSorter(
        {
            name: {fk.references_table for fk in t.foreign_keys} - {name}
            for name, t in tables.items()
        }
    ).static_order()
    source = reference()
    con = duckdb.connect(str(target))
    try:
        for name in order:
            table = tables[name]
            con.execute(_duckdb_ddl(table))
            key = ", ".join(f'"{c}"' for c in table.primary_key)
            rows = source.execute(f'SELECT * FROM "{name}" ORDER BY {key}').fetchall()
            # DuckDB checks a foreign key per statement, so a table whose rows reference earlier
            # rows of itself (Employee.ReportsTo) goes in one row at a time, in key order.
            self_referencing = any(fk.references_table == name for fk in table.foreign_keys)
            for chunk in [[row] for row in rows] if self_referencing else [rows]:
                _insert(con, table, chunk)
    finally:
        con.close()
        source.close()
    return target


def _insert(con: duckdb.DuckDBPyConnection, table: ChinookTable, rows: list[Any]) -> None:
    batch = pa.table({c.name: [row[i] for row in rows] for i, c in enumerate(table.columns)})
    con.register("chinook_rows", batch)
    casts = ", ".join(f'CAST("{c.name}" AS {_duckdb_type(c.type)})' for c in table.columns)
    con.execute(f'INSERT INTO "{table.name}" SELECT {casts} FROM chinook_rows')
    con.unregister("chinook_rows")


# --- server databases -------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerLogin:
    """Where a loaded server database is and the read-only login to register it with."""

    type: str
    host: str
    port: int
    database: str
    username: str
    password: str | None

    def connection_body(self) -> dict[str, Any]:
        """The `POST /v1/connections` fields (all but `name`)."""
        body: dict[str, Any] = {
            "type": self.type,
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "username": self.username,
        }
        if self.password is not None:
            body["password"] = self.password
        return body


def _script(path: Path) -> str:
    lines = path.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not _SETUP_LINE.match(line))


@contextmanager
def chinook_postgres() -> Iterator[ServerLogin]:
    """A fresh database loaded with the PostgreSQL script, and a login role that owns nothing
    and may only SELECT its tables (trust auth: no password). Both are dropped afterwards."""
    import psycopg

    role = f"sqlgate_c_{secrets.token_hex(4)}"
    created = False
    try:
        with fresh_pg_database() as url:
            with psycopg.connect(url, autocommit=True) as con:
                con.execute(_script(PG_SCRIPT).encode())  # no parameters: simple protocol
                con.execute(f'CREATE ROLE "{role}" LOGIN')
                created = True
                con.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
            where = urlsplit(url)
            yield ServerLogin(
                "postgresql",
                where.hostname or "127.0.0.1",
                where.port or 5432,
                where.path.lstrip("/"),
                role,
                None,
            )
    finally:
        if created:  # after the database (and its grants) is gone
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP ROLE IF EXISTS "{role}"')


def _mysql_connect(**options: Any) -> pymysql.connections.Connection[Any]:
    return pymysql.connect(
        **admin_options(), charset="utf8mb4", autocommit=True, connect_timeout=3, **options
    )


@contextmanager
def chinook_mysql() -> Iterator[ServerLogin]:
    """A fresh database loaded with the MySQL script, and a user (from 127.0.0.1 and localhost)
    with a password and only SELECT on it. Its sessions are killed and it is dropped after."""
    user = f"sqlgate_c_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    with fresh_mysql_database() as db:
        loader = _mysql_connect(database=db.name, client_flag=CLIENT.MULTI_STATEMENTS)
        with loader, loader.cursor() as cursor:
            cursor.execute(_script(MYSQL_SCRIPT))
            while cursor.nextset():
                pass
        admin = _mysql_connect()
        with admin, admin.cursor() as cursor:
            try:
                create_user(admin, user, password, f"SELECT ON `{escaped_name(db.name)}`.*")
                yield ServerLogin("mysql", db.host, db.port, db.name, user, password)
            finally:
                # A query left running would hold the database open; DROP would wait for it.
                cursor.execute(
                    "SELECT id FROM information_schema.processlist WHERE user = %s", (user,)
                )
                for (session,) in cursor.fetchall():
                    with suppress(pymysql.err.MySQLError):  # it may have just ended
                        cursor.execute(f"KILL {int(session)}")
                drop_user(admin, user)
