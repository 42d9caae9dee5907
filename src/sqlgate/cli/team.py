"""`sqlgate team list|invite|service-account|remove`: members and service accounts."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from sqlgate.auth.scopes import Role
from sqlgate.cli._base import command, org_id, print_json, print_table, services, with_org


def cmd_team_list(args: argparse.Namespace) -> int:
    with services(args) as built:
        found = built.team.members(org_id(built, args.org))
    if args.json:
        print_json([asdict(m) for m in found])
        return 0
    print_table(
        ["ID", "ROLE", "STATUS", "MEMBER"],
        [(m.id, m.role, m.status, m.email or f"{m.name} (service account)") for m in found],
    )
    return 0


def cmd_team_invite(args: argparse.Namespace) -> int:
    with services(args) as built:
        invitation = built.team.invite(None, org_id(built, args.org), args.email, Role(args.role))
    if args.json:
        print_json({**asdict(invitation.member), "invite_token": invitation.token})
        return 0
    print(f"Invited {invitation.member.email} as {args.role} ({invitation.member.id}).")
    print(
        "Invitation token (shown once; accept with POST /v1/team/invitations/accept): "
        f"{invitation.token}"
    )
    return 0


def cmd_team_service_account(args: argparse.Namespace) -> int:
    with services(args) as built:
        org = org_id(built, args.org)
        info = built.team.create_service_account(None, org, args.name, Role(args.role))
    if args.json:
        print_json(asdict(info))
        return 0
    print(f"Created service account {info.name} ({info.id}), role {info.role}.")
    print(f"Issue its key: sqlgate keys create --service-account {info.name}")
    return 0


def cmd_team_remove(args: argparse.Namespace) -> int:
    with services(args) as built:
        revoked = built.team.remove(None, org_id(built, args.org), args.member_id)
    if args.json:
        print_json({"removed": args.member_id, "revoked_keys": len(revoked)})
    else:
        print(f"removed {args.member_id} and revoked {len(revoked)} key(s)")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("team", help="Members and service accounts").add_subparsers(
        dest="team_cmd", required=True, metavar="COMMAND"
    )
    roles = [r.value for r in Role]
    add = group.add_parser
    with_org(command(add, "list", cmd_team_list, "List members", common=common))
    invite = with_org(command(add, "invite", cmd_team_invite, "Invite a member", common=common))
    invite.add_argument("email")
    invite.add_argument("--role", choices=roles, default="viewer")
    account = with_org(
        command(
            add, "service-account", cmd_team_service_account, "Create a service account",
            common=common,
        )
    )  # fmt: skip
    account.add_argument("name")
    account.add_argument("--role", choices=roles, default="viewer")
    remove = with_org(
        command(add, "remove", cmd_team_remove, "Remove a member and revoke their keys",
                common=common)
    )  # fmt: skip
    remove.add_argument("member_id")
