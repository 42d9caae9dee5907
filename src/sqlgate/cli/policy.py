"""`sqlgate policy deploy|show`: a connection's access policy (docs/access-policies.md)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from sqlgate.cli._base import (
    acting_org,
    command,
    every_problem,
    print_json,
    read_document,
    say,
    services,
    shared_option,
    with_org,
)
from sqlgate.errors import NotFound

if TYPE_CHECKING:
    from sqlgate.container import Services
    from sqlgate.services.connections import ConnectionInfo


def cmd_policy_deploy(args: argparse.Namespace) -> int:
    text, fmt = read_document(args.file)
    with services(args) as built:
        conn = _connection(built, args)
        with every_problem():
            deployed = built.policies.deploy(None, conn, text, fmt, client="cli")
    shown = {
        "connection": conn.name,
        "connection_id": conn.id,
        "version": deployed.version,
        "deployed_at": deployed.deployed_at,
    }
    if args.json:
        print_json(shown)
    else:
        print(f"deployed version {deployed.version} of the access policy of {conn.name}")
    return 0


def cmd_policy_show(args: argparse.Namespace) -> int:
    with services(args) as built:
        conn = _connection(built, args)
        layers = built.policies.current(None, conn)
    if not layers:
        say(f"no access policy is deployed on {conn.name!r}: every query sees all it can read")
        return 0
    latest = layers[0]
    when = f"{latest.deployed_at:%Y-%m-%d %H:%M:%S} UTC"
    say(f"access policy of {conn.name!r}: version {latest.version}, deployed {when}")
    print(latest.source, end="" if latest.source.endswith("\n") else "\n")
    return 0


def cmd_policy_rls(args: argparse.Namespace) -> int:
    with services(args) as built:
        conn = _connection(built, args)
        statements, problems = built.policies.native_rls(conn)
    for problem in problems:
        say(f"warning: {problem}")
    say(f"-- run as the tables' owner (or a superuser) in the database of {conn.name!r}")
    for statement in statements:
        print(statement + ";")
    return 0


def _connection(built: Services, args: argparse.Namespace) -> ConnectionInfo:
    """With --shared, the operator's shared connection; without --org either, the shared
    connection of that name if there is one, else the default organization's connection."""
    if args.org is None and args.connection and not args.shared:
        try:
            return built.shared_connections.get(args.connection)
        except NotFound:
            pass
    return built.connections.get(acting_org(built, args), args.connection)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    group = sub.add_parser(
        "policy", help="Access policies of connections (docs/access-policies.md)"
    ).add_subparsers(dest="policy_cmd", required=True, metavar="COMMAND")
    connection = (
        "Connection id or name: a shared connection's, or without one, the organization's "
        "(default: the organization's default connection)"
    )
    deploy = with_org(
        command(
            group.add_parser,
            "deploy",
            cmd_policy_deploy,
            "Check an access policy file against the connection and deploy it",
            common=common,
        )
    )
    deploy.add_argument("file", help="YAML (.yaml, .yml) or JSON (.json) file")
    deploy.add_argument("--connection", help=connection)
    shared_option(deploy, "A shared connection (the operator's; its policy binds every grant)")
    show = with_org(
        command(
            group.add_parser,
            "show",
            cmd_policy_show,
            "Print the deployed access policy of a connection",
            common=common,
        )
    )
    show.add_argument("--connection", help=connection)
    shared_option(show, "A shared connection (the operator's; its policy binds every grant)")
    rls = with_org(
        command(
            group.add_parser,
            "rls",
            cmd_policy_rls,
            "Print the PostgreSQL row-level security DDL for a policy with native_rls: true",
            common=common,
        )
    )
    rls.add_argument("--connection", help=connection)
    shared_option(rls, "A shared connection (the operator's; its policy binds every grant)")
