"""``sqlgate dashboards list|show|create -f FILE|export ID``: dashboards as files, so they can
live in git and be deployed like semantic models (docs/dashboards.md).

``export`` writes a dashboard as YAML (or JSON) with its ``dashboard_id`` and widget ids;
``create -f`` reads such a file back: a file whose ``dashboard_id`` exists in the organization
replaces that dashboard (widgets keep their ids), any other file creates a new one. Commands run
on the server's data directory as the organization's first owner.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from sqlgate.cli._base import as_operator, print_json, read_mapping
from sqlgate.errors import NotFound, SqlgateError, ValidationError

if TYPE_CHECKING:
    from sqlgate.auth.principal import Principal
    from sqlgate.container import Services
    from sqlgate.library.dashboard_store import DashboardInfo


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``dashboards`` and its commands to the ``sqlgate`` subcommands."""
    cmds = sub.add_parser(
        "dashboards", help="Dashboards: list, show, create from a file, export"
    ).add_subparsers(dest="dashboards_cmd", required=True)
    lst = cmds.add_parser("list", parents=[common], help="List dashboards")
    lst.add_argument("--json", action="store_true", help="Print JSON")
    show = cmds.add_parser("show", parents=[common], help="Print a dashboard with its data")
    show.add_argument("dashboard_id")
    show.add_argument(
        "--filter", action="append", default=[], metavar="NAME=VALUE", help="A filter value"
    )
    show.add_argument("--refresh", action="store_true", help="Re-run every widget")
    create = cmds.add_parser(
        "create", parents=[common], help="Create (or, with its dashboard_id, replace) from a file"
    )
    create.add_argument("-f", "--file", required=True, help="YAML (.yaml, .yml) or JSON file")
    export = cmds.add_parser("export", parents=[common], help="Print a dashboard as a file")
    export.add_argument("dashboard_id")
    export.add_argument("--format", choices=["yaml", "json"], default="yaml")
    for parser, func in ((lst, _list), (show, _show), (create, _create), (export, _export)):
        parser.add_argument("--org", help="Organization id or slug (default: the only one)")
        parser.set_defaults(func=func)


def portable(info: DashboardInfo) -> dict[str, Any]:
    """A dashboard as a file says it: what ``create -f`` reads back."""
    filters = [{k: v for k, v in f.items() if v is not None} for f in info.filters]
    return {
        "dashboard_id": info.id,
        "name": info.name,
        "description": info.description,
        "refresh_interval": info.refresh_interval,
        "filters": filters,
        "widgets": info.widgets,
    }


def _list(args: argparse.Namespace) -> int:
    with as_operator(args) as (services, owner):
        items: list[DashboardInfo] = []
        cursor = None
        while True:
            page = services.dashboards.page(owner.org_id, limit=100, cursor=cursor)
            items += page.items
            if (cursor := page.next_cursor) is None:
                break
    if args.json:
        print_json([{"dashboard_id": i.id, "name": i.name, "widgets": len(i.widgets),
                      "updated_at": i.updated_at} for i in items])  # fmt: skip
        return 0
    for i in items:
        print(
            f"{i.id}  {i.name}  ({len(i.widgets)} widgets, updated {i.updated_at:%Y-%m-%d %H:%M})"
        )
    if not items:
        print("No dashboards yet: sqlgate dashboards create -f FILE")
    return 0


def _show(args: argparse.Namespace) -> int:
    given: dict[str, str] = {}
    for item in args.filter:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SqlgateError(f"--filter takes NAME=VALUE, not {item!r}")
        given[name] = value
    with as_operator(args) as (services, owner):
        shown = services.dashboards.show(owner, args.dashboard_id, given, refresh=args.refresh)
    out = portable(shown.dashboard)
    results = shown.results or {}
    out["widgets"] = [
        {**w, "data": None, **results.get(w["widget_id"], {})} for w in out["widgets"]
    ]
    print_json(out)
    return 0


def _create(args: argparse.Namespace) -> int:
    body = read_mapping(args.file, "dashboard")
    dashboard_id = body.pop("dashboard_id", None)
    with as_operator(args) as (services, owner):
        try:
            info, verb = _deploy(services, owner, dashboard_id, body)
        except ValidationError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            for problem in exc.details.get("details", []):
                print(f"  {problem['field']}: {problem['message']}", file=sys.stderr)
            return 2
    print_json({verb: True, "dashboard_id": info.id, "name": info.name,
                 "widgets": [w["widget_id"] for w in info.widgets]})  # fmt: skip
    return 0


def _deploy(
    services: Services, owner: Principal, dashboard_id: Any, body: dict[str, Any]
) -> tuple[DashboardInfo, str]:
    if isinstance(dashboard_id, str):
        try:
            services.dashboards.get(owner.org_id, dashboard_id)
        except NotFound:
            pass
        else:
            full = {"description": None, "filters": [], "widgets": [], **body}
            return services.dashboards.update(owner, dashboard_id, full), "replaced"
    return services.dashboards.create(owner.org_id, owner.member_id, body), "created"


def _export(args: argparse.Namespace) -> int:
    import yaml

    with as_operator(args) as (services, owner):
        info = services.dashboards.get(owner.org_id, args.dashboard_id)
    doc = portable(info)
    if args.format == "json":
        print_json(doc)
    else:
        print(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100), end="")
    return 0
