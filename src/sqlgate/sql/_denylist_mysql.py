"""MySQL's and MariaDB's deny-list: file reads, sleeps, locks, sequences, UDF shells.

MySQL has few dangerous functions but several catalog schemas (``mysql``, ``sys``,
``performance_schema``, ``information_schema``); its ``@user`` and ``@@system`` variables are
session state, so the policy refuses them (``session_variables``), and ``JSON_TABLE`` is the only
table function.
"""

from __future__ import annotations

from sqlgate.sql._denylist import (
    INFORMATION_SCHEMA,
    LOCKS,
    OS_COMMANDS,
    READS_FILES,
    SEQUENCES,
    SERVER_VERSION,
    SESSIONS,
    SLEEP,
    SYSTEM_CATALOG,
    Policy,
    merged,
    names,
)

_MYSQL_FUNCTIONS = merged(
    names(READS_FILES, "load_file"),
    names(SLEEP, "sleep", "benchmark"),
    names(
        SLEEP,
        "master_pos_wait",
        "source_pos_wait",
        "master_gtid_wait",
        "wait_for_executed_gtid_set",
        "wait_until_sql_thread_after_gtids",
    ),
    names(LOCKS, "get_lock", "release_lock", "release_all_locks", "is_free_lock", "is_used_lock"),
    names(SEQUENCES, "nextval", "lastval", "setval"),
    names(OS_COMMANDS, "sys_exec", "sys_eval", "sys_get", "sys_set", "lib_mysqludf_sys_info"),
    names(SESSIONS, "ps_thread_id", "ps_current_thread_id"),
    names(SERVER_VERSION, "version"),
)

MYSQL = Policy(
    functions=_MYSQL_FUNCTIONS,
    table_functions=frozenset({"json_table"}),
    schemas=merged(names(SYSTEM_CATALOG, INFORMATION_SCHEMA, "mysql", "performance_schema", "sys")),
    session_variables=True,
)
