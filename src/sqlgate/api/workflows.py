"""Workflows (seed 002): `/v1/workflows`, scheduled and triggered queries with conditions,
webhooks and exports, and their run history. See docs/workflows.md."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from sqlgate.api.deps import AppServices, requires
from sqlgate.api.models import CURSOR_PATTERN, raises
from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Scope
from sqlgate.errors import (
    AuthorizationError,
    Conflict,
    NotFound,
    RateLimitExceeded,
    ValidationError,
)
from sqlgate.library.workflow_spec import shown_step
from sqlgate.library.workflow_store import RunInfo, WorkflowInfo
from sqlgate.results.jsonable import dumps

router = APIRouter(
    prefix="/v1/workflows", tags=["workflows"], responses=raises(NotFound, ValidationError)
)

Reader = Annotated[Principal, Depends(requires(Scope.QUERY_EXECUTE, Scope.QUERY_VALIDATE))]
Editor = Annotated[Principal, Depends(requires(Scope.QUERY_EXECUTE))]
WorkflowId = Annotated[str, Path(max_length=40, description="The workflow id (`wf_...`).")]
Limit = Annotated[int, Query(ge=1, le=100, description="Items per page.")]
Cursor = Annotated[
    str | None,
    Query(max_length=200, pattern=CURSOR_PATTERN, description="`next_cursor` of the last page."),
]

EXAMPLE = {
    "name": "Revenue alert",
    "description": "Weekdays at 8:00 Berlin time: post to chat when revenue fell below target",
    "trigger": {"type": "schedule", "cron": "0 8 * * 1-5", "timezone": "Europe/Berlin"},
    "steps": [
        {
            "type": "query",
            "connection_id": "demo",
            "sql": "SELECT SUM(amount) AS revenue FROM orders",
        },
        {"type": "condition", "column": "revenue", "op": "<", "value": 1000},
        {"type": "webhook", "url": "https://hooks.example.com/T0/B0/X", "secret": "s3cret"},
    ],
}
WorkflowBody = Annotated[
    dict[str, Any],
    Body(
        description="`name`, `description`, `enabled`, `trigger`, `steps` (docs/workflows.md). "
        "Every problem is reported, with its path, in one 422.",
        examples=[EXAMPLE],
    ),
]


# --- what the routes answer (published in the OpenAPI document) ---------------------------------


class WorkflowOut(BaseModel):
    workflow_id: str = Field(description="Workflow id (`wf_...`).")
    name: str = Field(description="Workflow name.")
    description: str | None = Field(description="What it is for.")
    enabled: bool = Field(description="Whether its schedule fires (a manual run works anyway).")
    trigger: dict[str, Any] = Field(
        description="`{type: manual}` or `{type: schedule, cron, timezone}`."
    )
    steps: list[dict[str, Any]] = Field(
        description="The ordered steps. A webhook's `url` and `secret` are write-only (a chat "
        "webhook's URL is its credential): it shows `url_origin` (scheme, host and port), "
        "`url_set` and `secret_set` instead."
    )
    next_run_at: str | None = Field(description="The next scheduled time (UTC); null if none.")
    owner_id: str = Field(description="The member whose role and scopes its runs use.")
    created_at: str = Field(description="When it was created (ISO 8601, UTC).")
    updated_at: str = Field(description="When it last changed (ISO 8601, UTC).")


class WorkflowEnvelope(BaseModel):
    data: WorkflowOut = Field(description="The workflow.")


class WorkflowList(BaseModel):
    data: list[WorkflowOut] = Field(description="Workflows, newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: last.")


class RunOut(BaseModel):
    run_id: str = Field(description="Run id (`wfr_...`).")
    workflow_id: str = Field(description="Its workflow.")
    trigger: str = Field(description="`schedule` or `manual`.")
    triggered_by: str | None = Field(description="The member who ran it by hand.")
    status: str = Field(
        description="`queued`, `running`, `succeeded`, `failed`, `skipped` (a condition was "
        "false), `interrupted` (its server stopped), `canceled`, `missed` (the server was down)."
    )
    scheduled_for: str | None = Field(description="The scheduled time it ran for (UTC).")
    steps: list[dict[str, Any]] = Field(
        description="Each step's `index`, `type`, `status`, `duration_ms` and what it did "
        "(`row_count`, `result`, `deliveries`, `job_id`) or its `error`."
    )
    error: dict[str, Any] | None = Field(description="Why the run failed: `code`, `message`.")
    created_at: str = Field(description="When it was queued (ISO 8601, UTC).")
    started_at: str | None = Field(description="When a worker started it.")
    finished_at: str | None = Field(description="When it ended.")


class RunEnvelope(BaseModel):
    data: RunOut = Field(description="The run.")


class RunList(BaseModel):
    data: list[RunOut] = Field(description="Runs, newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: last.")


def _json(payload: Any, status: int = 200) -> Response:
    return Response(dumps(payload), status_code=status, media_type="application/json")


def _workflow(info: WorkflowInfo) -> dict[str, Any]:
    return {
        "workflow_id": info.id,
        "name": info.name,
        "description": info.description,
        "enabled": info.enabled,
        "trigger": info.trigger,
        "steps": [shown_step(s) for s in info.steps],
        "next_run_at": info.next_run_at,
        "owner_id": info.member_id,
        "created_at": info.created_at,
        "updated_at": info.updated_at,
    }


def _run(run: RunInfo) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "workflow_id": run.workflow_id,
        "trigger": run.trigger,
        "triggered_by": run.member_id,
        "status": run.status,
        "scheduled_for": run.scheduled_for,
        "steps": run.steps,
        "error": run.error,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


# --- the documented API --------------------------------------------------------------------------


@router.get("", response_model=WorkflowList, summary="List workflows")
def list_workflows(
    principal: Reader, services: AppServices, limit: Limit = 20, cursor: Cursor = None
) -> Response:
    page = services.workflows.page(principal.org_id, limit=limit, cursor=cursor)
    return _json({"data": [_workflow(i) for i in page.items], "next_cursor": page.next_cursor})


@router.post("", status_code=201, response_model=WorkflowEnvelope, summary="Create a workflow")
def create_workflow(body: WorkflowBody, principal: Editor, services: AppServices) -> Response:
    """Create a workflow; its runs use the creator's role and scopes. 422 lists every
    problem with its path."""
    info = services.workflows.create(principal, body)
    return _json({"data": _workflow(info)}, 201)


@router.get("/{workflow_id}", response_model=WorkflowEnvelope, summary="Get a workflow")
def get_workflow(workflow_id: WorkflowId, principal: Reader, services: AppServices) -> Response:
    return _json({"data": _workflow(services.workflows.get(principal.org_id, workflow_id))})


@router.patch(
    "/{workflow_id}",
    response_model=WorkflowEnvelope,
    summary="Update a workflow",
    responses=raises(AuthorizationError),
)
def update_workflow(
    workflow_id: WorkflowId, body: WorkflowBody, principal: Editor, services: AppServices
) -> Response:
    """Change any of `name`, `description`, `enabled`, `trigger`, `steps` (the whole list; a
    webhook step that sends no `url` keeps the URL of the webhook step at its position, and one
    that sends no `secret` keeps the secret when its URL is the same)."""
    info = services.workflows.update(principal, workflow_id, body)
    return _json({"data": _workflow(info)})


@router.delete(
    "/{workflow_id}",
    status_code=204,
    summary="Delete a workflow",
    responses=raises(AuthorizationError),
)
def delete_workflow(workflow_id: WorkflowId, principal: Editor, services: AppServices) -> Response:
    """Its owner, or an admin, deletes a workflow and its run history."""
    services.workflows.delete(principal, workflow_id)
    return Response(status_code=204)


@router.post(
    "/{workflow_id}/run",
    status_code=202,
    response_model=RunEnvelope,
    summary="Trigger a workflow manually",
    responses=raises(RateLimitExceeded),
)
def run_workflow(workflow_id: WorkflowId, principal: Editor, services: AppServices) -> Response:
    """Queue a run now (whatever the trigger, and even when disabled); it runs in the
    background with the owner's role. Follow it with `GET .../runs/{run_id}`."""
    run = services.workflows.run(principal, workflow_id)
    return _json({"data": _run(run)}, 202)


