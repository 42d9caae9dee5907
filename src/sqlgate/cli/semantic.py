"""`sqlgate semantic deploy|show|draft`: a connection's semantic model (docs/nl.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

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
from sqlgate.errors import SqlgateError


def cmd_semantic_deploy(args: argparse.Namespace) -> int:
    text, fmt = read_document(args.file)
    with services(args) as built:
        org = acting_org(built, args)
        conn = built.connections.get(org, args.connection)
        with every_problem():
            deployed = built.semantic.deploy(None, conn, text, fmt, client="cli")
    shown = {
        "connection": conn.name,
        "connection_id": conn.id,
        "version": deployed.version,
        "deployed_at": deployed.deployed_at,
        "models": len(deployed.model.models),
        "metrics": len(deployed.model.metrics),
    }
    if args.json:
        print_json(shown)
    else:
        print(
            f"deployed version {deployed.version} of the semantic model of {conn.name}: "
            f"{shown['models']} model(s), {shown['metrics']} metric(s)"
        )
    return 0


def cmd_semantic_show(args: argparse.Namespace) -> int:
    with services(args) as built:
        org = acting_org(built, args)
        conn = built.connections.get(org, args.connection)
        if args.draft:
            shown = built.semantic.draft(org, conn)
        elif args.version is not None:
            shown = built.semantic.get(org, conn, args.version)
        else:
            shown = built.semantic.current(org, conn)
    if shown.deployed:
        about = f"version {shown.version}, deployed {shown.deployed_at:%Y-%m-%d %H:%M:%S} UTC"
    else:
        about = "draft derived from the schema"
    say(f"semantic model of {conn.name!r}: {about}")
    text = shown.text("json" if args.json else args.format)
    print(text, end="" if text.endswith("\n") else "\n")
    return 0


def cmd_semantic_draft(args: argparse.Namespace) -> int:
    with services(args) as built:
        org = acting_org(built, args)
        conn = built.connections.get(org, args.connection)
        text = built.semantic.draft_document(org, conn)
    if args.output is None:
        print(text, end="" if text.endswith("\n") else "\n")
        return 0
    path = Path(args.output)
    if path.exists() and not args.force:
        raise SqlgateError(f"{str(path)!r} exists; pass --force to replace it")
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SqlgateError(f"Cannot write {str(path)!r}: {exc.strerror}") from None
    say(f"wrote the draft semantic model of {conn.name!r} to {path}; edit it, then deploy it")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    group = sub.add_parser(
        "semantic", help="Semantic models of connections (docs/nl.md)"
    ).add_subparsers(dest="semantic_cmd", required=True, metavar="COMMAND")
    connection = "Connection id or name (default: the organization's default)"
    deploy = with_org(
        command(
            group.add_parser,
            "deploy",
            cmd_semantic_deploy,
            "Validate a semantic model file and deploy it",
            common=common,
        )
    )
    deploy.add_argument("file", help="YAML (.yaml, .yml) or JSON (.json) file")
    deploy.add_argument("--connection", help=connection)
    shared_option(deploy, "Deploy to a shared connection (the operator's; every grant sees it)")
    show = with_org(
        command(
            group.add_parser,
            "show",
            cmd_semantic_show,
            "Print the deployed semantic model (or the draft); --json is --format json",
            common=common,
        )
    )
    draft = with_org(
        command(
            group.add_parser,
            "draft",
            cmd_semantic_draft,
            "Write the draft derived from the schema as an editable YAML file",
            common=common,
        )
    )
    draft.add_argument("--connection", help=connection)
    draft.add_argument("-o", "--output", help="File to write (default: standard output)")
    draft.add_argument("--force", action="store_true", help="Replace the file if it exists")
    shared_option(draft, "Draft a shared connection's model (the operator's)")
    show.add_argument("--connection", help=connection)
    shared_option(show, "Show a shared connection's model")
    show.add_argument("--format", choices=["yaml", "json"], default="yaml")
    show.add_argument("--version", type=int, help="A deployed version (default: the latest)")
    show.add_argument(
        "--draft", action="store_true", help="The draft derived from the schema, even if deployed"
    )
