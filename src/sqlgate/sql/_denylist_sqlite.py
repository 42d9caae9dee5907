"""SQLite's deny-list: extensions, file access, pragmas and virtual tables.

SQLite's risks come from loadable extensions and the shell's helpers (``load_extension``,
``readfile``, ``writefile``, ``fsdir``, ``eval``), from pragmas, every one of which is also a
table-valued ``pragma_<name>`` function, and from virtual tables that read files or database pages
(``dbstat``, ``sqlite_dbpage``). The exact names are also what the SQLite engine's authorizer
refuses, through :func:`sqlgate.sql.guard.denied_functions`.
"""

from __future__ import annotations

from sqlgate.sql._denylist import (
    CATALOG,
    DYNAMIC_SQL,
    EXTENSIONS,
    INFORMATION_SCHEMA,
    LOGS,
    POINTERS,
    READS_FILES,
    SERVER_VERSION,
    SYSTEM_CATALOG,
    VIRTUAL_TABLE,
    WRITES_FILES,
    Policy,
    merged,
    names,
)

# Every pragma also exists as a table-valued function pragma_<name> (SQLite 3.40 list).
_SQLITE_PRAGMAS = (
    "analysis_limit",
    "application_id",
    "auto_vacuum",
    "automatic_index",
    "busy_timeout",
    "cache_size",
    "cache_spill",
    "case_sensitive_like",
    "cell_size_check",
    "checkpoint_fullfsync",
    "collation_list",
    "compile_options",
    "count_changes",
    "data_version",
    "database_list",
    "default_cache_size",
    "defer_foreign_keys",
    "empty_result_callbacks",
    "encoding",
    "foreign_key_check",
    "foreign_key_list",
    "foreign_keys",
    "freelist_count",
    "full_column_names",
    "fullfsync",
    "function_list",
    "hard_heap_limit",
    "ignore_check_constraints",
    "incremental_vacuum",
    "index_info",
    "index_list",
    "index_xinfo",
    "integrity_check",
    "journal_mode",
    "journal_size_limit",
    "legacy_alter_table",
    "locking_mode",
    "max_page_count",
    "mmap_size",
    "module_list",
    "optimize",
    "page_count",
    "page_size",
    "pragma_list",
    "query_only",
    "quick_check",
    "read_uncommitted",
    "recursive_triggers",
    "reverse_unordered_selects",
    "schema_version",
    "secure_delete",
    "short_column_names",
    "shrink_memory",
    "soft_heap_limit",
    "synchronous",
    "table_info",
    "table_list",
    "table_xinfo",
    "temp_store",
    "temp_store_directory",
    "threads",
    "trusted_schema",
    "user_version",
    "wal_autocheckpoint",
    "wal_checkpoint",
    "writable_schema",
)

_SQLITE_FUNCTIONS = merged(
    names(EXTENSIONS, "load_extension"),
    names(READS_FILES, "readfile", "fsdir", "zipfile", "zipfile_cds"),
    names(WRITES_FILES, "writefile", "edit"),
    names(POINTERS, "fts3_tokenizer", "fts5"),
    names(LOGS, "sqlite_log"),
    names(DYNAMIC_SQL, "eval", "sha3_query", "rtreecheck"),
    names(
        CATALOG,
        "sqlite_compileoption_get",
        "sqlite_compileoption_used",
        "sqlite_source_id",
        "sqlite_offset",
        *(f"pragma_{name}" for name in _SQLITE_PRAGMAS),
    ),
    names(SERVER_VERSION, "sqlite_version", "version"),
)

SQLITE = Policy(
    functions=_SQLITE_FUNCTIONS,
    function_prefixes=(("sqlite_", CATALOG), ("pragma_", CATALOG), ("fts3_", POINTERS)),
    table_functions=frozenset(
        {"json_each", "json_tree", "jsonb_each", "jsonb_tree", "generate_series"}
    ),
    tables=merged(
        names(VIRTUAL_TABLE, "dbstat", "fsdir", "zipfile", "completion", "sqlite_dbpage")
    ),
    table_prefixes=(("sqlite_", SYSTEM_CATALOG), ("pragma_", SYSTEM_CATALOG)),
    schemas=merged(names(SYSTEM_CATALOG, INFORMATION_SCHEMA)),
)
