"""`sqlgate connections add|list|remove`: the databases an organization queries."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sqlgate.cli._base import (
    UsageError,
    command,
    org_id,
    print_json,
    print_table,
    say,
    services,
    with_org,
)
from sqlgate.engines.registry import CONNECTION_TYPES
from sqlgate.errors import SqlgateError
from sqlgate.services.connections import ConnectionInfo


def _shown(info: ConnectionInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "type": info.type,
        "database": info.database,
        "host": info.host,
        "port": info.port,
        "is_default": info.is_default,
    }


def _where(info: ConnectionInfo) -> str:
    if not info.host:
        return info.database or ""
    server = f"{info.host}:{info.port}" if info.port else info.host
    return f"{server}/{info.database}" if info.database else server


def cmd_connections_add(args: argparse.Namespace) -> int:
    with services(args) as built:
        org = org_id(built, args.org)
        password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else None
        info = built.connections.create(
            org,
            name=args.name,
            type=args.type,
            database=args.database,
            host=args.db_host,
            port=args.db_port,
            username=args.username,
            password=password,
            ssl_mode=args.ssl_mode,
            url=args.url,
            trusted_path=True,
        )
    if args.json:
        print_json(_shown(info))
    else:
        print(f"added connection {info.name} ({info.id}): {info.type} {_where(info)}")
    return 0


def cmd_connections_list(args: argparse.Namespace) -> int:
    with services(args) as built:
        found = built.connections.list(org_id(built, args.org))
    if args.json:
        print_json([_shown(c) for c in found])
        return 0
    print_table(
        ["ID", "NAME", "TYPE", "DATABASE", "DEFAULT"],
        [(c.id, c.name, c.type, _where(c), "yes" if c.is_default else "") for c in found],
    )
    return 0


def cmd_connections_remove(args: argparse.Namespace) -> int:
    with services(args) as built:
        org = org_id(built, args.org)
        info = built.connections.get(org, args.connection)
        if not args.yes:
            _confirm(f"Remove connection {info.name} ({info.id}, {info.type} {_where(info)})?")
        # Through the service: the audit row, and the open engine closed.
        built.connections.delete(org, info.id)
    if args.json:
        print_json({"removed": info.id, "name": info.name})
    else:
        print(f"removed connection {info.name} ({info.id})")
    return 0


def _confirm(question: str) -> None:
    if not sys.stdin.isatty():
        raise UsageError("removing a connection needs --yes when not asked at a terminal")
    say(f"{question} [y/N] ")
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise SqlgateError("not removed")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("connections", help="Registered databases").add_subparsers(
        dest="conn_cmd", required=True, metavar="COMMAND"
    )
    add = with_org(
        command(group.add_parser, "add", cmd_connections_add, "Register a database", common=common)
    )
    add.add_argument("name")
    add.add_argument("--type", required=True, choices=sorted(CONNECTION_TYPES))
    add.add_argument("--database", help="File path (duckdb, sqlite) or database name")
    # Own dests: `host` and `port` on args are the HTTP service's settings (see _base.settings).
    add.add_argument("--host", dest="db_host", help="Server host (postgresql, mysql)")
    add.add_argument("--port", dest="db_port", type=int, help="Server port (default 5432/3306)")
    add.add_argument("--username", help="User name (postgresql, mysql)")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="Read the password from the first line of standard input (never an argument)",
    )
    add.add_argument("--ssl-mode", help="TLS mode (e.g. require / required)")
    add.add_argument("--url", help="SQLAlchemy URL, for --type sqlalchemy")
    with_org(
        command(group.add_parser, "list", cmd_connections_list, "List connections", common=common)
    )
    remove = with_org(
        command(
            group.add_parser,
            "remove",
            cmd_connections_remove,
            "Remove a connection (asks first, unless --yes)",
            common=common,
        )
    )
    remove.add_argument("connection", metavar="NAME|ID", help="The connection's name or id")
    remove.add_argument("--yes", action="store_true", help="Do not ask for confirmation")
