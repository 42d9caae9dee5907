"""`sqlgate keys create|list|revoke`: API keys, at the server's console."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from sqlgate.cli._base import command, org_id, print_json, print_table, scopes, services, with_org


def cmd_keys_create(args: argparse.Namespace) -> int:
    from sqlgate.services import orgs, team
    from sqlgate.services.audit import AuditRecord

    with services(args) as built:
        org = org_id(built, args.org)
        email = args.email
        if args.service_account:
            email = f"{args.service_account}@{team.SERVICE_DOMAIN}"
        key = orgs.create_key(
            built.store, org, name=args.name, scopes=args.scopes, member_email=email
        )
        built.audit.record(
            AuditRecord(
                org_id=key.org_id,
                action="key.create",
                status="ok",
                client="cli",
                target_id=key.key_id,
                detail={"name": args.name, "scopes": key.scopes, "owner_id": key.member_id},
            )
        )
    if args.json:
        print_json(
            {
                "key_id": key.key_id,
                "api_key": key.api_key,
                "scopes": key.scopes,
                "org_id": key.org_id,
            }
        )
    else:
        print(f"API key (shown once, store it now): {key.api_key}")
        print(f"key id: {key.key_id}")
        print(f"scopes: {' '.join(key.scopes)}")
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    from sqlgate.services import keys as key_service

    with services(args) as built:
        found = key_service.list_keys(built.store, org_id(built, args.org))
    if args.json:
        print_json([asdict(k) for k in found])
        return 0
    print_table(
        ["ID", "PREFIX", "STATE", "NAME", "SCOPES"],
        [
            (k.id, f"{k.prefix}...", "revoked" if k.revoked_at else "active", k.name, k.scopes)
            for k in found
        ],
    )
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    from sqlgate.services import keys as key_service

    with services(args) as built:
        org = org_id(built, args.org)
        key_service.revoke(built.store, built.audit, None, org, args.key_id)
    # A running server drops it from its short auth cache by itself (auth_cache_seconds).
    if args.json:
        print_json({"revoked": args.key_id})
    else:
        print(f"revoked {args.key_id}")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("keys", help="API keys").add_subparsers(
        dest="keys_cmd", required=True, metavar="COMMAND"
    )
    create = with_org(
        command(group.add_parser, "create", cmd_keys_create, "Issue an API key", common=common)
    )
    create.add_argument("--name", default="cli key", help="A label for the key")
    create.add_argument(
        "--scopes", type=scopes, help="Comma-separated scopes (default: all the role allows)"
    )
    create.add_argument("--email", help="Member the key belongs to (default: the owner)")
    create.add_argument("--service-account", help="Service account the key belongs to (name)")
    with_org(
        command(
            group.add_parser, "list", cmd_keys_list, "List API keys (never secrets)", common=common
        )
    )
    revoke = with_org(
        command(group.add_parser, "revoke", cmd_keys_revoke, "Revoke an API key", common=common)
    )
    revoke.add_argument("key_id", help="The key's id (`key_...`)")
