"""`sqlgate serve`, `init`, `migrate` and `secrets rotate`: running and setting up the server."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sqlgate import __version__
from sqlgate.cli._base import Adder, UsageError, command, print_json, services, settings
from sqlgate.errors import ValidationError


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from sqlgate import tls as https
    from sqlgate.cli import _workers as workers
    from sqlgate.cli._access_log import log_config as access_log_config
    from sqlgate.cli._memory import return_large_buffers
    from sqlgate.cli._serving import serving_app
    from sqlgate.cli._transport import HTTP_PROTOCOL
    from sqlgate.cli._unused import keep_out_unused

    keep_out_unused()  # before pyarrow is first imported (below)
    from sqlgate.services import orgs
    from sqlgate.services.bootstrap import ensure_demo_connection

    return_large_buffers()
    configured = settings(args)
    try:
        tls = https.configure(configured)
    except ValidationError as exc:  # the TLS options do not make a setup: a usage error
        raise UsageError(exc.message) from None
    if args.demo:
        from sqlgate.demo import ensure_demo_database

        configured.ensure_data_dir()
        print("Preparing the demo database (generated once, on first start)...", flush=True)
        ensure_demo_database(configured.data_dir)
    # Migrations, the secret key and the demo connection are settled once, here, before any
    # worker starts.
    with services(args) as built:
        org = orgs.first_organization(built.store)
        if args.demo and org is not None:
            ensure_demo_connection(built.connections, built.settings.data_dir, org.id)
    base = f"{'https' if tls else 'http'}://{configured.host}:{configured.port}"
    print(f"sqlgate {__version__} on {base}  (data dir: {configured.data_dir})")
    print(f"  API docs:  {base}/docs")
    if tls is not None:
        made = " (new)" if tls.created else ""
        print(f"  TLS certificate{made}: {tls.cert}")
        print(f"  SHA-256 fingerprint: {tls.fingerprint}")
    warning = https.exposure_warning(configured, tls)
    if warning:
        print(warning, file=sys.stderr)
    if org is None:
        print("  No organization yet. Create one and its first API key with:")
        print(f"    sqlgate init --data-dir {configured.data_dir}")
    else:
        print(f"  Organization: {org.slug} ({org.id}); new key: sqlgate keys create")
    sys.stdout.flush()
    common = {
        "host": configured.host,
        "port": configured.port,
        "log_level": args.log_level,
        "access_log": configured.access_log,
        "log_config": access_log_config(),
        "http": HTTP_PROTOCOL,
        **https.server_options(configured, tls),
    }
    if args.workers > 1:
        # Each worker process builds its own app from the same SQLGATE_* environment.
        os.environ["SQLGATE_DATA_DIR"] = str(configured.data_dir)
        if workers.balanced():
            return workers.serve(args.workers, common)
        uvicorn.run(
            "sqlgate.cli._serving:serving_app", factory=True, workers=args.workers, **common
        )
    else:
        uvicorn.run(serving_app(configured), **common)
    return 0


def worker_count(text: str) -> int:
    """``--workers``: a number of processes, or ``auto`` (one per CPU)."""
    from sqlgate.cli import _workers as workers

    if text == "auto":
        return workers.auto_workers()
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number or 'auto'") from None
    if count < 1:
        raise argparse.ArgumentTypeError("at least 1")
    return count


def cmd_init(args: argparse.Namespace) -> int:
    from sqlgate.services import orgs
    from sqlgate.services.bootstrap import ensure_demo_connection

    with services(args) as built:
        result = orgs.init_organization(built.store, name=args.name, owner_email=args.email)
        if not result.created:
            message = (
                f"Organization {result.org_slug} ({result.org_id}) already exists; issue "
                "another key with `sqlgate keys create`."
            )
            if args.json:
                print_json({"created": False, "org_id": result.org_id, "message": message})
            else:
                print(message)
            return 0
        demo = ensure_demo_connection(built.connections, built.settings.data_dir, result.org_id)
        assert result.key is not None
        if args.json:
            print_json(
                {
                    "created": True,
                    "org_id": result.org_id,
                    "org_slug": result.org_slug,
                    "member_id": result.member_id,
                    "key_id": result.key.key_id,
                    "api_key": result.key.api_key,
                    "scopes": result.key.scopes,
                    "connections": [demo.name] if demo else [],
                    "data_dir": str(built.settings.data_dir),
                }
            )
            return 0
        print(f"Created organization {result.org_slug} ({result.org_id}).")
        print(f"Owner API key (shown once, store it now): {result.key.api_key}")
        if demo:
            print("Try it:")
            print(
                f"  curl -H 'Authorization: Bearer {result.key.api_key}' "
                '-d \'{"query": "SELECT count(*) FROM orders"}\' '
                f"http://{built.settings.host}:{built.settings.port}/api/v1/query/demo"
            )
        return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    with services(args):  # building the services applies the migrations
        pass
    if args.json:
        print_json({"up_to_date": True})
    else:
        print("metadata store is up to date")
    return 0


def cmd_secrets_rotate(args: argparse.Namespace) -> int:
    with services(args) as built:
        rotated, unchanged = built.connections.rotate_secrets()
        hooks, hooks_unchanged = built.workflows.seal_secrets(rotate=True)
    if args.json:
        print_json(
            {
                "rotated": rotated,
                "unchanged": unchanged,
                "webhooks_rotated": hooks,
                "webhooks_unchanged": hooks_unchanged,
            }
        )
    else:
        print(f"re-encrypted {rotated} password(s) with the current key; {unchanged} already were")
        print(
            f"re-encrypted the URL and secret of {hooks} workflow webhook step(s); "
            f"{hooks_unchanged} already were"
        )
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    add: Adder = sub.add_parser
    serve = add("serve", parents=[common], help="Run the HTTP service")
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
        "--no-access-log",
        action="store_true",
        help="No line per request (SQLGATE_ACCESS_LOG=false); the audit history still has "
        "every query",
    )
    serve.add_argument(
        "--workers",
        type=worker_count,
        default=1,
        help="Server processes, or `auto`: one per CPU (default 1). Rate limits are per "
        "process unless SQLGATE_REDIS_URL is set.",
    )
    serve.set_defaults(func=cmd_serve)

    init = command(add, "init", cmd_init, "Create the first org and owner key", common=common)
    init.add_argument("--name", default="Default", help="Organization name")
    init.add_argument("--email", default="owner@localhost", help="Owner's email")


def register_maintenance(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    common: argparse.ArgumentParser,
) -> None:
    add: Adder = sub.add_parser
    command(add, "migrate", cmd_migrate, "Apply metadata migrations", common=common)
    secrets = add("secrets", help="Encrypted connection passwords")
    rotate_help = (
        "Re-encrypt stored passwords with SQLGATE_SECRET_KEY (old keys in "
        "SQLGATE_PREVIOUS_SECRET_KEYS)"
    )
    group = secrets.add_subparsers(dest="secrets_cmd", required=True, metavar="COMMAND")
    command(group.add_parser, "rotate", cmd_secrets_rotate, rotate_help, common=common)
