"""What a deny-list is: the :class:`Policy` of one engine, and the phrases that say why.

Each engine's policy is pure data in its own module (``_denylist_duckdb``, ``_denylist_mysql``,
``_denylist_postgres``, ``_denylist_sqlite``); :mod:`sqlgate.sql.guard` picks one per dialect and
its checks apply it. Every entry maps a lower-case name to a short phrase saying *why* it is
refused, so the error can name the class of harm ("Function read_csv reads files and is not
allowed"). Besides exact names there are prefix rules (``pg_*``, ``read_*``, ``duckdb_*``, ...),
because each family keeps growing with new server versions and extensions; only the guard enforces
prefixes, while :func:`sqlgate.sql.guard.denied_functions` exposes the exact names (the SQLite
engine reuses them in its authorizer callback). Table functions (a call in ``FROM``) are
*allow-listed* instead, because most table functions of these engines read files, URLs, other
databases or the catalog.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# Why phrases. They complete "Function X ... and is not allowed".
READS_FILES = "reads files"
WRITES_FILES = "writes files"
LARGE_OBJECTS = "reads or writes server-side large objects and files"
REMOTE = "reads remote data or opens network connections"
NETWORK_INFO = "discloses network details of the server"
ENVIRONMENT = "reads environment variables of the server"
HOST_OBJECTS = "reads objects of the host process instead of the database"
SETTINGS = "reads or changes server settings"
SECRETS = "reads or manages stored secrets"
SESSION_STATE = "reads or changes session state"
SEQUENCES = "reads or changes sequence state"
SLEEP = "sleeps, waits or burns CPU"
LOCKS = "takes locks that outlive the query"
SESSIONS = "inspects or signals other sessions"
EXTENSIONS = "loads native code"
OS_COMMANDS = "runs operating-system commands"
POINTERS = "returns native memory pointers"
LOGS = "writes to server logs"
DYNAMIC_SQL = "runs SQL text or table names that the guard cannot check"
ADMIN = "performs server administration"
CATALOG = "discloses the database schema or server internals"
SERVER_VERSION = "discloses the server version"

# Why phrases for tables. They complete "Table X ... and is not allowed".
SYSTEM_CATALOG = "is a system catalog that discloses the schema, settings or other sessions"
VIRTUAL_TABLE = "is a virtual table that reads files or database internals"

INFORMATION_SCHEMA = "information_schema"
# PostgreSQL's network functions, which DuckDB's postgres compatibility also provides.
SERVER_ADDRESS_FUNCTIONS = (
    "inet_server_addr",
    "inet_server_port",
    "inet_client_addr",
    "inet_client_port",
)


@dataclass(frozen=True, kw_only=True)
class Policy:
    """The deny-lists of one engine."""

    functions: Mapping[str, str]
    """Exact lower-case function names and why they are refused."""
    function_prefixes: tuple[tuple[str, str], ...] = ()
    """(prefix, why): every function whose name starts with prefix is refused..."""
    function_prefix_exceptions: frozenset[str] = frozenset()
    """...except these harmless ones."""
    table_functions: frozenset[str]
    """Allow-list: the only functions that may be called in FROM."""
    tables: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Exact lower-case table names (last name part) and why they are refused."""
    table_prefixes: tuple[tuple[str, str], ...] = ()
    """(prefix, why) for table names (last name part)."""
    schemas: Mapping[str, str]
    """Schema or catalog names whose tables are all refused."""
    path_like_tables: bool = False
    """DuckDB: a table name that looks like a file or URL is read as one (replacement scan)."""
    whole_row_references: bool = False
    """PostgreSQL, DuckDB: a bare table alias used as a value is the whole row."""
    session_variables: bool = False
    """MySQL: @user and @@system variables are session state and settings."""

    def why_function_denied(self, name: str) -> str | None:
        """Why the function with this lower-case name is refused, or None if it is not."""
        if name in self.function_prefix_exceptions:
            return self.functions.get(name)
        return _exact_or_prefix(name, self.functions, self.function_prefixes)

    def why_table_denied(self, parts: list[str]) -> str | None:
        """Why the table with these name parts (``[schema, table]``, ...) is refused, if it is."""
        for qualifier in parts[:-1]:
            if qualifier.lower() in self.schemas:
                return self.schemas[qualifier.lower()]
        return _exact_or_prefix(parts[-1].lower(), self.tables, self.table_prefixes)


def names(why: str, *names: str) -> dict[str, str]:
    """Deny-list entries: each of ``names``, refused because ``why``."""
    return dict.fromkeys(names, why)


def merged(*parts: Mapping[str, str]) -> Mapping[str, str]:
    """One read-only deny-list from several groups of entries."""
    entries: dict[str, str] = {}
    for part in parts:
        entries.update(part)
    return MappingProxyType(entries)


def _exact_or_prefix(
    name: str, exact: Mapping[str, str], prefixes: Iterable[tuple[str, str]]
) -> str | None:
    why = exact.get(name)
    if why is not None:
        return why
    return next((why for prefix, why in prefixes if name.startswith(prefix)), None)


def strictest(*policies: Policy) -> Policy:
    """One policy that refuses whatever any of ``policies`` refuses, and allows only the table
    functions all of them allow: for dialects with no deny-list of their own (``sqlalchemy``
    connections to Trino, Snowflake, ...)."""
    allowed = frozenset.intersection(*(p.table_functions for p in policies))
    return Policy(
        functions=merged(*(p.functions for p in policies)),
        function_prefixes=tuple(rule for p in policies for rule in p.function_prefixes),
        table_functions=allowed,
        tables=merged(*(p.tables for p in policies)),
        table_prefixes=tuple(rule for p in policies for rule in p.table_prefixes),
        schemas=merged(*(p.schemas for p in policies)),
        path_like_tables=True,
        whole_row_references=True,
        session_variables=True,
    )
