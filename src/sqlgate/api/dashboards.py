"""Dashboards (seed 002): `/v1/dashboards` with every widget's current data, and read-only
shared links (`/v1/shared/dashboards/...`, no API key: the signature is the credential).
See docs/dashboards.md."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from sqlgate.api.deps import AppServices, requires
from sqlgate.api.models import Cursor, RequestModel, raises
from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Scope
from sqlgate.errors import AuthorizationError, NotFound, RateLimitExceeded, ValidationError
from sqlgate.library.dashboard_store import DashboardInfo
from sqlgate.library.dashboards import SHARE_MAX_SECONDS, SharedLink, Shown
from sqlgate.results.jsonable import dumps

router = APIRouter(
    prefix="/v1/dashboards", tags=["dashboards"], responses=raises(NotFound, ValidationError)
)
#: Public: the signed link is the credential (listed as ``x-public`` in the OpenAPI document).
shared = APIRouter(prefix="/v1/shared/dashboards", tags=["dashboards"])

Reader = Annotated[Principal, Depends(requires(Scope.QUERY_EXECUTE, Scope.QUERY_VALIDATE))]
#: Reading with data runs queries: counted in the `query` rate-limit group.
Runner = Annotated[
    Principal, Depends(requires(Scope.QUERY_EXECUTE, Scope.QUERY_VALIDATE, group="query"))
]
Editor = Annotated[Principal, Depends(requires(Scope.QUERY_EXECUTE))]
Admin = Annotated[Principal, Depends(requires(Scope.ADMIN))]
DashboardId = Annotated[str, Path(max_length=40, description="The dashboard id (`dash_...`).")]
Refresh = Annotated[bool, Query(description="Re-run every widget instead of using its cache.")]

SEED_EXAMPLE = {
    "name": "Sales Overview",
    "description": "Daily sales metrics",
    "widgets": [
        {"type": "metric", "query_id": "q_abc", "position": {"x": 0, "y": 0, "w": 6, "h": 4}}
    ],
}
DashboardBody = Annotated[
    dict[str, Any],
    Body(
        description="`name`, `description`, `widgets`, `filters`, `refresh_interval` "
        "(docs/dashboards.md). Every problem is reported, with its path, in one 422.",
        examples=[SEED_EXAMPLE],
    ),
]
#: Widget fields a shared link never shows: which query, what SQL, which database.
_PRIVATE = ("query_id", "sql", "connection_id", "row_limit", "timeout")


# --- what the routes answer (published in the OpenAPI document) ---------------------------------


class PositionOut(BaseModel):
    x: int = Field(description="Column, 0-11.")
    y: int = Field(description="Row.")
    w: int = Field(description="Width in columns; x + w is at most 12.")
    h: int = Field(description="Height in rows.")


class WidgetDataOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    columns: list[str] = Field(description="Result column names.")
    rows: list[list[Any]] = Field(description="Rows as arrays, in column order.")
    row_count: int = Field(description="Rows returned.")
    truncated: bool = Field(description="Whether the query had more rows than `row_limit`.")
    refreshed_at: str = Field(description="When the query ran (ISO 8601, UTC).")
    cached: bool = Field(description="Whether this answer reused a cached result.")


class WidgetErrorOut(BaseModel):
    code: str = Field(description="The error code, as the query route would answer.")
    message: str = Field(description="What went wrong.")


class WidgetOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    widget_id: str = Field(description="Stable id (`w_...`); send it back in a PATCH to keep it.")
    type: str = Field(
        description="`metric`, `table`, `line`, `bar`, `area`, `pie`, `scatter`, `text`."
    )
    position: PositionOut = Field(description="Where it sits on the 12-column grid.")
    data: WidgetDataOut | None = Field(
        default=None, description="The current data (plus the type's shape); null for text."
    )
    error: WidgetErrorOut | None = Field(default=None, description="Only when it failed.")


class DashboardOut(BaseModel):
    dashboard_id: str = Field(description="Dashboard id (`dash_...`).")
    name: str = Field(description="Dashboard name.")
    description: str | None = Field(description="What it shows.")
    refresh_interval: int = Field(description="Seconds a widget's result is reused.")
    filters: list[dict[str, Any]] = Field(
        description="`name`, `type`, `label`, `default`, `options`."
    )
    widgets: list[WidgetOut] = Field(description="Widgets, each with its current data.")
    member_id: str = Field(description="Who created it.")
    created_at: str = Field(description="When it was created (ISO 8601, UTC).")
    updated_at: str = Field(description="When it last changed (ISO 8601, UTC).")


class DashboardEnvelope(BaseModel):
    data: DashboardOut = Field(description="The dashboard, with each widget's current data.")


class DashboardList(BaseModel):
    data: list[DashboardOut] = Field(description="Dashboards, newest first (no widget data).")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: last.")


class ShareOut(BaseModel):
    share_id: str = Field(description="Shared link id (`dsh_...`).")
    dashboard_id: str = Field(description="The dashboard it shows.")
    url: str = Field(description="The signed link; it works without an API key.")
    expires_at: str = Field(description="When the link stops working (ISO 8601, UTC).")
    revoked_at: str | None = Field(description="When it was revoked; null while active.")
    created_by: str = Field(description="The member whose access the link's queries use.")
    created_at: str = Field(description="When it was created (ISO 8601, UTC).")


class ShareEnvelope(BaseModel):
    data: ShareOut = Field(description="The shared link.")


class ShareList(BaseModel):
    data: list[ShareOut] = Field(description="The dashboard's shared links, newest first.")


def _json(payload: Any, status: int = 200) -> Response:
    return Response(dumps(payload), status_code=status, media_type="application/json")


def _filters(request: Request) -> dict[str, str]:
    """``?filter.<name>=<value>`` (the last value of a name wins)."""
    return {
        k.removeprefix("filter."): v
        for k, v in request.query_params.multi_items()
        if k.startswith("filter.") and len(k) > len("filter.")
    }


def _dashboard(info: DashboardInfo) -> dict[str, Any]:
    return {
        "dashboard_id": info.id,
        "name": info.name,
        "description": info.description,
        "refresh_interval": info.refresh_interval,
        "filters": info.filters,
        "widgets": info.widgets,
        "member_id": info.member_id,
        "created_at": info.created_at,
        "updated_at": info.updated_at,
    }


def _shown(shown: Shown) -> dict[str, Any]:
    out = _dashboard(shown.dashboard)
    results = shown.results or {}
    out["widgets"] = [
        {**w, "data": None, **results.get(w["widget_id"], {})} for w in out["widgets"]
    ]
    return out


def _public(shown: Shown) -> dict[str, Any]:
    out = _shown(shown)
    widgets = []
    for widget in out["widgets"]:
        widget = {k: v for k, v in widget.items() if k not in _PRIVATE}
        if "error" in widget:  # an engine's message may quote the SQL
            code = widget["error"]["code"]
            widget["error"] = {"code": code, "message": "This widget could not be loaded."}
        widgets.append(widget)
    keep = ("dashboard_id", "name", "description", "refresh_interval", "updated_at")
    public = {k: out[k] for k in keep}
    public["filters"] = [{k: v for k, v in f.items() if v is not None} for f in out["filters"]]
    public["widgets"] = widgets
    return public


def _share(link: SharedLink, base: str) -> dict[str, Any]:
    share = link.share
    return {
        "share_id": share.id,
        "dashboard_id": share.dashboard_id,
        "url": base + link.url,
        "expires_at": share.expires_at,
        "revoked_at": share.revoked_at,
        "created_by": share.member_id,
        "created_at": share.created_at,
    }


# --- the documented API --------------------------------------------------------------------------


@router.get("", response_model=DashboardList, summary="List dashboards")
def list_dashboards(
    principal: Reader,
    services: AppServices,
    limit: Annotated[int, Query(ge=1, le=100, description="Dashboards per page.")] = 20,
    cursor: Cursor = None,
) -> Response:
    """The organization's dashboards (configuration only), newest first."""
    page = services.dashboards.page(principal.org_id, limit=limit, cursor=cursor)
    return _json({"data": [_dashboard(i) for i in page.items], "next_cursor": page.next_cursor})


