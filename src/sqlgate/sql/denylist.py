"""What the SQL guard refuses, per engine: functions, table functions, catalogs.

Pure data; :mod:`sqlgate.sql.guard` applies it. Every entry maps a lower-case name to a short
phrase saying *why* it is refused, so the error can name the class of harm::

    Function read_csv reads files and is not allowed

Functions are matched on the name the user wrote (quoted or not, schema-qualified or not) and on
the names sqlglot gives the node it parsed, case-insensitively. Besides the exact names there are
prefix rules (``pg_*``, ``read_*``, ``duckdb_*``, ...), because each family keeps growing with new
server versions and extensions; prefix rules are only enforced by the guard, while
:func:`sqlgate.sql.guard.denied_functions` exposes the exact names (the SQLite engine reuses them
in its authorizer callback).

Table functions (a function call in ``FROM``) are *allow-listed* instead: anything in ``FROM``
that is not a plain table, a subquery or one of a few row generators (``range``,
``generate_series``, ``unnest``, JSON expanders) is refused, because most table functions of
these engines read files, URLs, other databases or the catalog.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Policy:
    """The deny-lists of one engine."""

    functions: Mapping[str, str]
    """Exact lower-case function names and why they are refused."""
    function_prefixes: tuple[tuple[str, str], ...]
    """(prefix, why): every function whose name starts with prefix is refused..."""
    function_prefix_exceptions: frozenset[str]
    """...except these harmless ones."""
    table_functions: frozenset[str]
    """Allow-list: the only functions that may be called in FROM."""
    tables: Mapping[str, str]
    """Exact lower-case table names (last name part) and why they are refused."""
    table_prefixes: tuple[tuple[str, str], ...]
    """(prefix, why) for table names (last name part)."""
    schemas: Mapping[str, str]
    """Schema or catalog names whose tables are all refused."""
    path_like_tables: bool = False
    """DuckDB: a table name that looks like a file or URL is read as one (replacement scan)."""
    whole_row_references: bool = False
    """PostgreSQL, DuckDB: a bare table alias used as a value is the whole row."""
    session_variables: bool = False
    """MySQL: @user and @@system variables are session state and settings."""


def _names(why: str, *names: str) -> dict[str, str]:
    return dict.fromkeys(names, why)


def _freeze(*parts: dict[str, str]) -> Mapping[str, str]:
    merged: dict[str, str] = {}
    for part in parts:
        merged.update(part)
    return MappingProxyType(merged)


# ---------------------------------------------------------------------------------------------
# PostgreSQL

_PG_FUNCTIONS = _freeze(
    _names(
        READS_FILES,
        "pg_read_file",
        "pg_read_binary_file",
        "pg_stat_file",
        "pg_ls_dir",
        "pg_ls_logdir",
        "pg_ls_waldir",
        "pg_ls_tmpdir",
        "pg_ls_archive_statusdir",
        "pg_ls_logicalsnapdir",
        "pg_ls_logicalmapdir",
        "pg_ls_replslotdir",
        "pg_ls_summariesdir",
        "pg_logdir_ls",
        "pg_current_logfile",
    ),
    _names(WRITES_FILES, "pg_file_write", "pg_file_rename", "pg_file_unlink", "pg_file_sync"),
    _names(
        LARGE_OBJECTS,
        "lo_import",
        "lo_export",
        "lo_get",
        "lo_put",
        "lo_create",
        "lo_creat",
        "lo_unlink",
        "lo_from_bytea",
        "lo_open",
        "lo_close",
        "lo_lseek",
        "lo_lseek64",
        "lo_tell",
        "lo_tell64",
        "lo_truncate",
        "lo_truncate64",
        "loread",
        "lowrite",
    ),
    _names(
        REMOTE,
        "dblink",
        "dblink_exec",
        "dblink_connect",
        "dblink_connect_u",
        "dblink_disconnect",
        "dblink_open",
        "dblink_fetch",
        "dblink_close",
        "dblink_send_query",
        "dblink_get_result",
        "dblink_get_connections",
        "dblink_is_busy",
        "dblink_cancel_query",
        "dblink_error_message",
        "dblink_get_notify",
        "http",
        "http_get",
        "http_post",
        "http_put",
        "http_delete",
        "http_head",
        "http_patch",
    ),
    _names(
        NETWORK_INFO, "inet_server_addr", "inet_server_port", "inet_client_addr", "inet_client_port"
    ),
    _names(
        SETTINGS,
        "set_config",
        "current_setting",
        "pg_settings_get_flags",
        "pg_show_all_settings",
        "pg_show_all_file_settings",
        "pg_hba_file_rules",
        "pg_ident_file_mappings",
        "pg_conf_load_time",
    ),
    _names(SEQUENCES, "nextval", "setval", "currval", "lastval", "pg_sequence_last_value"),
    _names(SLEEP, "pg_sleep", "pg_sleep_for", "pg_sleep_until"),
    _names(
        LOCKS,
        "pg_advisory_lock",
        "pg_advisory_lock_shared",
        "pg_advisory_unlock",
        "pg_advisory_unlock_shared",
        "pg_advisory_unlock_all",
        "pg_advisory_xact_lock",
        "pg_advisory_xact_lock_shared",
        "pg_try_advisory_lock",
        "pg_try_advisory_lock_shared",
        "pg_try_advisory_xact_lock",
        "pg_try_advisory_xact_lock_shared",
    ),
    _names(
        SESSIONS,
        "pg_cancel_backend",
        "pg_terminate_backend",
        "pg_signal_backend",
        "pg_stat_get_activity",
        "pg_stat_get_backend_activity",
        "pg_stat_get_backend_pid",
        "pg_stat_get_backend_idset",
        "pg_blocking_pids",
        "pg_safe_snapshot_blocking_pids",
        "pg_log_backend_memory_contexts",
        "pg_notify",
        "pg_listening_channels",
        "pg_export_snapshot",
    ),
    _names(
        ADMIN,
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_promote",
        "pg_switch_wal",
        "pg_create_restore_point",
        "pg_backup_start",
        "pg_backup_stop",
        "pg_start_backup",
        "pg_stop_backup",
        "pg_create_physical_replication_slot",
        "pg_create_logical_replication_slot",
        "pg_drop_replication_slot",
        "pg_copy_physical_replication_slot",
        "pg_copy_logical_replication_slot",
        "pg_replication_slot_advance",
        "pg_logical_emit_message",
        "pg_stat_reset",
        "pg_stat_reset_shared",
        "pg_stat_reset_single_table_counters",
        "pg_stat_reset_single_function_counters",
        "pg_stat_reset_slru",
        "pg_stat_reset_replication_slot",
        "pg_import_system_collations",
        "pg_wal_replay_pause",
        "pg_wal_replay_resume",
        "pg_prewarm",
        "brin_summarize_new_values",
        "brin_summarize_range",
        "brin_desummarize_range",
        "gin_clean_pending_list",
    ),
    _names(
        DYNAMIC_SQL,
        "query_to_xml",
        "query_to_xmlschema",
        "query_to_xml_and_xmlschema",
        "table_to_xml",
        "table_to_xmlschema",
        "table_to_xml_and_xmlschema",
        "schema_to_xml",
        "schema_to_xmlschema",
        "schema_to_xml_and_xmlschema",
        "database_to_xml",
        "database_to_xmlschema",
        "database_to_xml_and_xmlschema",
        "cursor_to_xml",
        "cursor_to_xmlschema",
        "ts_stat",
        "ts_rewrite",
        "crosstab",
        "crosstab2",
        "crosstab3",
        "crosstab4",
        "connectby",
        "xpath_table",
    ),
    _names(SERVER_VERSION, "version"),
)

POSTGRES = Policy(
    functions=_PG_FUNCTIONS,
    function_prefixes=(
        ("pg_", "is a server administration or catalog function"),
        ("lo_", LARGE_OBJECTS),
        ("dblink", REMOTE),
        ("postgres_fdw", REMOTE),
        ("http_", REMOTE),
    ),
    function_prefix_exceptions=frozenset(
        {
            "pg_typeof",
            "pg_size_pretty",
            "pg_size_bytes",
            "pg_column_size",
            "pg_client_encoding",
            "pg_input_is_valid",
            "pg_input_error_info",
        }
    ),
    table_functions=frozenset(
        {
            "generate_series",
            "generate_subscripts",
            "unnest",
            "json_each",
            "json_each_text",
            "jsonb_each",
            "jsonb_each_text",
            "json_array_elements",
            "json_array_elements_text",
            "jsonb_array_elements",
            "jsonb_array_elements_text",
            "json_object_keys",
            "jsonb_object_keys",
            "json_to_record",
            "json_to_recordset",
            "jsonb_to_record",
            "jsonb_to_recordset",
            "json_populate_record",
            "json_populate_recordset",
            "jsonb_populate_record",
            "jsonb_populate_recordset",
            "jsonb_path_query",
            "regexp_matches",
            "regexp_split_to_table",
            "string_to_table",
            "json_table",
        }
    ),
    tables=MappingProxyType({}),
    table_prefixes=(("pg_", SYSTEM_CATALOG),),
    schemas=_freeze(_names(SYSTEM_CATALOG, INFORMATION_SCHEMA, "pg_catalog", "pg_toast")),
    whole_row_references=True,
)

# ---------------------------------------------------------------------------------------------
# DuckDB

_DUCKDB_FUNCTIONS = _freeze(
    _names(
        READS_FILES,
        "read_csv",
        "read_csv_auto",
        "read_parquet",
        "parquet_scan",
        "read_json",
        "read_json_auto",
        "read_json_objects",
        "read_json_objects_auto",
        "read_ndjson",
        "read_ndjson_auto",
        "read_ndjson_objects",
        "read_text",
        "read_blob",
        "read_xlsx",
        "read_duckdb",
        "read_avro",
        "sniff_csv",
        "glob",
        "parquet_metadata",
        "parquet_schema",
        "parquet_file_metadata",
        "parquet_kv_metadata",
        "parquet_full_metadata",
        "parquet_bloom_probe",
        "st_read",
        "st_read_meta",
        "st_readosm",
        "st_readshp",
        "iceberg_scan",
        "iceberg_metadata",
        "iceberg_snapshots",
        "delta_scan",
        "sqlite_scan",
        "sqlite_attach",
    ),
    _names(
        REMOTE,
        "postgres_scan",
        "postgres_scan_pushdown",
        "postgres_attach",
        "postgres_query",
        "postgres_execute",
        "mysql_query",
        "mysql_execute",
        "mysql_scan",
        "http_get",
        "http_post",
        "http_head",
    ),
    _names(HOST_OBJECTS, "arrow_scan", "arrow_scan_dumb", "python_arrow_scan", "pandas_scan"),
    _names(HOST_OBJECTS, "python_map_function"),
    _names(ENVIRONMENT, "getenv"),
    _names(SETTINGS, "current_setting", "duckdb_settings"),
    _names(SECRETS, "duckdb_secrets", "which_secret", "load_aws_credentials"),
    _names(SESSION_STATE, "getvariable", "setseed"),
    _names(SEQUENCES, "nextval", "currval", "setval"),
    _names(SLEEP, "pg_sleep", "sleep_ms"),
    _names(LOGS, "write_log", "enable_logging", "disable_logging", "truncate_duckdb_logs"),
    _names(SETTINGS, "enable_profiling", "disable_profiling"),
    _names(
        DYNAMIC_SQL,
        "query",
        "query_table",
        "json_execute_serialized_sql",
        "json_serialize_plan",
    ),
    _names(
        ADMIN,
        "checkpoint",
        "force_checkpoint",
        "create_external_resource",
        "register_external_resource",
        "register_external_resource_type",
        "deregister_external_resource",
        "destroy_external_resource",
    ),
    _names(
        NETWORK_INFO, "inet_server_addr", "inet_server_port", "inet_client_addr", "inet_client_port"
    ),
    _names(CATALOG, "duckdb_extensions", "duckdb_databases", "pg_postmaster_start_time"),
    _names(SERVER_VERSION, "version", "pragma_version"),
)

DUCKDB = Policy(
    functions=_DUCKDB_FUNCTIONS,
    function_prefixes=(
        ("read_", READS_FILES),
        ("parquet_", READS_FILES),
        ("iceberg_", READS_FILES),
        ("delta_", READS_FILES),
        ("sniff_", READS_FILES),
        ("st_read", READS_FILES),
        ("sqlite_", READS_FILES),
        ("postgres_", REMOTE),
        ("mysql_", REMOTE),
        ("http", REMOTE),
        ("python_", HOST_OBJECTS),
        ("pandas_", HOST_OBJECTS),
        ("arrow_", HOST_OBJECTS),
        ("duckdb_", CATALOG),
        ("pragma_", CATALOG),
        ("pg_", CATALOG),
    ),
    function_prefix_exceptions=frozenset({"pg_typeof", "pg_size_pretty"}),
    table_functions=frozenset(
        {"range", "generate_series", "unnest", "repeat", "repeat_row", "json_each", "json_tree"}
    ),
    tables=MappingProxyType({}),
    table_prefixes=(
        ("duckdb_", SYSTEM_CATALOG),
        ("pragma_", SYSTEM_CATALOG),
        ("sqlite_", SYSTEM_CATALOG),
    ),
    schemas=_freeze(_names(SYSTEM_CATALOG, INFORMATION_SCHEMA, "pg_catalog", "system")),
    path_like_tables=True,
    whole_row_references=True,
)

# ---------------------------------------------------------------------------------------------
# SQLite

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

_SQLITE_FUNCTIONS = _freeze(
    _names(EXTENSIONS, "load_extension"),
    _names(READS_FILES, "readfile", "fsdir", "zipfile", "zipfile_cds"),
    _names(WRITES_FILES, "writefile", "edit"),
    _names(POINTERS, "fts3_tokenizer", "fts5"),
    _names(LOGS, "sqlite_log"),
    _names(DYNAMIC_SQL, "eval", "sha3_query", "rtreecheck"),
    _names(
        CATALOG,
        "sqlite_compileoption_get",
        "sqlite_compileoption_used",
        "sqlite_source_id",
        "sqlite_offset",
    ),
    _names(SERVER_VERSION, "sqlite_version", "version"),
    _names(CATALOG, *(f"pragma_{name}" for name in _SQLITE_PRAGMAS)),
)

SQLITE = Policy(
    functions=_SQLITE_FUNCTIONS,
    function_prefixes=(("sqlite_", CATALOG), ("pragma_", CATALOG), ("fts3_", POINTERS)),
    function_prefix_exceptions=frozenset(),
    table_functions=frozenset(
        {"json_each", "json_tree", "jsonb_each", "jsonb_tree", "generate_series"}
    ),
    tables=_freeze(
        _names(VIRTUAL_TABLE, "dbstat", "fsdir", "zipfile", "completion", "sqlite_dbpage")
    ),
    table_prefixes=(("sqlite_", SYSTEM_CATALOG), ("pragma_", SYSTEM_CATALOG)),
    schemas=_freeze(_names(SYSTEM_CATALOG, INFORMATION_SCHEMA)),
)

# ---------------------------------------------------------------------------------------------
# MySQL and MariaDB

_MYSQL_FUNCTIONS = _freeze(
    _names(READS_FILES, "load_file"),
    _names(SLEEP, "sleep", "benchmark"),
    _names(
        SLEEP,
        "master_pos_wait",
        "source_pos_wait",
        "master_gtid_wait",
        "wait_for_executed_gtid_set",
        "wait_until_sql_thread_after_gtids",
    ),
    _names(LOCKS, "get_lock", "release_lock", "release_all_locks", "is_free_lock", "is_used_lock"),
    _names(SEQUENCES, "nextval", "lastval", "setval"),
    _names(OS_COMMANDS, "sys_exec", "sys_eval", "sys_get", "sys_set", "lib_mysqludf_sys_info"),
    _names(SESSIONS, "ps_thread_id", "ps_current_thread_id"),
    _names(SERVER_VERSION, "version"),
)

MYSQL = Policy(
    functions=_MYSQL_FUNCTIONS,
    function_prefixes=(),
    function_prefix_exceptions=frozenset(),
    table_functions=frozenset({"json_table"}),
    tables=MappingProxyType({}),
    table_prefixes=(),
    schemas=_freeze(
        _names(SYSTEM_CATALOG, INFORMATION_SCHEMA, "mysql", "performance_schema", "sys")
    ),
    session_variables=True,
)

POLICIES: Mapping[str, Policy] = MappingProxyType(
    {"duckdb": DUCKDB, "sqlite": SQLITE, "postgres": POSTGRES, "mysql": MYSQL}
)

# Cap for SQLite's randomblob()/zeroblob(): they allocate their argument in bytes. Small literal
# sizes (random ids, padding) are fine; anything larger or computed is refused by the guard, and
# the engine's SQLITE_LIMIT_LENGTH is the backstop when the guard is off.
MAX_BLOB_BYTES = 1_048_576
BLOB_ALLOCATORS = frozenset({"randomblob", "zeroblob"})
