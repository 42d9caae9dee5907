"""`sqlgate semantic deploy|show`: a connection's semantic model (docs/nl.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Literal

from sqlgate.cli._base import (
    acting_org,
    command,
    print_json,
    say,
    services,
    shared_option,
    with_org,
)
from sqlgate.errors import SqlgateError, ValidationError


def cmd_semantic_deploy(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise SqlgateError(f"Cannot read {str(path)!r}: {exc.strerror}") from None
    suffix = path.suffix.lower()
    fmt: Literal["yaml", "json"] | None = (
        "yaml" if suffix in (".yaml", ".yml") else "json" if suffix == ".json" else None
    )
    with services(args) as built:
        org = acting_org(built, args)
        conn = built.connections.get(org, args.connection)
        try:
            deployed = built.semantic.deploy(None, conn, text, fmt, client="cli")
        except ValidationError as exc:
            # Every problem, on the one error line.
            problems = [f"{p['path']}: {p['message']}" for p in exc.details.get("errors", [])[1:]]
            raise SqlgateError("; ".join([exc.message, *problems])) from None
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
    show.add_argument("--connection", help=connection)
    shared_option(show, "Show a shared connection's model")
    show.add_argument("--format", choices=["yaml", "json"], default="yaml")
    show.add_argument("--version", type=int, help="A deployed version (default: the latest)")
    show.add_argument(
        "--draft", action="store_true", help="The draft derived from the schema, even if deployed"
    )
