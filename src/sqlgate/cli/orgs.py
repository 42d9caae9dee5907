"""`sqlgate orgs create|list|show|update|suspend|resume|delete` and `sqlgate operator-key
create|list|revoke`: the operator's commands for serving several organizations."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from sqlgate.cli._base import (
    Adder,
    UsageError,
    command,
    print_json,
    print_table,
    say,
    services,
)
from sqlgate.errors import SqlgateError

if TYPE_CHECKING:
    from sqlgate.services.organizations import OrgInfo


def _attrs(pairs: list[str] | None) -> dict[str, Any]:
    from sqlgate.services import attributes

    return dict(attributes.parse_assignment(p) for p in pairs or [])


def _shown(info: OrgInfo) -> dict[str, Any]:
    return {
        "org_id": info.id,
        "name": info.name,
        "slug": info.slug,
        "status": info.status,
        "attributes": info.attributes,
        "members": info.members,
        "created_at": info.created_at,
    }


def _attr_text(values: dict[str, Any]) -> str:
    return " ".join(f"{k}={json.dumps(v)}" for k, v in values.items())


def cmd_orgs_create(args: argparse.Namespace) -> int:
    with services(args) as built:
        info, key = built.organizations.create(
            args.name, slug=args.slug, owner_email=args.owner_email, attrs=_attrs(args.attr)
        )
    if args.json:
        print_json({**_shown(info), "member_id": key.member_id, "api_key": key.api_key})
        return 0
    print(f"org_id:  {info.id}")
    print(f"slug:    {info.slug}")
    print(f"api_key: {key.api_key}")
    say("The owner's API key is shown only now: store it.")
    return 0


def cmd_orgs_list(args: argparse.Namespace) -> int:
    with services(args) as built:
        found = built.organizations.list()
    if args.json:
        print_json([_shown(o) for o in found])
        return 0
    print_table(
        ["ID", "SLUG", "NAME", "STATUS", "MEMBERS", "ATTRIBUTES"],
        [(o.id, o.slug, o.name, o.status, o.members, _attr_text(o.attributes)) for o in found],
    )
    return 0


def cmd_orgs_show(args: argparse.Namespace) -> int:
    from sqlgate.services import attributes

    with services(args) as built:
        info = built.organizations.get(args.org)
    if args.json:
        print_json(_shown(info))
        return 0
    for name, value in _shown(info).items():
        if name != "attributes":
            print(f"{name}: {value}")
    print("attributes:")
    for name, value in info.attributes.items():
        print(f"  {name} = {json.dumps(value)} ({attributes.type_name(value)})")
    return 0


def cmd_orgs_update(args: argparse.Namespace) -> int:
    from sqlgate.services import attributes

    patch: dict[str, Any] = _attrs(args.attr)
    for name in args.unset or []:
        patch[attributes.check_name(name)] = None
    if not patch and args.name is None:
        raise UsageError("nothing to change: give --name, --attr KEY=VALUE or --unset KEY")
    with services(args) as built:
        info = built.organizations.update(args.org, name=args.name, attrs=patch or None)
    return _done(args, info, "updated")


def cmd_orgs_suspend(args: argparse.Namespace) -> int:
    with services(args) as built:
        info = built.organizations.suspend(args.org)
    return _done(args, info, "suspended")


def cmd_orgs_resume(args: argparse.Namespace) -> int:
    with services(args) as built:
        info = built.organizations.resume(args.org)
    return _done(args, info, "resumed")


def cmd_orgs_delete(args: argparse.Namespace) -> int:
    with services(args) as built:
        info = built.organizations.get(args.org)
        if not args.yes:
            _confirm(
                f"Delete organization {info.slug} ({info.id}) and everything saved under it "
                f"({info.members} members, their keys, connections, dashboards, workflows, "
                "jobs, history)? This cannot be undone."
            )
        built.organizations.delete(info.id)
    return _done(args, info, "deleted")


def _done(args: argparse.Namespace, info: OrgInfo, what: str) -> int:
    if args.json:
        print_json({**_shown(info), "status": "deleted" if what == "deleted" else info.status})
    else:
        print(f"{what} organization {info.slug} ({info.id})")
    return 0


def _confirm(question: str) -> None:
    if not sys.stdin.isatty():
        raise UsageError("deleting an organization needs --yes when not asked at a terminal")
    say(f"{question} [y/N] ")
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise SqlgateError("not deleted")


def cmd_operator_key_create(args: argparse.Namespace) -> int:
    from sqlgate.services import operator_keys

    with services(args) as built:
        info, secret = operator_keys.create(built.store, args.name)
    if args.json:
        print_json({"id": info.id, "name": info.name, "operator_key": secret})
    else:
        print(secret)
        say(f"Operator key {info.id} ({info.name}): shown only now. It opens /v1/platform only.")
    return 0


def cmd_operator_key_list(args: argparse.Namespace) -> int:
    from sqlgate.services import operator_keys

    with services(args) as built:
        found = operator_keys.list_keys(built.store)
    rows = [
        {
            "id": k.id,
            "name": k.name,
            "prefix": k.prefix,
            "created_at": k.created_at,
            "last_used_at": k.last_used_at,
            "revoked_at": k.revoked_at,
        }
        for k in found
    ]
    if args.json:
        print_json(rows)
    else:
        print_table(
            ["ID", "NAME", "PREFIX", "LAST USED", "REVOKED"],
            [(r["id"], r["name"], r["prefix"], r["last_used_at"], r["revoked_at"]) for r in rows],
        )
    return 0


def cmd_operator_key_revoke(args: argparse.Namespace) -> int:
    from sqlgate.services import operator_keys

    with services(args) as built:
        info = operator_keys.revoke(built.store, args.key_id)
    if args.json:
        print_json({"revoked": info.id})
    else:
        print(f"revoked operator key {info.id} ({info.name})")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    group = sub.add_parser(
        "orgs", help="Organizations on this deployment (operator)"
    ).add_subparsers(dest="orgs_cmd", required=True, metavar="COMMAND")
    create = command(
        group.add_parser,
        "create",
        cmd_orgs_create,
        "Create an organization, its owner and the owner's API key",
        common=common,
    )
    create.add_argument("--name", required=True, help="Display name")
    create.add_argument("--slug", help="URL name (default: made from the name)")
    create.add_argument(
        "--owner-email", help="The owner's address (default: owner@<slug>.localhost)"
    )
    _attr_option(create)
    command(group.add_parser, "list", cmd_orgs_list, "List organizations", common=common)
    _with_ref(group.add_parser, "show", cmd_orgs_show, "Show an organization", common)
    update = _with_ref(
        group.add_parser,
        "update",
        cmd_orgs_update,
        "Rename an organization or change its attributes",
        common,
    )
    update.add_argument("--name", help="New display name")
    _attr_option(update)
    update.add_argument("--unset", action="append", metavar="KEY", help="Remove an attribute")
    _with_ref(
        group.add_parser,
        "suspend",
        cmd_orgs_suspend,
        "Suspend an organization: its keys answer 403 until resumed",
        common,
    )
    _with_ref(
        group.add_parser, "resume", cmd_orgs_resume, "Resume a suspended organization", common
    )
    delete = _with_ref(
        group.add_parser,
        "delete",
        cmd_orgs_delete,
        "Delete an organization and all it saved (asks first, unless --yes)",
        common,
    )
    delete.add_argument("--yes", action="store_true", help="Do not ask for confirmation")

    keys = sub.add_parser(
        "operator-key", help="Keys for the operator's API (/v1/platform)"
    ).add_subparsers(dest="opkey_cmd", required=True, metavar="COMMAND")
    made = command(
        keys.add_parser,
        "create",
        cmd_operator_key_create,
        "Create an operator key (printed once)",
        common=common,
    )
    made.add_argument("--name", default="operator", help="A label for the key")
    command(keys.add_parser, "list", cmd_operator_key_list, "List operator keys", common=common)
    revoke = command(
        keys.add_parser, "revoke", cmd_operator_key_revoke, "Revoke an operator key", common=common
    )
    revoke.add_argument("key_id", metavar="KEY_ID")


def _with_ref(
    adder: Adder, name: str, func: Any, help: str, common: argparse.ArgumentParser
) -> argparse.ArgumentParser:
    parser = command(adder, name, func, help, common=common)
    parser.add_argument("org", metavar="ORG", help="Organization id or slug")
    return parser


def _attr_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--attr",
        action="append",
        metavar="KEY=VALUE",
        help="An attribute (repeatable). VALUE is typed as JSON reads it: 42 an integer, 4.2 a "
        "float, true/false a boolean, '\"42\"' the string 42; anything else is a string",
    )
