"""``sqlgate workflows list|show|create -f FILE|run ID|runs ID``: workflows as files, run by
hand from the command line (docs/workflows.md).

``create -f`` reads a YAML or JSON file; a file whose ``workflow_id`` exists in the organization
replaces that workflow, any other file creates a new one. ``run`` runs the workflow here and now
(in this process, as a server's worker would) and prints the run. Commands act on the server's
data directory as the organization's first owner, who becomes the owner of what they create.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from sqlgate.cli._base import as_operator, print_json, read_mapping
from sqlgate.errors import NotFound, SqlgateError, ValidationError

if TYPE_CHECKING:
    from sqlgate.auth.principal import Principal
    from sqlgate.container import Services
    from sqlgate.library.workflow_store import RunInfo, WorkflowInfo

#: How long ``run`` waits for a run a server's worker took before this process could.
WAIT_SECONDS = 600


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``workflows`` and its commands to the ``sqlgate`` subcommands."""
    cmds = sub.add_parser(
        "workflows", help="Workflows: list, show, create from a file, run, run history"
    ).add_subparsers(dest="workflows_cmd", required=True)
    lst = cmds.add_parser("list", parents=[common], help="List workflows")
    lst.add_argument("--json", action="store_true", help="Print JSON")
    show = cmds.add_parser("show", parents=[common], help="Print a workflow")
    show.add_argument("workflow_id")
    create = cmds.add_parser(
        "create", parents=[common], help="Create (or, with its workflow_id, replace) from a file"
    )
    create.add_argument("-f", "--file", required=True, help="YAML (.yaml, .yml) or JSON file")
    run = cmds.add_parser("run", parents=[common], help="Run a workflow now and print the run")
    run.add_argument("workflow_id")
    runs = cmds.add_parser("runs", parents=[common], help="A workflow's run history")
    runs.add_argument("workflow_id")
    runs.add_argument("--limit", type=_positive, default=20, help="Runs to show (newest first)")
    runs.add_argument("--json", action="store_true", help="Print JSON")
    for parser, func in (
        (lst, _list),
        (show, _show),
        (create, _create),
        (run, _run),
        (runs, _runs),
    ):
        parser.add_argument("--org", help="Organization id or slug (default: the only one)")
        parser.set_defaults(func=func)


def _positive(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 1000, not {text!r}")
    return int(text)


def portable(info: WorkflowInfo) -> dict[str, Any]:
    """A workflow as a file says it (a webhook's URL and secret only as ``url_origin``,
    ``url_set`` and ``secret_set``: the file, given back with its ``workflow_id``, keeps them)."""
    from sqlgate.library.workflow_spec import shown_step

    steps = [shown_step(step) for step in info.steps]
    return {
        "workflow_id": info.id,
        "name": info.name,
        "description": info.description,
        "enabled": info.enabled,
        "trigger": info.trigger,
        "steps": steps,
        "next_run_at": info.next_run_at,
        "owner_id": info.member_id,
    }


def run_dict(run: RunInfo) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "workflow_id": run.workflow_id,
        "trigger": run.trigger,
        "status": run.status,
        "scheduled_for": run.scheduled_for,
        "steps": run.steps,
        "error": run.error,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


def _list(args: argparse.Namespace) -> int:
    with as_operator(args) as (built, owner):
        items: list[WorkflowInfo] = []
        cursor = None
        while True:
            page = built.workflows.page(owner.org_id, limit=100, cursor=cursor)
            items += page.items
            if (cursor := page.next_cursor) is None:
                break
    if args.json:
        print_json([portable(i) for i in items])
        return 0
    for i in items:
        trigger = i.trigger
        when = trigger.get("cron", "manual") if i.enabled else "disabled"
        due = f", next {i.next_run_at:%Y-%m-%d %H:%M} UTC" if i.next_run_at else ""
        print(f"{i.id}  {i.name}  ({len(i.steps)} steps, {when}{due})")
    if not items:
        print("No workflows yet: sqlgate workflows create -f FILE")
    return 0


def _show(args: argparse.Namespace) -> int:
    with as_operator(args) as (built, owner):
        print_json(portable(built.workflows.get(owner.org_id, args.workflow_id)))
    return 0


def _create(args: argparse.Namespace) -> int:
    body = read_mapping(args.file, "workflow")
    workflow_id = body.pop("workflow_id", None)
    for shown_only in ("next_run_at", "owner_id"):
        body.pop(shown_only, None)
    for step in body.get("steps") or []:
        if isinstance(step, dict):
            for shown in ("secret_set", "url_set", "url_origin"):
                step.pop(shown, None)
    with as_operator(args) as (built, owner):
        try:
            info, verb = _deploy(built, owner, workflow_id, body)
        except ValidationError as exc:
            problems = "; ".join(
                f"{p['field']}: {p['message']}" for p in exc.details.get("details", [])
            )
            raise SqlgateError(f"{exc.message}: {problems}" if problems else exc.message) from None
    print_json(
        {verb: True, "workflow_id": info.id, "name": info.name, "next_run_at": info.next_run_at}
    )
    return 0


def _deploy(
    built: Services, owner: Principal, workflow_id: Any, body: dict[str, Any]
) -> tuple[WorkflowInfo, str]:
    if isinstance(workflow_id, str):
        try:
            built.workflows.get(owner.org_id, workflow_id)
        except NotFound:
            pass
        else:
            full = {"description": None, "enabled": True, "trigger": {"type": "manual"}, **body}
            return built.workflows.update(owner, workflow_id, full), "replaced"
    return built.workflows.create(owner, body), "created"


def _run(args: argparse.Namespace) -> int:
    with as_operator(args) as (built, owner):
        run = built.workflows.run(owner, args.workflow_id)
        if built.workflow_engine.run_here(run) is None:  # a server's worker took it
            deadline = time.monotonic() + WAIT_SECONDS
            while run.status in ("queued", "running") and time.monotonic() < deadline:
                time.sleep(0.5)
                run = built.workflows.get_run(owner.org_id, run.workflow_id, run.id)
        run = built.workflows.get_run(owner.org_id, run.workflow_id, run.id)
    print_json(run_dict(run))
    if run.status == "failed":
        message = (run.error or {}).get("message", "the run failed")
        print(f"error: {message}", file=sys.stderr)
        return 1
    return 0


def _runs(args: argparse.Namespace) -> int:
    with as_operator(args) as (built, owner):
        page = built.workflows.runs(owner.org_id, args.workflow_id, limit=args.limit, cursor=None)
    if args.json:
        print_json([run_dict(r) for r in page.items])
        return 0
    for r in page.items:
        when = r.scheduled_for or r.created_at
        took = ""
        if r.started_at and r.finished_at:
            took = f" in {(r.finished_at - r.started_at).total_seconds():.1f}s"
        error = f": {r.error['message']}" if r.error else ""
        print(f"{r.id}  {when:%Y-%m-%d %H:%M:%S}  {r.trigger:8}  {r.status}{took}{error}")
    if not page.items:
        print("No runs yet: sqlgate workflows run ID")
    return 0