@router.post("", status_code=201, response_model=DashboardEnvelope, summary="Create a dashboard")
def create_dashboard(body: DashboardBody, principal: Editor, services: AppServices) -> Response:
    """Create a dashboard; each widget gets a stable `widget_id`. 422 lists every problem."""
    info = services.dashboards.create(principal.org_id, principal.member_id, body)
    return _json({"data": _dashboard(info)}, 201)


@router.get("/{dashboard_id}", response_model=DashboardEnvelope, summary="Get a dashboard")
def get_dashboard(
    dashboard_id: DashboardId,
    principal: Runner,
    services: AppServices,
    request: Request,
    refresh: Refresh = False,
    data: Annotated[bool, Query(description="false: the configuration only.")] = True,
) -> Response:
    """The dashboard configuration including all widgets and their current data: each query
    widget has `data` (`columns`, `rows`, `row_count`, `truncated`, `refreshed_at`, `cached`,
    and its type's shape) or its own `error`. Filter values: `?filter.<name>=<value>`."""
    shown = services.dashboards.show(
        principal, dashboard_id, _filters(request), refresh=refresh, data=data
    )
    return _json({"data": _shown(shown)})


class DataBody(RequestModel):
    filters: dict[str, Any] = Field(
        default_factory=dict,
        description="Filter values by name; a date range as `{start, end}` or `A..B`.",
    )
    refresh: bool = Field(default=False, description="Re-run every widget.")


