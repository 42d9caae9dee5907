"""`sqlgate connections add|list|remove|grant|revoke`: the databases an organization queries,
and (``--shared``) the operator's shared connections and their grants."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from sqlgate.cli._base import (
    UsageError,
    command,
    org_id,
    print_json,
    print_table,
    say,
    services,
    shared_option,
    with_org,
)
from sqlgate.engines.registry import CONNECTION_TYPES
from sqlgate.errors import SqlgateError

if TYPE_CHECKING:
    from sqlgate.services.connections import ConnectionInfo


def _shown(info: ConnectionInfo, *, operator: bool = False) -> dict[str, Any]:
    """``operator``: the operator's own view of a shared connection (where it points)."""
    hidden = info.shared and not operator
    return {
        "id": info.id,
        "name": info.name,
        "type": info.type,
        "database": None if hidden else info.database,
        "host": None if hidden else info.host,
        "port": None if hidden else info.port,
        "is_default": info.is_default,
        "shared": info.shared,
    }


def _where(info: ConnectionInfo) -> str:
    if not info.host:
        return info.database or ""
    server = f"{info.host}:{info.port}" if info.port else info.host
    return f"{server}/{info.database}" if info.database else server


def cmd_connections_add(args: argparse.Namespace) -> int:
    _not_both(args)
    with services(args) as built:
        password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else None
        fields: dict[str, Any] = {
            "name": args.name,
            "type": args.type,
            "database": args.database,
            "host": args.db_host,
            "port": args.db_port,
            "username": args.username,
            "password": password,
            "ssl_mode": args.ssl_mode,
            "url": args.url,
        }
        if args.shared:
            info = built.shared_connections.add(**fields)
        else:
            info = built.connections.create(org_id(built, args.org), **fields, trusted_path=True)
    if args.json:
        print_json(_shown(info, operator=True))
    else:
        kind = "shared connection" if info.shared else "connection"
        print(f"added {kind} {info.name} ({info.id}): {info.type} {_where(info)}")
        if info.shared:
            say(f"Grant it to an organization: sqlgate connections grant {info.name} --org ORG")
    return 0


def _not_both(args: argparse.Namespace) -> None:
    if getattr(args, "shared", False) and getattr(args, "org", None):
        raise UsageError("--shared connections belong to no organization: drop --org")


def cmd_connections_list(args: argparse.Namespace) -> int:
    _not_both(args)
    if args.shared:
        return _list_shared(args)
    with services(args) as built:
        found = built.connections.list(org_id(built, args.org))
    if args.json:
        print_json([_shown(c) for c in found])
        return 0
    print_table(
        ["ID", "NAME", "TYPE", "DATABASE", "DEFAULT"],
        [
            (
                c.id,
                c.name,
                c.type,
                "(shared)" if c.shared else _where(c),
                "yes" if c.is_default else "",
            )
            for c in found
        ],
    )
    return 0


def _list_shared(args: argparse.Namespace) -> int:
    with services(args) as built:
        found = built.shared_connections.connections()
        grants = built.shared_connections.grants()
    granted: dict[str, list[str]] = {}
    for g in grants:
        shown = g.org_slug if g.name == g.connection else f"{g.org_slug} (as {g.name})"
        granted.setdefault(g.connection_id, []).append(shown)
    if args.json:
        print_json(
            [
                {
                    **_shown(c),
                    "shared": True,
                    "granted_to": [
                        {"org_id": g.org_id, "org_slug": g.org_slug, "name": g.name}
                        for g in grants
                        if g.connection_id == c.id
                    ],
                }
                for c in found
            ]
        )
        return 0
    print_table(
        ["ID", "NAME", "TYPE", "DATABASE", "GRANTED TO"],
        [(c.id, c.name, c.type, _where(c), ", ".join(granted.get(c.id, []))) for c in found],
    )
    return 0


def cmd_connections_grant(args: argparse.Namespace) -> int:
    with services(args) as built:
        grant = built.shared_connections.grant(args.connection, args.org, name=args.as_name)
    if args.json:
        print_json(
            {
                "connection_id": grant.connection_id,
                "org_id": grant.org_id,
                "org_slug": grant.org_slug,
                "name": grant.name,
            }
        )
    else:
        print(f"granted {grant.connection} to {grant.org_slug} as {grant.name}")
    return 0


def cmd_connections_revoke(args: argparse.Namespace) -> int:
    with services(args) as built:
        grant = built.shared_connections.revoke(args.connection, args.org)
    if args.json:
        print_json({"revoked": grant.connection_id, "org_id": grant.org_id, "name": grant.name})
    else:
        print(f"revoked {grant.connection} from {grant.org_slug} (was {grant.name} there)")
    return 0


def cmd_connections_remove(args: argparse.Namespace) -> int:
    _not_both(args)
    with services(args) as built:
        if args.shared:
            info = built.shared_connections.get(args.connection)
            grants = len(built.shared_connections.grants(info.id))
            if not args.yes:
                _confirm(
                    f"Remove shared connection {info.name} ({info.id}, {info.type} "
                    f"{_where(info)}) from every organization ({grants} grants)?"
                )
            built.shared_connections.remove(info.id)
        else:
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
    shared_option(add, "Register it as the operator's, to grant to organizations")
    listing = with_org(
        command(group.add_parser, "list", cmd_connections_list, "List connections", common=common)
    )
    shared_option(listing, "List the operator's shared connections and their grants")
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
    shared_option(remove, "Remove a shared connection (from every organization)")
    grant = command(
        group.add_parser,
        "grant",
        cmd_connections_grant,
        "Make a shared connection appear in an organization",
        common=common,
    )
    grant.add_argument("connection", metavar="NAME|ID", help="The shared connection")
    grant.add_argument("--org", required=True, help="Organization id or slug")
    grant.add_argument(
        "--as", dest="as_name", metavar="NAME", help="The name it has there (default: its own)"
    )
    revoke = command(
        group.add_parser,
        "revoke",
        cmd_connections_revoke,
        "Take a shared connection away from an organization",
        common=common,
    )
    revoke.add_argument("connection", metavar="NAME|ID", help="The shared connection")
    revoke.add_argument("--org", required=True, help="Organization id or slug")
