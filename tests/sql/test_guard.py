"""The SQL guard: every case of the shared security corpus, then each attack class beyond it."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import CORPUS

from sqlgate.sql.guard import MAX_SQL_CHARS, Analysis, analyze, denied_functions

DIALECTS = ("duckdb", "sqlite", "postgres", "mysql")
ENGINE_DIALECTS: dict[str, tuple[str, ...]] = {
    "any": DIALECTS,
    "duckdb": ("duckdb",),
    "sqlite": ("sqlite",),
    "postgres": ("postgres",),
    "mysql": ("mysql",),
}
REASONS = frozenset(
    {
        "empty",
        "too_long",
        "too_complex",
        "syntax_error",
        "multiple_statements",
        "not_read_only",
        "select_into",
        "locking_clause",
        "executable_comment",
        "ambiguous_syntax",
        "suspicious_character",
        "denied_function",
        "denied_table",
        "column_bypass",
        "session_variable",
        "resource_limit",
    }
)


def corpus_path() -> Path:
    """The shared security corpus (see tests/conftest.py for where it is looked up)."""
    return CORPUS


def corpus_params() -> list[Any]:
    params = []
    lines = corpus_path().read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        case = json.loads(line)
        for dialect in ENGINE_DIALECTS[case["engine"]]:
            params.append(
                pytest.param(
                    dialect,
                    case["sql"],
                    case["expect"],
                    case["why"],
                    id=f"line{number}-{dialect}-{case['expect']}",
                )
            )
    return params


def assert_refused(analysis: Analysis, context: str = "") -> None:
    assert analysis.is_valid is False, f"{context}: passed the guard"
    assert analysis.reason in REASONS, analysis
    assert analysis.error and len(analysis.error) > 15 and " " in analysis.error, analysis
    assert analysis.error[0].isupper(), analysis.error
    assert (analysis.tables, analysis.columns, analysis.parameters) == ([], [], [])
    if analysis.position is not None:
        assert analysis.line is not None and analysis.line >= 1
        assert analysis.column is not None and analysis.column >= 1
    else:
        assert analysis.line is None and analysis.column is None


def assert_allowed(analysis: Analysis, context: str = "") -> None:
    assert analysis.is_valid is True, f"{context}: {analysis.reason}: {analysis.error}"
    assert analysis.error is None and analysis.reason is None and analysis.position is None


# ---------------------------------------------------------------------------------------------
# The shared corpus

# Refused by a later layer by design: no parser can tell a table from a DataFrame that DuckDB
# would replacement-scan. The guard reports the name in `tables` for the service's table check,
# and the engine runs with replacement scans off.
NOT_A_GUARD_DECISION = {("duckdb", "SELECT * FROM other_tenant_df"): ["other_tenant_df"]}


@pytest.mark.parametrize(("dialect", "sql", "expect", "why"), corpus_params())
def test_corpus(dialect: str, sql: str, expect: str, why: str) -> None:
    analysis = analyze(sql, dialect)
    if (dialect, sql) in NOT_A_GUARD_DECISION:
        assert_allowed(analysis, why)
        assert analysis.tables == NOT_A_GUARD_DECISION[dialect, sql]
    elif expect == "allow":
        assert_allowed(analysis, why)
    else:
        assert expect == "reject"
        assert_refused(analysis, why)


def test_corpus_is_found_and_complete() -> None:
    # A typo in the path must not turn the corpus test into zero cases.
    assert len(corpus_params()) >= 164


# ---------------------------------------------------------------------------------------------
# Each attack class, beyond the corpus: (dialect, sql, reason)

REFUSED: list[tuple[str, str, str]] = [
    # Empty, oversized, unparseable: fail closed.
    *((d, sql, "empty") for d in DIALECTS for sql in ("", "  \n\t", "/* only */", ";")),
    *((d, sql, "syntax_error") for d in DIALECTS for sql in ("SELEC 1", "SELECT (", "SELECT 'x")),
    ("postgres", "SELECT 1 /* never closed", "syntax_error"),
    ("mysql", "DO SLEEP(10)", "syntax_error"),
    ("postgres", "SELECT " + "(" * 3000 + "1" + ")" * 3000, "too_complex"),
    # Stacked statements and stray separators.
    *((d, "SELECT 1; SELECT 2", "multiple_statements") for d in DIALECTS),
    *((d, "SELECT 1;;", "multiple_statements") for d in DIALECTS),
    *((d, ";SELECT 1", "multiple_statements") for d in DIALECTS),
    ("mysql", "SELECT 1--1; DROP TABLE users", "multiple_statements"),
    ("postgres", "SELECT $tag$ ; $tag$; DELETE FROM users", "multiple_statements"),
    # Statements that are not read-only queries, including sqlglot's opaque Command fallback.
    *((d, "DELETE FROM users", "not_read_only") for d in DIALECTS),
    *((d, "DROP TABLE users", "not_read_only") for d in DIALECTS),
    *((d, "EXPLAIN SELECT 1", "not_read_only") for d in DIALECTS),
    ("postgres", "EXPLAIN (FORMAT JSON) SELECT 1", "not_read_only"),
    (
        "postgres",
        "MERGE INTO users u USING orders o ON u.id = o.user_id WHEN MATCHED THEN DELETE",
        "not_read_only",
    ),
    ("postgres", "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", "not_read_only"),
    ("postgres", "GRANT SELECT ON users TO public", "not_read_only"),
    ("postgres", "COMMENT ON TABLE users IS 'x'", "not_read_only"),
    ("postgres", "ANALYZE users", "not_read_only"),
    ("postgres", "CALL purge()", "not_read_only"),
    ("postgres", "LISTEN ch", "not_read_only"),
    ("postgres", "NOTIFY ch", "not_read_only"),
    ("postgres", "PREPARE p AS SELECT 1", "not_read_only"),
    ("postgres", "DEALLOCATE ALL", "not_read_only"),
    ("postgres", "SET ROLE admin", "not_read_only"),
    ("postgres", "RESET statement_timeout", "not_read_only"),
    ("postgres", "SHOW ALL", "not_read_only"),
    ("postgres", "COMMIT", "not_read_only"),
    ("mysql", "USE other", "not_read_only"),
    ("mysql", "FLUSH PRIVILEGES", "not_read_only"),
    ("mysql", "SHOW TABLES", "not_read_only"),
    ("mysql", "SET @a = 1", "not_read_only"),
    ("duckdb", "SHOW TABLES", "not_read_only"),
    ("duckdb", "DESCRIBE users", "not_read_only"),
    ("duckdb", "SUMMARIZE users", "not_read_only"),
    ("duckdb", "LOAD httpfs", "not_read_only"),
    ("duckdb", "PIVOT users ON org_id USING count(*)", "not_read_only"),
    ("duckdb", "EXPLAIN ANALYZE SELECT 1", "not_read_only"),
    ("sqlite", "ATTACH DATABASE '/tmp/x.db' AS x", "not_read_only"),
    ("sqlite", "VACUUM INTO '/tmp/x.db'", "not_read_only"),
    ("sqlite", "EXPLAIN QUERY PLAN SELECT 1", "not_read_only"),
    # DML/DDL nested anywhere, not just at the root.
    (
        "postgres",
        "SELECT * FROM users WHERE id IN "
        "(WITH d AS (DELETE FROM users RETURNING id) SELECT id FROM d)",
        "not_read_only",
    ),
    ("postgres", "WITH d AS (INSERT INTO t VALUES (1) RETURNING 1) SELECT 1", "not_read_only"),
    (
        "postgres",
        "WITH a AS (WITH b AS (UPDATE users SET name = 'x' RETURNING id) SELECT * FROM b) "
        "SELECT * FROM a",
        "not_read_only",
    ),
    ("postgres", "WITH d AS (CHECKPOINT) SELECT 1", "not_read_only"),
    # SELECT ... INTO in every spelling.
    ("postgres", "SELECT * INTO new_t FROM users", "select_into"),
    ("postgres", "SELECT * INTO UNLOGGED new_t FROM users", "select_into"),
    ("duckdb", "SELECT * INTO t FROM users", "select_into"),
    ("sqlite", "SELECT * INTO t FROM users", "select_into"),
    ("mysql", "SELECT * FROM users INTO OUTFILE '/tmp/x'", "select_into"),
    ("mysql", "SELECT * INTO OUTFILE '/tmp/x' FROM users", "select_into"),
    ("mysql", "SELECT * FROM users INTO DUMPFILE '/tmp/x'", "select_into"),
    ("mysql", "SELECT id INTO @a FROM users", "select_into"),
    # Locking clauses, also inside subqueries.
    *((d, "SELECT * FROM users FOR UPDATE", "locking_clause") for d in DIALECTS),
    ("postgres", "SELECT * FROM users FOR KEY SHARE", "locking_clause"),
    ("postgres", "SELECT * FROM (SELECT * FROM users FOR UPDATE) t", "locking_clause"),
    ("postgres", "SELECT * FROM users FOR UPDATE OF users", "locking_clause"),
    ("mysql", "SELECT * FROM users FOR SHARE", "locking_clause"),
    ("mysql", "SELECT * FROM users FOR UPDATE NOWAIT", "locking_clause"),
    # Executable comments and optimizer hints.
    ("mysql", "SELECT 1 /*!50000 UNION SELECT pw_hash FROM users */", "executable_comment"),
    ("mysql", "SELECT 1 /*M!100000 , LOAD_FILE('/etc/passwd') */", "executable_comment"),
    ("mysql", "SELECT /*+ SET_VAR(max_execution_time=0) */ * FROM users", "executable_comment"),
    ("mysql", "SELECT /*+ MAX_EXECUTION_TIME(100000000) */ * FROM users", "executable_comment"),
    ("mysql", "SELECT 1 --/*! , LOAD_FILE('/etc/passwd') */", "executable_comment"),
    ("postgres", "SELECT 1 /*+ Set(statement_timeout 0) */", "executable_comment"),
    ("duckdb", "SELECT /*! 1 */ 2", "executable_comment"),
    # Lexer disagreements between sqlglot, the engines and server settings.
    *((d, "SELECT 1 /* a /* b */ c */", "ambiguous_syntax") for d in ("postgres", "duckdb")),
    ("sqlite", "SELECT 1 /* /* */ 2", "ambiguous_syntax"),
    ("mysql", "SELECT 1 /* /* */ 2", "ambiguous_syntax"),
    ("sqlite", "SELECT 1 -- note\r; DROP TABLE users", "ambiguous_syntax"),
    ("mysql", "SELECT 1 -- note\r; DROP TABLE users", "ambiguous_syntax"),
    ("mysql", "SELECT 'It\\'s' AS s", "ambiguous_syntax"),
    ("mysql", 'SELECT "a\\"; DROP TABLE t; -- " AS s', "ambiguous_syntax"),
    ("postgres", "SELECT 'a\\' || 'b'", "ambiguous_syntax"),
    ("postgres", 'SELECT U&"pg\\005fsleep"(1)', "ambiguous_syntax"),
    # Characters that look like (or normalise into) something else, outside literals.
    *((d, "SELECT 1 \u037e DROP TABLE users", "suspicious_character") for d in DIALECTS),
    *((d, "SELECT 1 \uff1b DROP TABLE users", "suspicious_character") for d in DIALECTS),
    ("postgres", "SELECT\u00a0* FROM users", "suspicious_character"),
    ("postgres", "SELECT 1\u200b FROM users", "suspicious_character"),
    ("postgres", "\ufeffSELECT 1", "suspicious_character"),
    ("postgres", "SELECT 1\u2028FROM users", "suspicious_character"),
    ("postgres", "SELECT 1\x00; DROP TABLE users", "suspicious_character"),
    ("mysql", "SELECT 1\x01", "suspicious_character"),
    ("postgres", "SELECT \uff49\uff44 FROM users", "suspicious_character"),
    # Functions that read files, reach the network, read settings, sleep, lock, ...: by name as
    # written, quoted, upper-case, schema-qualified, nested anywhere, and in FROM.
    ("duckdb", "SELECT * FROM read_json('x.json')", "denied_function"),
    ("duckdb", "SELECT * FROM read_ndjson_auto('x.json')", "denied_function"),
    ("duckdb", "SELECT * FROM read_parquet(['a.parquet', 'b.parquet'])", "denied_function"),
    ("duckdb", "SELECT * FROM parquet_scan('x.parquet')", "denied_function"),
    ("duckdb", "SELECT * FROM parquet_metadata('x.parquet')", "denied_function"),
    ("duckdb", "SELECT * FROM glob('/home/*')", "denied_function"),
    ("duckdb", "SELECT * FROM read_xlsx('x.xlsx')", "denied_function"),
    ("duckdb", "SELECT * FROM st_read('x.shp')", "denied_function"),
    ("duckdb", "SELECT * FROM iceberg_scan('s3://b/t')", "denied_function"),
    ("duckdb", "SELECT * FROM delta_scan('s3://b/t')", "denied_function"),
    ("duckdb", "SELECT * FROM sqlite_scan('x.db', 't')", "denied_function"),
    ("duckdb", "SELECT * FROM postgres_scan('host=x', 'public', 't')", "denied_function"),
    ("duckdb", "SELECT * FROM mysql_query('db', 'SELECT 1')", "denied_function"),
    ("duckdb", "SELECT * FROM query('SELECT * FROM secrets')", "denied_function"),
    ("duckdb", "SELECT * FROM json_execute_serialized_sql('{}')", "denied_function"),
    ("duckdb", "SELECT json_serialize_plan('SELECT * FROM secrets')", "denied_function"),
    ("duckdb", "SELECT * FROM duckdb_settings()", "denied_function"),
    ("duckdb", "SELECT * FROM duckdb_secrets()", "denied_function"),
    ("duckdb", "SELECT * FROM duckdb_extensions()", "denied_function"),
    ("duckdb", "SELECT * FROM which_secret('s3://b', 's3')", "denied_function"),
    ("duckdb", "SELECT * FROM checkpoint()", "denied_function"),
    ("duckdb", "SELECT * FROM pragma_version()", "denied_function"),
    ("duckdb", "SELECT * FROM arrow_scan(1, 2, 3)", "denied_function"),
    ("duckdb", "SELECT * FROM test_all_types()", "denied_function"),  # not allow-listed
    ("duckdb", "SELECT getenv('HOME')", "denied_function"),
    ("duckdb", "SELECT 'HOME'.getenv()", "denied_function"),
    ("duckdb", "SELECT current_setting('threads')", "denied_function"),
    ("duckdb", "SELECT getvariable('x')", "denied_function"),
    ("duckdb", "SELECT currval('s')", "denied_function"),
    ("duckdb", "SELECT setseed(0.5)", "denied_function"),
    ("duckdb", "SELECT sleep_ms(100000)", "denied_function"),
    ("duckdb", "SELECT write_log('x')", "denied_function"),
    ("duckdb", "SELECT version()", "denied_function"),
    ("duckdb", "SELECT \"read_csv\"('x')", "denied_function"),
    ("duckdb", "SELECT * FROM READ_CSV('x')", "denied_function"),
    ("duckdb", "SELECT * FROM main.read_csv('x')", "denied_function"),
    (
        "duckdb",
        "SELECT * FROM users u JOIN LATERAL (SELECT * FROM read_text(u.name)) t ON true",
        "denied_function",
    ),
    (
        "duckdb",
        "WITH f AS (SELECT * FROM read_blob('/etc/shadow')) SELECT * FROM f",
        "denied_function",
    ),
    ("duckdb", "SELECT list_transform(['HOME'], x -> getenv(x))", "denied_function"),
    ("postgres", "SELECT * FROM pg_ls_dir('.')", "denied_function"),
    ("postgres", "SELECT pg_stat_file('postgresql.conf')", "denied_function"),
    ("postgres", 'SELECT "PG_CATALOG"."PG_SLEEP"(1)', "denied_function"),
    ("postgres", "SELECT pg_sleep (1)", "denied_function"),
    ("postgres", "SELECT pg_sleep/**/(1)", "denied_function"),
    ("postgres", "SELECT pg_sleep_for('1 hour')", "denied_function"),
    ("postgres", "SELECT * FROM pg_sleep(10)", "denied_function"),
    ("postgres", "SELECT pg_terminate_backend(1)", "denied_function"),
    ("postgres", "SELECT pg_advisory_xact_lock(1)", "denied_function"),
    ("postgres", "SELECT pg_notify('ch', 'x')", "denied_function"),
    ("postgres", "SELECT lo_get(16409)", "denied_function"),
    ("postgres", "SELECT dblink_exec('host=x', 'DELETE FROM users')", "denied_function"),
    ("postgres", "SELECT query_to_xml('SELECT * FROM secrets', true, true, '')", "denied_function"),
    ("postgres", "SELECT table_to_xml('secrets', true, true, '')", "denied_function"),
    ("postgres", "SELECT * FROM ts_stat('SELECT body FROM secrets')", "denied_function"),
    ("postgres", "SELECT setval('s', 1)", "denied_function"),
    ("postgres", "SELECT lastval()", "denied_function"),
    ("postgres", "SELECT inet_client_addr()", "denied_function"),
    ("postgres", "SELECT pg_rotate_logfile()", "denied_function"),
    ("postgres", "SELECT pg_get_viewdef('v')", "denied_function"),  # pg_* prefix
    ("postgres", "SELECT version()", "denied_function"),
    ("postgres", "SELECT * FROM crosstab('SELECT 1')", "denied_function"),
    ("postgres", "SELECT * FROM upper('x')", "denied_function"),  # not allow-listed in FROM
    ("postgres", "SELECT * FROM ROWS FROM (generate_series(1, 3), pg_sleep(1))", "denied_function"),
    (
        "postgres",
        "SELECT * FROM orders WHERE EXISTS "
        "(SELECT 1 FROM users WHERE current_setting('app.org_id') = '1')",
        "denied_function",
    ),
    ("sqlite", "SELECT load_extension('/tmp/evil.so')", "denied_function"),
    ("sqlite", "SELECT readfile('/etc/passwd')", "denied_function"),
    ("sqlite", "SELECT edit('x', 'vi')", "denied_function"),
    ("sqlite", "SELECT * FROM fsdir('/etc')", "denied_function"),
    ("sqlite", "SELECT * FROM zipfile('x.zip')", "denied_function"),
    ("sqlite", "SELECT fts5(NULL)", "denied_function"),
    ("sqlite", "SELECT eval('DELETE FROM users')", "denied_function"),
    ("sqlite", "SELECT sqlite_version()", "denied_function"),
    ("sqlite", "SELECT sqlite_compileoption_get(0)", "denied_function"),
    ("sqlite", "SELECT sqlite_log(1, 'x')", "denied_function"),
    ("sqlite", "SELECT * FROM pragma_table_info('users')", "denied_function"),
    ("mysql", "SELECT LOAD_FILE('/etc/passwd')", "denied_function"),
    ("mysql", "SELECT CONVERT(LOAD_FILE('/etc/passwd') USING utf8)", "denied_function"),
    ("mysql", "SELECT 1 UNION SELECT load_file('/etc/shadow')", "denied_function"),
    ("mysql", "SELECT sleep(10)", "denied_function"),
    ("mysql", "SELECT SLEEP (10)", "denied_function"),
    ("mysql", "SELECT GET_LOCK('x', 10)", "denied_function"),
    ("mysql", "SELECT release_all_locks()", "denied_function"),
    ("mysql", "SELECT master_pos_wait('log', 4)", "denied_function"),
    ("mysql", "SELECT sys_exec('id')", "denied_function"),
    ("mysql", "SELECT NEXTVAL(s)", "denied_function"),
    ("mysql", "SELECT VERSION()", "denied_function"),
    # Huge allocations: SQLite blobs need a small literal size.
    ("sqlite", "SELECT randomblob(2000000)", "resource_limit"),
    ("sqlite", "SELECT randomblob(id) FROM users", "resource_limit"),
    ("sqlite", "SELECT zeroblob(1024 * 1024 * 1024)", "resource_limit"),
    ("sqlite", "SELECT zeroblob(-1)", "resource_limit"),
    # System catalogs and virtual tables, however written.
    *((d, "SELECT * FROM information_schema.tables", "denied_table") for d in DIALECTS),
    *((d, "SELECT * FROM INFORMATION_SCHEMA.COLUMNS", "denied_table") for d in DIALECTS),
    ("postgres", "SELECT * FROM pg_shadow", "denied_table"),
    ("postgres", "SELECT * FROM pg_settings", "denied_table"),
    ("postgres", "SELECT * FROM pg_file_settings", "denied_table"),
    ("postgres", 'SELECT * FROM "pg_authid"', "denied_table"),
    ("postgres", "SELECT * FROM PG_USER", "denied_table"),
    ("postgres", "SELECT * FROM pg_catalog.pg_class", "denied_table"),
    ("postgres", "SELECT * FROM pg_toast.pg_toast_1", "denied_table"),
    (
        "postgres",
        "SELECT * FROM users WHERE id = (SELECT setting::int FROM pg_settings LIMIT 1)",
        "denied_table",
    ),
    ("postgres", "WITH s AS (SELECT * FROM pg_roles) SELECT * FROM s", "denied_table"),
    ("duckdb", "SELECT * FROM duckdb_tables", "denied_table"),
    ("duckdb", "SELECT * FROM sqlite_master", "denied_table"),
    ("duckdb", "SELECT * FROM pg_catalog.pg_tables", "denied_table"),
    ("duckdb", "SELECT * FROM system.main.duckdb_settings", "denied_table"),
    ("sqlite", "SELECT * FROM sqlite_schema", "denied_table"),
    ("sqlite", "SELECT * FROM sqlite_temp_master", "denied_table"),
    ("sqlite", "SELECT * FROM main.sqlite_master", "denied_table"),
    ("sqlite", "SELECT * FROM sqlite_sequence", "denied_table"),
    ("sqlite", "SELECT * FROM dbstat", "denied_table"),
    ("sqlite", "SELECT * FROM fsdir WHERE name = '/etc'", "denied_table"),
    ("mysql", "SELECT * FROM mysql.user", "denied_table"),
    ("mysql", "SELECT * FROM performance_schema.threads", "denied_table"),
    ("mysql", "SELECT * FROM sys.processlist", "denied_table"),
    # DuckDB replacement scans: a table name that is a path or URL is read as a file.
    ("duckdb", "SELECT * FROM '/etc/passwd'", "denied_table"),
    ("duckdb", "SELECT * FROM 'https://example.com/x.csv'", "denied_table"),
    ("duckdb", 'SELECT * FROM "s3://bucket/key.parquet"', "denied_table"),
    ("duckdb", "SELECT * FROM 'data/*.parquet'", "denied_table"),
    ("duckdb", "SELECT * FROM '~/x.csv'", "denied_table"),
    ("duckdb", 'SELECT * FROM "x.json"', "denied_table"),
    ("duckdb", "SELECT * FROM data.csv", "denied_table"),
    ("duckdb", "SELECT * FROM x.csv.gz", "denied_table"),
    ("duckdb", "SELECT * FROM users, (FROM '/etc/hosts')", "denied_table"),
    # Selecting columns by pattern or as whole rows bypasses column allow-lists.
    ("duckdb", "SELECT COLUMNS(*) FROM users", "column_bypass"),
    ("duckdb", "SELECT COLUMNS(c -> c LIKE 'pw%') FROM users", "column_bypass"),
    ("duckdb", "SELECT * LIKE 'pw%' FROM users", "column_bypass"),
    ("duckdb", "SELECT * ILIKE 'PW%' FROM users", "column_bypass"),
    ("duckdb", "SELECT * SIMILAR TO 'pw.*' FROM users", "column_bypass"),
    ("duckdb", "SELECT * GLOB 'pw*' FROM users", "column_bypass"),
    ("duckdb", "SELECT u.* LIKE 'pw%' FROM users u", "column_bypass"),
    ("duckdb", "SELECT struct_pack(*) FROM users", "column_bypass"),
    ("duckdb", "SELECT to_json(u) FROM users u", "column_bypass"),
    ("duckdb", "SELECT r FROM users r", "column_bypass"),
    ("postgres", "SELECT to_jsonb(users) FROM users", "column_bypass"),
    ("postgres", "SELECT json_agg(u) FROM users u", "column_bypass"),
    ("postgres", "SELECT to_json(u.*) FROM users u", "column_bypass"),
    ("postgres", "SELECT array_agg(o.*) FROM orders o", "column_bypass"),
    ("postgres", "SELECT (u).pw_hash FROM users u", "column_bypass"),
    ("postgres", "WITH t AS (SELECT * FROM users) SELECT t FROM t", "column_bypass"),
    # MySQL variables: settings disclosure and session state.
    ("mysql", "SELECT @@version", "session_variable"),
    ("mysql", "SELECT @@global.max_execution_time", "session_variable"),
    ("mysql", "SELECT @a", "session_variable"),
    ("mysql", "SELECT @a := pw_hash FROM users", "session_variable"),
]


@pytest.mark.parametrize(
    ("dialect", "sql", "reason"),
    REFUSED,
    ids=[f"{reason}-{dialect}-{i}" for i, (dialect, _, reason) in enumerate(REFUSED)],
)
def test_refused(dialect: str, sql: str, reason: str) -> None:
    analysis = analyze(sql, dialect)
    assert_refused(analysis, sql)
    assert analysis.reason == reason, analysis.error


def test_too_long() -> None:
    analysis = analyze("SELECT 1" + " " * MAX_SQL_CHARS, "postgres")
    assert_refused(analysis)
    assert analysis.reason == "too_long"


# ---------------------------------------------------------------------------------------------
# False positives: legitimate read-only analytics must pass.

ALLOWED: list[tuple[str, str]] = [
    *(
        (d, "SELECT count(*), sum(amount), avg(total), min(id), max(id) FROM orders")
        for d in DIALECTS
    ),
    *(
        (d, "SELECT coalesce(note, 'none'), upper(note), length(note) FROM orders")
        for d in DIALECTS
    ),
    *(
        (d, "SELECT id FROM users UNION SELECT user_id FROM orders EXCEPT SELECT 3")
        for d in DIALECTS
    ),
    *((d, "SELECT * FROM (SELECT id FROM users) AS t WHERE t.id > 1") for d in DIALECTS),
    *((d, "VALUES (1, 'a'), (2, 'b')") for d in ("duckdb", "sqlite", "postgres")),
    *((d, "SELECT 'pg_sleep(1); read_csv(''/x'')' AS s") for d in DIALECTS),
    *((d, "SELECT id FROM users -- /*! not executable inside a line comment */") for d in DIALECTS),
    *(
        (d, "SELECT ';' AS literal, \"\u037e\" FROM users")
        for d in ("duckdb", "postgres", "sqlite")
    ),
    *((d, "SELECT 1 -- windows line ending\r\nFROM users") for d in DIALECTS),
    *(
        (d, "WITH total AS (SELECT sum(amount) AS total FROM orders) SELECT total FROM total")
        for d in DIALECTS
    ),
    ("duckdb", "SELECT * FROM users WHERE name GLOB 'a*'"),
    ("duckdb", "SELECT histogram(org_id) FROM users"),
    ("duckdb", "SELECT date_trunc('month', created_at), count(*) FROM orders GROUP BY ALL"),
    ("duckdb", "SELECT x FROM range(10) t(x)"),
    ("duckdb", "SELECT * FROM generate_series(1, 3)"),
    ("duckdb", "SELECT * FROM unnest([1, 2, 3])"),
    ("duckdb", "SELECT * FROM repeat('a', 3)"),
    ("duckdb", "SELECT * FROM users u, LATERAL unnest([1, 2]) AS t(x)"),
    ("duckdb", "FROM users SELECT id, name"),
    ("duckdb", "SELECT * EXCLUDE (pw_hash) FROM users"),
    ("duckdb", "SELECT * REPLACE (upper(name) AS name) FROM users"),
    ("duckdb", "SELECT u.* FROM users u"),
    ("duckdb", "SELECT count(u.*) FROM users u"),
    ("duckdb", "SELECT [x * 2 for x in [1, 2, 3]], list_transform([1, 2], x -> x + 1)"),
    ("duckdb", "SELECT payload->>'a', json_extract(payload, '$.a') FROM events"),
    ("duckdb", "SELECT * FROM users QUALIFY row_number() OVER (PARTITION BY org_id) = 1"),
    ("duckdb", "SELECT epoch_ms(1), md5('x'), uuid(), random(), now()"),
    ("duckdb", "SELECT regexp_extract(name, '[a-z]+'), strftime(created_at, '%Y-%m') FROM users"),
    ("duckdb", "SELECT * FROM (PIVOT users ON org_id USING count(*))"),
    ("duckdb", "SELECT * FROM db.main.users"),
    ("duckdb", "SELECT 'C:\\temp\\' AS windows_path"),
    ("duckdb", "WITH users AS (SELECT 1 AS id) SELECT * FROM users"),
    ("duckdb", "SELECT * FROM users WHERE org_id = $org"),
    ("postgres", "SELECT * FROM generate_series(1, 3) WITH ORDINALITY AS g(n, i)"),
    ("postgres", "SELECT n FROM generate_series(1, 3) AS n"),
    ("postgres", "SELECT * FROM users u CROSS JOIN LATERAL generate_series(1, u.id) g"),
    ("postgres", "SELECT * FROM ROWS FROM (generate_series(1, 3)) AS t(a)"),
    ("postgres", "SELECT e.value FROM events, jsonb_array_elements(payload::jsonb) AS e"),
    ("postgres", "SELECT * FROM json_to_recordset('[]') AS x(a int)"),
    ("postgres", "SELECT * FROM regexp_matches('abc', '[a-z]', 'g')"),
    ("postgres", "SELECT * FROM unnest(ARRAY[1, 2]) WITH ORDINALITY"),
    ("postgres", "SELECT payload->>'a', payload#>>'{a,b}' FROM events"),
    ("postgres", "SELECT count(*) FILTER (WHERE amount > 10) FROM orders"),
    ("postgres", "SELECT array_agg(id ORDER BY id), string_agg(name, ', ') FROM users"),
    ("postgres", "SELECT * FROM users TABLESAMPLE SYSTEM (10)"),
    ("postgres", "SELECT pg_typeof(1), pg_size_pretty(10::bigint)"),
    ("postgres", "SELECT regexp_replace(name, '\\d+', '') FROM users"),
    ("postgres", "SELECT E'it\\'s' AS s"),
    ("postgres", "SELECT $$a 'quoted'; string$$ AS s"),
    ("postgres", 'SELECT u & "flags" FROM users'),
    ("postgres", "SELECT status.status FROM status"),
    ("postgres", "SELECT café FROM users"),
    ("postgres", "SELECT :org::int, created_at::date FROM users WHERE org_id = :org"),
    ("postgres", "SELECT * FROM users WHERE org_id = %(org)s"),
    ("postgres", "SELECT * FROM users WHERE org_id = $1"),
    ("postgres", "SELECT id FROM users EXCEPT ALL SELECT user_id FROM orders"),
    ("sqlite", "SELECT value FROM json_each('[1, 2]')"),
    ("sqlite", "SELECT * FROM users WHERE glob('a*', name)"),
    ("sqlite", "SELECT hex(randomblob(16)), zeroblob(16)"),
    ("sqlite", "SELECT printf('%d', 1), iif(1, 2, 3), strftime('%Y', created_at) FROM orders"),
    ("sqlite", "SELECT 'C:\\' AS path"),
    ("sqlite", "SELECT * FROM users WHERE id = :id OR name = @name OR email = $email"),
    ("sqlite", "SELECT u FROM users u"),  # SQLite has no whole-row values: u is a column
    ("mysql", "SELECT DATE_FORMAT(created_at, '%Y-%m'), GROUP_CONCAT(name) FROM users LIMIT 5, 10"),
    ("mysql", "SELECT `name` FROM `users` WHERE `org_id` = 1"),
    ("mysql", "SELECT * FROM JSON_TABLE('[1]', '$[*]' COLUMNS (x INT PATH '$')) AS t"),
    ("mysql", "SELECT 1--1"),
    ("mysql", "SELECT 1 # a hash comment\nFROM users"),
    ("mysql", "SELECT 'a\\\\' AS one_backslash, 'a\\_%' AS escaped_wildcard"),
    ("mysql", "SELECT '/*!' AS s, \"/*+\" AS t"),
    ("mysql", "SELECT * FROM users WHERE id = :id"),
]


@pytest.mark.parametrize(
    ("dialect", "sql"), ALLOWED, ids=[f"{d}-{i}" for i, (d, _) in enumerate(ALLOWED)]
)
def test_allowed(dialect: str, sql: str) -> None:
    assert_allowed(analyze(sql, dialect), sql)


# ---------------------------------------------------------------------------------------------
# Positions


def test_syntax_error_position_on_line_2() -> None:
    sql = "SELECT id\nFROM users WHERE ("
    analysis = analyze(sql, "postgres")
    assert analysis.reason == "syntax_error"
    assert analysis.position == sql.index("(")
    assert (analysis.line, analysis.column) == (2, 18)


def test_unterminated_string_position() -> None:
    sql = "SELECT 1,\n  'abc"
    analysis = analyze(sql, "duckdb")
    assert analysis.reason == "syntax_error"
    assert analysis.position == sql.index("'")
    assert (analysis.line, analysis.column) == (2, 3)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_denied_function_position(newline: str) -> None:
    sql = f"SELECT id,{newline}       pg_sleep(1){newline}FROM users"
    analysis = analyze(sql, "postgres")
    assert analysis.reason == "denied_function"
    assert analysis.error == "Function pg_sleep sleeps, waits or burns CPU and is not allowed"
    assert analysis.position == sql.index("pg_sleep")
    assert (analysis.line, analysis.column) == (2, 8)


@pytest.mark.parametrize(
    ("dialect", "sql", "token"),
    [
        ("postgres", "SELECT 1; DELETE FROM users", ";"),
        ("postgres", "WITH d AS (DELETE FROM users RETURNING 1) SELECT * FROM d", "DELETE"),
        ("postgres", "SELECT * FROM users FOR UPDATE", "FOR"),
        ("postgres", "SELECT id INTO TEMP t FROM users", "INTO"),
        ("mysql", "SELECT * FROM users /*!INTO OUTFILE '/tmp/x' */", "/*!"),
        ("mysql", "SELECT 1, @@datadir", "@@"),
        ("duckdb", "SELECT * FROM users, '/etc/passwd'", "'/etc/passwd'"),
        ("duckdb", "SELECT id, COLUMNS('pw.*') FROM users", "COLUMNS"),
        ("sqlite", "SELECT * FROM main.sqlite_master", "main"),
        ("postgres", "SELECT 1 \u037e DROP TABLE users", "\u037e"),
    ],
)
def test_position_points_at_the_offending_token(dialect: str, sql: str, token: str) -> None:
    analysis = analyze(sql, dialect)
    assert_refused(analysis)
    assert analysis.position == sql.index(token)
    assert (analysis.line, analysis.column) == (1, sql.index(token) + 1)


def test_statement_error_message() -> None:
    analysis = analyze("SELECT 1; DELETE FROM users", "sqlite")
    assert analysis.error == "Only one statement is allowed; found 2"
    assert analysis.reason == "multiple_statements"


# ---------------------------------------------------------------------------------------------
# What a valid analysis reports


@pytest.mark.parametrize(
    ("dialect", "sql", "parameters"),
    [
        (
            "duckdb",
            "SELECT $user, name FROM users WHERE org_id = $org AND id = $user",
            ["user", "org"],
        ),
        ("duckdb", "SELECT $1, ? FROM users", []),
        ("postgres", "SELECT :b, :a FROM users WHERE org_id = :b", ["b", "a"]),
        ("postgres", "SELECT :x::int, created_at::date, ':not_a_param' FROM users", ["x"]),
        ("postgres", "SELECT * FROM users WHERE id = %(id)s AND org_id = %(org)s", ["id", "org"]),
        ("postgres", "SELECT $1, $2", []),
        (
            "sqlite",
            "SELECT * FROM users WHERE email = $email OR name = @name OR id = :id",
            ["email", "name", "id"],
        ),
        ("sqlite", "SELECT ?, ? FROM users", []),
        ("mysql", "SELECT * FROM users WHERE id = :id AND org_id = :org", ["id", "org"]),
        ("mysql", "SELECT ? FROM users", []),
    ],
)
def test_parameters(dialect: str, sql: str, parameters: list[str]) -> None:
    analysis = analyze(sql, dialect)
    assert_allowed(analysis, sql)
    assert analysis.parameters == parameters
    assert not any(p.startswith(("$", ":", "@")) for p in analysis.columns)


def test_tables_and_columns_exclude_cte_names() -> None:
    sql = (
        "WITH recent AS (SELECT id, user_id FROM orders WHERE created_at > :since), "
        "big AS (SELECT user_id FROM recent WHERE id > 10) "
        "SELECT u.name, count(*) AS n FROM users u JOIN big b "
        "ON b.user_id = u.id GROUP BY u.name"
    )
    analysis = analyze(sql, "postgres")
    assert_allowed(analysis)
    assert analysis.query_type == "select"
    assert analysis.tables == ["orders", "users"]
    assert analysis.columns == ["created_at", "id", "name", "user_id"]
    assert analysis.parameters == ["since"]


@pytest.mark.parametrize(
    ("dialect", "sql", "tables"),
    [
        # A CTE shadows a table only inside its own scope.
        (
            "duckdb",
            "SELECT * FROM (WITH users AS (SELECT * FROM secrets) SELECT * FROM users) x, users",
            ["secrets", "users"],
        ),
        # Later CTEs are not visible from earlier ones (unless RECURSIVE).
        ("duckdb", "WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a", ["b"]),
        (
            "postgres",
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 9) "
            "SELECT * FROM r",
            [],
        ),
        # PostgreSQL folds unquoted names only: "Users" and Users are different relations.
        ("postgres", 'WITH "Users" AS (SELECT 1) SELECT * FROM Users', ["Users"]),
        ("postgres", 'WITH users AS (SELECT 1) SELECT * FROM "users"', []),
        # As written: schema-qualified, quoted names unquoted, sorted, unique.
        (
            "postgres",
            'SELECT * FROM public.users u JOIN "Orders" o ON '
            "o.user_id = u.id JOIN public.users v ON true",
            ["Orders", "public.users"],
        ),
        ("mysql", "SELECT * FROM `shop`.`orders`", ["shop.orders"]),
        ("postgres", "SELECT * FROM generate_series(1, 3)", []),
    ],
)
def test_tables(dialect: str, sql: str, tables: list[str]) -> None:
    analysis = analyze(sql, dialect)
    assert_allowed(analysis, sql)
    assert analysis.tables == tables


@pytest.mark.parametrize(
    ("dialect", "sql", "query_type"),
    [
        ("postgres", "SELECT 1", "select"),
        ("postgres", "WITH a AS (SELECT 1) SELECT * FROM a", "select"),
        ("postgres", "(SELECT 1)", "select"),
        ("postgres", "SELECT 1 UNION SELECT 2", "union"),
        ("postgres", "SELECT 1 INTERSECT SELECT 2", "intersect"),
        ("postgres", "SELECT 1 EXCEPT SELECT 2", "except"),
        ("postgres", "VALUES (1)", "values"),
    ],
)
def test_query_type(dialect: str, sql: str, query_type: str) -> None:
    analysis = analyze(sql, dialect)
    assert_allowed(analysis)
    assert analysis.query_type == query_type


@pytest.mark.parametrize(
    ("dialect", "sql", "query_type"),
    [
        ("postgres", "CREATE TABLE t (x int)", "create"),
        ("duckdb", "CREATE TEMP TABLE t AS SELECT 1", "create"),
        ("postgres", "DROP TABLE users", "drop"),
        ("postgres", "INSERT INTO t VALUES (1)", "insert"),
        ("postgres", "UPDATE users SET name = 'x'", "update"),
        ("postgres", "DELETE FROM users", "delete"),
        ("postgres", "TRUNCATE users", "truncate"),
        ("postgres", "COPY users TO '/tmp/x'", "copy"),
        ("postgres", "SET statement_timeout = 0", "set"),
        ("sqlite", "PRAGMA database_list", "pragma"),
        ("duckdb", "INSTALL httpfs", "install"),
        ("duckdb", "ATTACH 'x.db' AS x", "attach"),
        ("mysql", "SHOW PROCESSLIST", "show"),
        ("postgres", "BEGIN", "transaction"),
        ("postgres", "EXPLAIN ANALYZE SELECT 1", "command"),
        ("postgres", "VACUUM users", "command"),
        ("postgres", "CHECKPOINT", "command"),
        ("postgres", "SELECT pg_sleep(1)", "select"),
        ("postgres", "WITH d AS (DELETE FROM users RETURNING 1) SELECT * FROM d", "select"),
        ("mysql", "SELECT 1 UNION SELECT LOAD_FILE('/etc/passwd')", "union"),
        ("mysql", "SELECT * FROM users INTO OUTFILE '/tmp/x'", "select"),
        ("duckdb", "SELECT 1; DROP TABLE users", "select"),
        ("postgres", "SELEC 1", None),
        ("postgres", "", None),
    ],
)
def test_query_type_of_refusals(dialect: str, sql: str, query_type: str | None) -> None:
    analysis = analyze(sql, dialect)
    assert_refused(analysis, sql)
    assert analysis.query_type == query_type


# ---------------------------------------------------------------------------------------------
# denied_functions, the deny-list the SQLite engine reuses in its authorizer


@pytest.mark.parametrize("dialect", DIALECTS)
def test_denied_functions_are_lower_case_and_refused(dialect: str) -> None:
    names = denied_functions(dialect)
    assert isinstance(names, frozenset) and names
    for name in names:
        assert name == name.lower() and name.isidentifier(), name
        for sql in (f"SELECT {name}(1)", f"SELECT * FROM {name}(1)"):
            analysis = analyze(sql, dialect)
            assert_refused(analysis, sql)
            # A few denied names are zero-argument functions sqlglot validates.
            assert analysis.reason in ("denied_function", "syntax_error"), analysis


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        (
            "duckdb",
            {
                "read_csv",
                "read_csv_auto",
                "read_parquet",
                "read_json_auto",
                "read_text",
                "read_blob",
                "sniff_csv",
                "glob",
                "query",
                "query_table",
                "getenv",
                "current_setting",
                "nextval",
            },
        ),
        (
            "sqlite",
            {
                "load_extension",
                "readfile",
                "writefile",
                "edit",
                "fts3_tokenizer",
                "pragma_database_list",
                "sqlite_version",
            },
        ),
        (
            "postgres",
            {
                "pg_read_file",
                "pg_read_binary_file",
                "pg_ls_dir",
                "lo_import",
                "lo_export",
                "dblink",
                "pg_sleep",
                "pg_terminate_backend",
                "set_config",
                "current_setting",
                "nextval",
                "setval",
                "pg_advisory_lock",
                "database_to_xml",
                "inet_server_addr",
                "pg_reload_conf",
            },
        ),
        ("mysql", {"load_file", "sleep", "benchmark", "get_lock", "release_lock"}),
    ],
)
def test_denied_functions_cover_the_classes(dialect: str, expected: set[str]) -> None:
    assert expected <= denied_functions(dialect)


def test_blob_allocators_are_capped_not_denied() -> None:
    # The authorizer cannot see arguments: small literal sizes must keep working there too.
    assert not {"randomblob", "zeroblob"} & denied_functions("sqlite")


def test_unsupported_dialect() -> None:
    with pytest.raises(ValueError, match="Unsupported SQL dialect"):
        analyze("SELECT 1", "klingon")
    with pytest.raises(ValueError, match="Unsupported SQL dialect"):
        denied_functions("klingon")
    # sqlglot's other dialects get the strictest policy (tests/sql/test_strictest.py)
    assert "pg_read_file" in denied_functions("oracle")


# ---------------------------------------------------------------------------------------------
# Properties


def test_analysis_is_frozen() -> None:
    analysis = analyze("SELECT 1", "sqlite")
    with pytest.raises(dataclasses.FrozenInstanceError):
        analysis.is_valid = False  # type: ignore[misc]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_never_normalises(dialect: str) -> None:
    # Inside literals the confusable is data; outside it is refused, never folded into ';'.
    assert analyze("SELECT '\u037e' AS s", dialect).is_valid
    assert analyze("SELECT 1 \u037e SELECT 2", dialect).reason == "suspicious_character"
    fullwidth = "\uff24\uff25\uff2c\uff25\uff34\uff25 FROM users"
    assert analyze(fullwidth, dialect).reason == "suspicious_character"


def test_typical_query_is_fast() -> None:
    sql = (
        "SELECT u.id, u.name, sum(o.total) AS spent FROM users u JOIN orders o "
        "ON o.user_id = u.id WHERE u.org_id = :org AND o.created_at > now() - interval '30 days' "
        "GROUP BY u.id, u.name ORDER BY spent DESC LIMIT 100"
    )
    analyze(sql, "postgres")
    runs = 200
    started = time.perf_counter()
    for _ in range(runs):
        analyze(sql, "postgres")
    per_query = (time.perf_counter() - started) / runs
    assert per_query < 0.01, f"{per_query * 1000:.2f} ms per analysis"
