"""The ``sqlgate`` command: serve, init, keys, team, connections, semantic, ask, migrate."""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import or_, select

from sqlgate import __version__
from sqlgate.auth.scopes import Role, Scope
from sqlgate.cli_dashboards import add_parser as add_dashboards_parser
from sqlgate.container import Services
from sqlgate.engines.registry import CONNECTION_TYPES
from sqlgate.errors import SqlgateError, ValidationError
from sqlgate.nl.questions import NonSqlQuestion
from sqlgate.results.jsonable import dumps, rows_as_arrays
from sqlgate.services import keys as key_service
from sqlgate.services import orgs, team
from sqlgate.services.audit import AuditRecord
from sqlgate.services.bootstrap import ensure_demo_connection
from sqlgate.settings import Settings
from sqlgate.store.models import Organization


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    for name in ("host", "port", "tls_cert", "tls_key"):
        if getattr(args, name, None) is not None:
            overrides[name] = getattr(args, name)
    if getattr(args, "tls_self_signed", False):
        overrides["tls_self_signed"] = True
    return Settings(**overrides)


@contextmanager
def _services(args: argparse.Namespace) -> Iterator[Services]:
    services = Services.build(_settings(args))
    try:
        yield services
    finally:
        services.close()


def _print_json(payload: Any) -> None:
    print(json.dumps(payload, indent=2, default=str))


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from sqlgate import tls as https
    from sqlgate.app import create_app

    settings = _settings(args)
    tls = https.configure(settings)
    if args.demo:
        from sqlgate.demo import ensure_demo_database

        settings.ensure_data_dir()
        print("Preparing the demo database (generated once, on first start)...", flush=True)
        ensure_demo_database(settings.data_dir)
    # Migrations, the secret key and the demo connection are settled once, here, before any
    # worker starts.
    with _services(args) as services:
        org = orgs.first_organization(services.store)
        if args.demo and org is not None:
            ensure_demo_connection(services.connections, services.settings.data_dir, org.id)
    base = f"{'https' if tls else 'http'}://{settings.host}:{settings.port}"
    print(f"sqlgate {__version__} on {base}  (data dir: {settings.data_dir})")
    print(f"  API docs:  {base}/docs")
    if tls is not None:
        made = " (new)" if tls.created else ""
        print(f"  TLS certificate{made}: {tls.cert}")
        print(f"  SHA-256 fingerprint: {tls.fingerprint}")
    warning = https.exposure_warning(settings, tls)
    if warning:
        print(warning, file=sys.stderr)
    if org is None:
        print("  No organization yet. Create one and its first API key with:")
        print(f"    sqlgate init --data-dir {settings.data_dir}")
    else:
        print(f"  Organization: {org.slug} ({org.id}); new key: sqlgate keys create")
    sys.stdout.flush()
    common = {
        "host": settings.host,
        "port": settings.port,
        "log_level": args.log_level,
        **https.server_options(settings, tls),
    }
    if args.workers > 1:
        # Each worker process builds its own app from the same SQLGATE_* environment.
        os.environ["SQLGATE_DATA_DIR"] = str(settings.data_dir)
        uvicorn.run("sqlgate.app:create_app", factory=True, workers=args.workers, **common)
    else:
        uvicorn.run(create_app(settings), **common)
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    with _services(args) as services:
        result = orgs.init_organization(services.store, name=args.name, owner_email=args.email)
        demo = None
        if result.created:
            demo = ensure_demo_connection(
                services.connections, services.settings.data_dir, result.org_id
            )
        if not result.created:
            message = (
                f"Organization {result.org_slug} ({result.org_id}) already exists; issue "
                "another key with `sqlgate keys create`."
            )
            if args.json:
                _print_json({"created": False, "org_id": result.org_id, "message": message})
            else:
                print(message)
            return 0
        assert result.key is not None
        payload = {
            "created": True,
            "org_id": result.org_id,
            "org_slug": result.org_slug,
            "member_id": result.member_id,
            "key_id": result.key.key_id,
            "api_key": result.key.api_key,
            "scopes": result.key.scopes,
            "connections": [demo.name] if demo else [],
            "data_dir": str(services.settings.data_dir),
        }
        if args.json:
            _print_json(payload)
        else:
            print(f"Created organization {result.org_slug} ({result.org_id}).")
            print(f"Owner API key (shown once, store it now): {result.key.api_key}")
            if demo:
                print("Try it:")
                print(
                    f"  curl -H 'Authorization: Bearer {result.key.api_key}' "
                    '-d \'{"query": "SELECT count(*) FROM orders"}\' '
                    f"http://{services.settings.host}:{services.settings.port}/api/v1/query/demo"
                )
        return 0