@router.get("/{workflow_id}/runs", response_model=RunList, summary="Get workflow run history")
def list_runs(
    workflow_id: WorkflowId,
    principal: Reader,
    services: AppServices,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    page = services.workflows.runs(principal.org_id, workflow_id, limit=limit, cursor=cursor)
    return _json({"data": [_run(r) for r in page.items], "next_cursor": page.next_cursor})


@router.get("/{workflow_id}/runs/{run_id}", response_model=RunEnvelope, summary="Get a run")
def get_run(
    workflow_id: WorkflowId,
    run_id: Annotated[str, Path(max_length=40, description="The run id (`wfr_...`).")],
    principal: Reader,
    services: AppServices,
) -> Response:
    run = services.workflows.get_run(principal.org_id, workflow_id, run_id)
    return _json({"data": _run(run)})


@router.post(
    "/{workflow_id}/runs/{run_id}/cancel",
    response_model=RunEnvelope,
    summary="Cancel a run",
    responses=raises(Conflict),
)
def cancel_run(
    workflow_id: WorkflowId,
    run_id: Annotated[str, Path(max_length=40, description="The run id (`wfr_...`).")],
    principal: Editor,
    services: AppServices,
) -> Response:
    """A queued run never starts; a running one stops before its next step (a step already
    under way, such as a query or a delivery, finishes). A finished run: 409."""
    run = services.workflows.cancel(principal, workflow_id, run_id)
    return _json({"data": _run(run)})