@router.post(
    "/{dashboard_id}/data",
    response_model=DashboardEnvelope,
    summary="Get a dashboard's data with filter values",
)
def dashboard_data(
    dashboard_id: DashboardId, principal: Runner, services: AppServices, body: DataBody
) -> Response:
    """As `GET /v1/dashboards/{id}`, with the filter values in the body."""
    shown = services.dashboards.show(principal, dashboard_id, body.filters, refresh=body.refresh)
    return _json({"data": _shown(shown)})


@router.patch("/{dashboard_id}", response_model=DashboardEnvelope, summary="Update a dashboard")
def update_dashboard(
    dashboard_id: DashboardId, body: DashboardBody, principal: Editor, services: AppServices
) -> Response:
    """Change any of `name`, `description`, `widgets` (the whole list: give a widget's
    `widget_id` back to keep it; leave it out to remove it), `filters`, `refresh_interval`."""
    info = services.dashboards.update(principal, dashboard_id, body)
    return _json({"data": _dashboard(info)})


@router.delete("/{dashboard_id}", status_code=204, summary="Delete a dashboard")
def delete_dashboard(
    dashboard_id: DashboardId, principal: Editor, services: AppServices
) -> Response:
    """Its author, or an admin, deletes a dashboard (and its shared links)."""
    services.dashboards.delete(principal, dashboard_id)
    return Response(status_code=204)


# --- shared links --------------------------------------------------------------------------------


class ShareBody(RequestModel):
    expires_in: int | None = Field(
        default=None,
        ge=1,
        le=SHARE_MAX_SECONDS,
        description="Seconds the link works (default 7 days, at most 90).",
    )


@router.post(
    "/{dashboard_id}/shares",
    status_code=201,
    response_model=ShareEnvelope,
    summary="Share a dashboard read-only",
)
def create_share(
    dashboard_id: DashboardId,
    principal: Admin,
    services: AppServices,
    request: Request,
    body: ShareBody | None = None,
) -> Response:
    """A signed, expiring link that shows the dashboard's data without an API key (and
    without its SQL or connections). Its queries run as the admin who created it."""
    link = services.dashboards.share(principal, dashboard_id, body.expires_in if body else None)
    return _json({"data": _share(link, str(request.base_url).rstrip("/"))}, 201)


@router.get(
    "/{dashboard_id}/shares", response_model=ShareList, summary="List a dashboard's shared links"
)
def list_shares(
    dashboard_id: DashboardId, principal: Admin, services: AppServices, request: Request
) -> Response:
    base = str(request.base_url).rstrip("/")
    links = services.dashboards.shares(principal.org_id, dashboard_id)
    return _json({"data": [_share(link, base) for link in links]})


@router.delete("/{dashboard_id}/shares/{share_id}", status_code=204, summary="Revoke a shared link")
def revoke_share(
    dashboard_id: DashboardId,
    share_id: Annotated[str, Path(max_length=40)],
    principal: Admin,
    services: AppServices,
) -> Response:
    services.dashboards.revoke(principal.org_id, dashboard_id, share_id)
    return Response(status_code=204)


@shared.get(
    "/{share_id}",
    summary="A shared dashboard (signed URL)",
    responses=raises(AuthorizationError, NotFound, RateLimitExceeded),
)
async def shared_dashboard(
    share_id: Annotated[str, Path(max_length=40, description="The shared link id.")],
    services: AppServices,
    request: Request,
    expires: Annotated[str | None, Query(description="Unix time the link expires.")] = None,
    signature: Annotated[str | None, Query(description="The link's signature.")] = None,
    refresh: Refresh = False,
) -> Response:
    """No API key: the signature, bound to this link and its expiry, is the credential. The
    widgets' data, never their SQL or connections. Forged, expired or revoked: 403."""
    expiry = int(expires) if expires is not None and expires.isdigit() else None
    shown = await run_in_threadpool(
        services.dashboards.shared, share_id, expiry, signature, _filters(request), refresh=refresh
    )
    return _json({"data": _public(shown)})