def cmd_keys_create(args: argparse.Namespace) -> int:
    with _services(args) as services:
        org = args.org or _only_org(services)
        scopes = {Scope(s) for s in args.scopes.split(",")} if args.scopes else None
        email = args.email
        if args.service_account:
            email = f"{args.service_account}@{team.SERVICE_DOMAIN}"
        key = orgs.create_key(
            services.store, org, name=args.name, scopes=scopes, member_email=email
        )
        services.audit.record(
            AuditRecord(
                org_id=key.org_id,
                action="key.create",
                status="ok",
                client="cli",
                target_id=key.key_id,
                detail={"name": args.name, "scopes": key.scopes, "owner_id": key.member_id},
            )
        )
        payload = {
            "key_id": key.key_id,
            "api_key": key.api_key,
            "scopes": key.scopes,
            "org_id": key.org_id,
        }
        if args.json:
            _print_json(payload)
        else:
            print(f"API key (shown once, store it now): {key.api_key}")
            print(f"scopes: {' '.join(key.scopes)}")
        return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    with _services(args) as services:
        org_id = _org_id(services, args.org or _only_org(services))
        found = key_service.list_keys(services.store, org_id)
        if args.json:
            _print_json([asdict(k) for k in found])
            return 0
        for k in found:
            state = "revoked" if k.revoked_at else "active"
            print(f"{k.id}  {k.prefix}...  {state:7}  {k.name}  [{' '.join(k.scopes)}]")
        return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    with _services(args) as services:
        org_id = _org_id(services, args.org or _only_org(services))
        key_service.revoke(services.store, services.audit, None, org_id, args.key_id)
    # A running server drops it from its short auth cache by itself (auth_cache_seconds).
    print(f"revoked {args.key_id}")
    return 0


def cmd_team_list(args: argparse.Namespace) -> int:
    with _services(args) as services:
        org_id = _org_id(services, args.org or _only_org(services))
        found = services.team.members(org_id)
        if args.json:
            _print_json([asdict(m) for m in found])
            return 0
        for m in found:
            who = m.email or f"{m.name} (service account)"
            print(f"{m.id}  {m.role:6}  {m.status:7}  {who}")
        return 0


def cmd_team_invite(args: argparse.Namespace) -> int:
    with _services(args) as services:
        org_id = _org_id(services, args.org or _only_org(services))
        invitation = services.team.invite(None, org_id, args.email, Role(args.role))
        if args.json:
            _print_json({**asdict(invitation.member), "invite_token": invitation.token})
            return 0
        print(f"Invited {invitation.member.email} as {args.role} ({invitation.member.id}).")
        print(
            f"Invitation token (shown once; accept with POST /v1/team/invitations/accept): "
            f"{invitation.token}"
        )
        return 0


def cmd_team_service_account(args: argparse.Namespace) -> int:
    with _services(args) as services:
        org_id = _org_id(services, args.org or _only_org(services))
        info = services.team.create_service_account(None, org_id, args.name, Role(args.role))
        if args.json:
            _print_json(asdict(info))
            return 0
        print(f"Created service account {info.name} ({info.id}), role {info.role}.")
        print(f"Issue its key: sqlgate keys create --service-account {info.name}")
        return 0


