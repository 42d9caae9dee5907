"""`sqlgate query` and `sqlgate ask`: SQL, or a question, run through the one query path.

Both act as the organization's operator (its longest-standing owner, ``key_id`` "cli" in the
audit history), with the guard, the limits of their surface and an audit row, exactly as over
HTTP. A table is printed for people; ``--format csv|json|ndjson`` streams the result with
bounded memory through the export writers, up to the export row limit.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlgate.cli._base import (
    command,
    org_id,
    positive_int,
    positive_seconds,
    print_json,
    print_table,
    say,
    services,
    with_org,
)
from sqlgate.errors import SqlgateError

if TYPE_CHECKING:
    import pyarrow as pa

    from sqlgate.services.limits import Surface


def _named_as_options(surface: Surface) -> Surface:
    """``surface``'s limits, with errors naming the command's options."""
    from sqlgate.services.limits import Surface

    return Surface(
        surface.name,
        lambda s: replace(surface.limits(s), row_field="--row-limit", timeout_field="--timeout"),
    )


def _surface(fmt: str) -> Surface:
    """A table: the limits of ``POST /api/v1/query`` (default 1,000 rows, at most 10,000);
    csv/json/ndjson: streamed like an export, up to the export row limit."""
    from sqlgate.services.limits import EXPORT, QUERY

    return _named_as_options(QUERY if fmt == "table" else EXPORT)


#: What `query` and `ask` can print: a table, or a format of results/formats.py.
FORMATS = ("table", "csv", "json", "ndjson")


def param(text: str) -> tuple[str, Any]:
    """``NAME=VALUE``; a VALUE that reads as JSON (5, 2.5, true, null, "text") is that value,
    anything else is text."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = value
    if isinstance(parsed, list | dict):
        parsed = value
    return name.strip(), parsed


def _format(args: argparse.Namespace) -> str:
    return "json" if args.json else str(args.format)


def cmd_query(args: argparse.Namespace) -> int:
    from sqlgate.results.formats import get_format
    from sqlgate.services import orgs
    from sqlgate.services.query import QueryRequest

    sql = sys.stdin.read() if args.sql == "-" else args.sql
    request = QueryRequest(
        sql=sql,
        params=dict(args.param) if args.param else None,
        row_limit=args.row_limit,
        timeout=args.timeout,
    )
    fmt = _format(args)
    with services(args) as built:
        operator = orgs.operator(built.store, org_id(built, args.org))
        if fmt == "table":
            ran = built.queries.execute(
                operator, args.connection, request, surface=_surface(fmt), client="cli"
            )
            _table(ran.result.table, ran.result.truncated)
            return 0
        output = get_format(fmt)
        stream = built.queries.export(
            operator,
            args.connection,
            request,
            surface=_surface(fmt),
            client="cli",
            # CSV: PostgreSQL's own text when the engine writes it (the other formats as before)
            output=output if fmt == "csv" else None,
        )
        try:
            _write(stream.body() if stream.text else output.write(stream.schema, stream), fmt)
        finally:
            stream.close()
        if stream.truncated:
            say(f"warning: the result was cut at {stream.rows} rows (the export row limit)")
        return 0


def _table(table: pa.Table, truncated: bool) -> None:
    from sqlgate.results.jsonable import rows_as_arrays

    shown = print_table(table.column_names, rows_as_arrays(table), null="NULL")
    print(f"({shown} row{'' if shown == 1 else 's'})")
    if truncated:
        say(
            f"warning: only the first {shown} rows are shown (the row limit); raise --row-limit "
            "or stream them all with --format csv"
        )


def _write(chunks: Iterable[bytes | memoryview], fmt: str) -> None:
    sys.stdout.flush()
    out = sys.stdout.buffer
    iterator = iter(chunks)
    try:
        for chunk in iterator:
            out.write(chunk)
        if fmt == "json":
            out.write(b"\n")  # the array, then a newline like every line of text
        out.flush()
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


def cmd_ask(args: argparse.Namespace) -> int:
    """Translate a question (the embedded engine, or the configured LLM), run it and print the
    SQL and the rows; saved like `POST /v1/queries`, as the organization's operator."""
    from sqlgate.nl.questions import NonSqlQuestion
    from sqlgate.results.formats import get_format
    from sqlgate.results.jsonable import dumps, rows_as_arrays
    from sqlgate.services import orgs

    with services(args) as built:
        operator = orgs.operator(built.store, org_id(built, args.org))
        try:
            asked = built.questions.ask(operator, args.question, args.connection)
        except NonSqlQuestion as exc:
            raise SqlgateError(f"not a question about the data: {exc.message}") from None
    table = asked.result.table
    if args.json:  # the answer with its SQL and id; `--format json` is the rows alone
        print_json(
            {
                "query_id": asked.saved.id,
                "sql": asked.saved.sql,
                "columns": asked.saved.columns,
                "rows": json.loads(dumps(rows_as_arrays(table))),
                "row_count": asked.result.row_count,
                "truncated": asked.result.truncated,
            }
        )
        return 0
    say(asked.saved.sql or "")
    if args.format == "table":
        _table(table, asked.result.truncated)
    else:
        _write(get_format(args.format).write(table.schema, table.to_batches()), args.format)
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    add = sub.add_parser
    query = with_org(
        command(
            add,
            "query",
            cmd_query,
            "Run a read-only SQL statement and print the rows",
            common=common,
        )
    )
    query.add_argument("connection", metavar="CONNECTION", help="Connection name or id")
    query.add_argument("sql", metavar="SQL", help="One read-only statement (`-`: read stdin)")
    query.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="table (default), or streamed csv/json/ndjson",
    )
    query.add_argument("--row-limit", type=positive_int, help="At most this many rows")
    query.add_argument(
        "--timeout", type=positive_seconds, help="Seconds before the query is stopped"
    )
    query.add_argument(
        "--param",
        type=param,
        action="append",
        metavar="NAME=VALUE",
        help="A value for :NAME / $NAME in the SQL (JSON numbers, true/false, null; else text)",
    )
    ask = with_org(
        command(
            add,
            "ask",
            cmd_ask,
            "Ask a question in plain language; prints SQL and rows",
            common=common,
        )
    )
    ask.add_argument("question")
    ask.add_argument("--connection", help="Connection id or name (default: the org's default)")
    ask.add_argument(
        "--format", choices=FORMATS, default="table", help="table (default), csv, json, ndjson"
    )