def cmd_team_remove(args: argparse.Namespace) -> int:
    with _services(args) as services:
        org_id = _org_id(services, args.org or _only_org(services))
        revoked = services.team.remove(None, org_id, args.member_id)
    print(f"removed {args.member_id} and revoked {len(revoked)} key(s)")
    return 0


def cmd_connections_add(args: argparse.Namespace) -> int:
    with _services(args) as services:
        org = args.org or _only_org(services)
        org_id = _org_id(services, org)
        password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else None
        info = services.connections.create(
            org_id,
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
        _print_json(
            {
                "id": info.id,
                "name": info.name,
                "type": info.type,
                "database": info.database,
                "host": info.host,
                "is_default": info.is_default,
            }
        )
        return 0


def cmd_secrets_rotate(args: argparse.Namespace) -> int:
    with _services(args) as services:
        rotated, unchanged = services.connections.rotate_secrets()
    print(f"re-encrypted {rotated} password(s) with the current key; {unchanged} already were")
    return 0


def cmd_connections_list(args: argparse.Namespace) -> int:
    with _services(args) as services:
        org_id = _org_id(services, args.org or _only_org(services))
        _print_json(
            [
                {
                    "id": c.id,
                    "name": c.name,
                    "type": c.type,
                    "database": c.database,
                    "is_default": c.is_default,
                }
                for c in services.connections.list(org_id)
            ]
        )
        return 0


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
    with _services(args) as services:
        org_id = _org_id(services, args.org or _only_org(services))
        conn = services.connections.get(org_id, args.connection)
        try:
            deployed = services.semantic.deploy(None, conn, text, fmt, client="cli")
        except ValidationError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            for problem in exc.details.get("errors", [])[1:]:
                print(f"  {problem['path']}: {problem['message']}", file=sys.stderr)
            return 2
        _print_json(
            {
                "connection": conn.name,
                "connection_id": conn.id,
                "version": deployed.version,
                "deployed_at": deployed.deployed_at,
                "models": len(deployed.model.models),
                "metrics": len(deployed.model.metrics),
            }
        )
        return 0


def cmd_semantic_show(args: argparse.Namespace) -> int:
    with _services(args) as services:
        org_id = _org_id(services, args.org or _only_org(services))
        conn = services.connections.get(org_id, args.connection)
        if args.draft:
            shown = services.semantic.draft(org_id, conn)
        elif args.version is not None:
            shown = services.semantic.get(org_id, conn, args.version)
        else:
            shown = services.semantic.current(org_id, conn)
        if shown.deployed:
            about = f"version {shown.version}, deployed {shown.deployed_at:%Y-%m-%d %H:%M:%S} UTC"
        else:
            about = "draft derived from the schema"
        print(f"semantic model of {conn.name!r}: {about}", file=sys.stderr)
        text = shown.text(args.format)
        print(text, end="" if text.endswith("\n") else "\n")
        return 0


def cmd_ask(args: argparse.Namespace) -> int:
    """Translate a question (the embedded engine, or the configured LLM), run it and print the
    SQL and the rows; saved like `POST /v1/queries`, as the organization's first owner."""
    with _services(args) as services:
        org_id = _org_id(services, args.org or _only_org(services))
        principal = orgs.operator(services.store, org_id)
        try:
            asked = services.questions.ask(principal, args.question, args.connection)
        except NonSqlQuestion as exc:
            print(f"Not a question about the data: {exc.message}", file=sys.stderr)
            return 3
        table = asked.result.table
        if args.json:
            _print_json(
                {
                    "query_id": asked.saved.id,
                    "sql": asked.saved.sql,
                    "columns": asked.saved.columns,
                    "rows": json.loads(dumps(rows_as_arrays(table))),
                    "row_count": asked.result.row_count,
                }
            )
            return 0
        print(asked.saved.sql, file=sys.stderr)
        writer = csv.writer(sys.stdout)
        writer.writerow(asked.saved.columns)
        writer.writerows(rows_as_arrays(table))
        return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    with _services(args):  # building the services applies the migrations
        pass
    print("metadata store is up to date")
    return 0


def _only_org(services: Services) -> str:
    org = orgs.first_organization(services.store)
    if org is None:
        raise SqlgateError("No organization yet: run `sqlgate init` first")
    return org.id


def _org_id(services: Services, org: str) -> str:
    with services.store.session() as session:
        found = session.scalar(
            select(Organization.id).where(or_(Organization.id == org, Organization.slug == org))
        )
    if found is None:
        raise SqlgateError(f"Organization {org!r} not found")
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sqlgate", description=__doc__)
    parser.add_argument("--version", action="version", version=f"sqlgate {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        help="Where state lives (default: $SQLGATE_DATA_DIR or ~/.local/share/sqlgate)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[common], help="Run the HTTP service")
    serve.add_argument("--host", help="Interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="Port (default 8000)")
    serve.add_argument("--demo", action="store_true", help="Add the generated `demo` connection")
    serve.add_argument("--tls-cert", type=Path, help="Serve HTTPS with this certificate (PEM)")
    serve.add_argument("--tls-key", type=Path, help="The certificate's private key (PEM)")
    serve.add_argument(
        "--tls-self-signed",
        action="store_true",
        help="Serve HTTPS with a self-signed certificate kept in the data dir",
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="Server processes (default 1). Rate limits are per process unless "
        "SQLGATE_REDIS_URL is set.",
    )
    serve.set_defaults(func=cmd_serve)

    init = sub.add_parser("init", parents=[common], help="Create the first org and owner key")
    init.add_argument("--name", default="Default", help="Organization name")
    init.add_argument("--email", default="owner@localhost", help="Owner's email")
    init.add_argument("--json", action="store_true", help="Print JSON")
    init.set_defaults(func=cmd_init)

    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="keys_cmd", required=True)
    create = keys.add_parser("create", parents=[common], help="Issue an API key")
    create.add_argument("--name", default="cli key", help="A label for the key")
    create.add_argument("--scopes", help="Comma-separated scopes (default: all the role allows)")
    create.add_argument("--org", help="Organization id or slug (default: the only one)")
    create.add_argument("--email", help="Member the key belongs to (default: the owner)")
    create.add_argument("--service-account", help="Service account the key belongs to (name)")
    create.add_argument("--json", action="store_true", help="Print JSON")
    create.set_defaults(func=cmd_keys_create)
    klist = keys.add_parser("list", parents=[common], help="List API keys (never secrets)")
    klist.add_argument("--org", help="Organization id or slug (default: the only one)")
    klist.add_argument("--json", action="store_true", help="Print JSON")
    klist.set_defaults(func=cmd_keys_list)
    revoke = keys.add_parser("revoke", parents=[common], help="Revoke an API key")
    revoke.add_argument("key_id", help="The key's id (`key_...`)")
    revoke.add_argument("--org", help="Organization id or slug (default: the only one)")
    revoke.set_defaults(func=cmd_keys_revoke)

    team_cmds = sub.add_parser("team", help="Members and service accounts").add_subparsers(
        dest="team_cmd", required=True
    )
    roles = [r.value for r in Role]
    tlist = team_cmds.add_parser("list", parents=[common], help="List members")
    tlist.add_argument("--org", help="Organization id or slug (default: the only one)")
    tlist.add_argument("--json", action="store_true", help="Print JSON")
    tlist.set_defaults(func=cmd_team_list)
    invite = team_cmds.add_parser("invite", parents=[common], help="Invite a member")
    invite.add_argument("email")
    invite.add_argument("--role", choices=roles, default="viewer")
    invite.add_argument("--org", help="Organization id or slug (default: the only one)")
    invite.add_argument("--json", action="store_true", help="Print JSON")
    invite.set_defaults(func=cmd_team_invite)
    service = team_cmds.add_parser(
        "service-account", parents=[common], help="Create a service account"
    )
    service.add_argument("name")
    service.add_argument("--role", choices=roles, default="viewer")
    service.add_argument("--org", help="Organization id or slug (default: the only one)")
    service.add_argument("--json", action="store_true", help="Print JSON")
    service.set_defaults(func=cmd_team_service_account)
    tremove = team_cmds.add_parser(
        "remove", parents=[common], help="Remove a member and revoke their keys"
    )
    tremove.add_argument("member_id")
    tremove.add_argument("--org", help="Organization id or slug (default: the only one)")
    tremove.set_defaults(func=cmd_team_remove)

    conns = sub.add_parser("connections", help="Registered databases").add_subparsers(
        dest="conn_cmd", required=True
    )
    add = conns.add_parser("add", parents=[common], help="Register a database")
    add.add_argument("name")
    add.add_argument("--type", required=True, choices=sorted(CONNECTION_TYPES))
    add.add_argument("--database", help="File path (duckdb, sqlite) or database name")
    # Own dests: `host` and `port` on args are the HTTP service's settings (see _settings).
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
    add.add_argument("--org", help="Organization id or slug (default: the only one)")
    add.set_defaults(func=cmd_connections_add)
    lst = conns.add_parser("list", parents=[common], help="List connections")
    lst.add_argument("--org", help="Organization id or slug (default: the only one)")
    lst.set_defaults(func=cmd_connections_list)

    secrets = sub.add_parser("secrets", help="Encrypted connection passwords").add_subparsers(
        dest="secrets_cmd", required=True
    )
    rotate = secrets.add_parser(
        "rotate",
        parents=[common],
        help="Re-encrypt stored passwords with SQLGATE_SECRET_KEY (old keys in "
        "SQLGATE_PREVIOUS_SECRET_KEYS)",
    )
    rotate.set_defaults(func=cmd_secrets_rotate)

    ask = sub.add_parser(
        "ask", parents=[common], help="Ask a question in plain language; prints SQL and rows"
    )
    ask.add_argument("question")
    ask.add_argument("--connection", help="Connection id or name (default: the org's default)")
    ask.add_argument("--org", help="Organization id or slug (default: the only one)")
    ask.add_argument("--json", action="store_true", help="Print JSON")
    ask.set_defaults(func=cmd_ask)

    semantic = sub.add_parser(
        "semantic", help="Semantic models of connections (docs/nl.md)"
    ).add_subparsers(dest="semantic_cmd", required=True)
    deploy = semantic.add_parser(
        "deploy", parents=[common], help="Validate a semantic model file and deploy it"
    )
    deploy.add_argument("file", help="YAML (.yaml, .yml) or JSON (.json) file")
    deploy.add_argument("--connection", help="Connection id or name (default: the default one)")
    deploy.add_argument("--org", help="Organization id or slug (default: the only one)")
    deploy.set_defaults(func=cmd_semantic_deploy)
    show = semantic.add_parser(
        "show", parents=[common], help="Print the deployed semantic model (or the draft)"
    )
    show.add_argument("--connection", help="Connection id or name (default: the default one)")
    show.add_argument("--format", choices=["yaml", "json"], default="yaml")
    show.add_argument("--version", type=int, help="A deployed version (default: the latest)")
    show.add_argument(
        "--draft", action="store_true", help="The draft derived from the schema, even if deployed"
    )
    show.add_argument("--org", help="Organization id or slug (default: the only one)")
    show.set_defaults(func=cmd_semantic_show)

    add_dashboards_parser(sub, common)
    migrate = sub.add_parser("migrate", parents=[common], help="Apply metadata migrations")
    migrate.set_defaults(func=cmd_migrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "data_dir", None):
        os.environ["SQLGATE_DATA_DIR"] = args.data_dir
    try:
        code: int = args.func(args)
    except SqlgateError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    return code
