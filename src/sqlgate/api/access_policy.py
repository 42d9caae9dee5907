"""A connection's access policy: read the layers that bind the organization, deploy a version."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from sqlgate.api.deps import AppServices, client_address, requires
from sqlgate.api.models import QueryBody, QueryOut, query_out, raises
from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Scope
from sqlgate.errors import (
    ConnectionFailed,
    NotFound,
    PayloadTooLarge,
    QueryError,
    QueryTimeout,
    SqlNotAllowed,
    SqlSyntaxError,
    UnsupportedMediaType,
    ValidationError,
)
from sqlgate.services.access_policies import OPERATOR, Format, PolicyVersion
from sqlgate.services.query import QueryRequest

router = APIRouter(
    prefix="/v1/connections/{connection_id}/access_policy",
    tags=["access policies"],
    responses=raises(UnsupportedMediaType, ConnectionFailed),
)

Admin = Annotated[Principal, Depends(requires(Scope.CONNECTIONS_WRITE))]

_YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})


class LayerOut(BaseModel):
    layer: Literal["operator", "organization"] = Field(
        description="`operator`: the policy that binds every organization reading the "
        "connection; `organization`: the restrictive policies this organization added."
    )
    version: int = Field(description="Version of this layer (1, 2, ...).")
    deployed_at: datetime = Field(description="When this version was deployed.")
    deployed_by: str | None = Field(description="The member who deployed it (`null`: the CLI).")
    format: Literal["yaml", "json"] = Field(description="The format it was deployed in.")
    document: str = Field(description="Exactly the deployed text.")


class AccessPolicyOut(BaseModel):
    connection_id: str = Field(description="The connection the policy belongs to.")
    enforced: bool = Field(description="Whether any access policy applies to the connection.")
    layers: list[LayerOut] = Field(description="The deployed layers, operator first.")


class AccessPolicyEnvelope(BaseModel):
    data: AccessPolicyOut = Field(description="The connection's access policy.")


class DeployedOut(BaseModel):
    data: LayerOut = Field(description="The version just deployed.")


def _layer(version: PolicyVersion) -> dict[str, Any]:
    return {
        "layer": "operator" if version.layer == OPERATOR else "organization",
        "version": version.version,
        "deployed_at": version.deployed_at,
        "deployed_by": version.member_id,
        "format": version.format,
        "document": version.source,
    }


@router.get("", response_model=AccessPolicyEnvelope, summary="Get the access policy")
def get_access_policy(
    connection_id: str, principal: Admin, services: AppServices
) -> dict[str, Any]:
    """The latest version of each layer that binds this organization on the connection
    (administrators only: a policy names the columns it hides)."""
    conn = services.connections.get(principal.org_id, connection_id)
    layers = services.policies.current(principal, conn)
    return {
        "data": {
            "connection_id": conn.id,
            "enforced": bool(layers),
            "layers": [_layer(v) for v in layers],
        }
    }


@router.put(
    "",
    response_model=DeployedOut,
    summary="Deploy an access policy",
    responses=raises(PayloadTooLarge, ValidationError),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The access policy (see docs/access-policies.md): a JSON object "
            "with `Content-Type: application/json`, or YAML text with "
            "`Content-Type: application/yaml` (or `text/yaml`).",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "tables": {"type": "object"},
                            "default": {"type": "string", "enum": ["deny", "allow"]},
                        },
                    }
                },
                "application/yaml": {"schema": {"type": "string"}},
                "text/yaml": {"schema": {"type": "string"}},
            },
        }
    },
)
async def put_access_policy(
    connection_id: str, request: Request, principal: Admin, services: AppServices
) -> dict[str, Any]:
    """Checks the policy (structure, every table and column exists, expressions compile in
    the connection's dialect and pass the SQL guard) and stores it as the next version; it
    applies to the next query. On a connection the organization owns this is the operator
    layer; on one shared with it, the organization's own layer, which may only narrow: a 422
    `validation_error` lists each problem with its `path`, and nothing is stored."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fmt: Format | None
    if media == "application/json":
        fmt = "json"
    elif media in _YAML_TYPES:
        fmt = "yaml"
    elif media == "text/plain":
        fmt = None
    else:
        raise UnsupportedMediaType(
            f"Send the access policy as application/json or application/yaml, not {media!r}"
        )
    body = await request.body()
    conn = await run_in_threadpool(services.connections.get, principal.org_id, connection_id)
    deployed = await run_in_threadpool(
        lambda: services.policies.deploy(principal, conn, body, fmt, client=client_address(request))
    )
    return {"data": _layer(deployed)}


class PreviewBody(QueryBody):
    member_id: str = Field(
        min_length=1,
        max_length=40,
        description="The member to run the query as (same organization).",
    )


class AppliedOut(BaseModel):
    versions: dict[str, int] = Field(description="Layer (`operator` or the org id) -> version.")
    sql: str = Field(description="The query as the connection ran it, rewritten by the policy.")
    tables: list[str] = Field(description="Tables the query read, each through its policy.")
    policies: list[str] = Field(description="Row policies that applied (`table.policy`).")
    hidden: list[str] = Field(description="Columns hidden from the member (`table.column`).")
    masked: list[str] = Field(description="Columns masked for the member (`table.column`).")


class PreviewOut(BaseModel):
    result: QueryOut = Field(description="What the member would get.")
    access_policy: AppliedOut | None = Field(
        description="What the policy did; `null` when no policy applies to the connection."
    )


@router.post(
    "/preview",
    response_model=PreviewOut,
    summary="Preview a query as a member",
    responses=raises(NotFound, SqlNotAllowed, SqlSyntaxError, QueryError, QueryTimeout),
)
def preview_access_policy(
    connection_id: str,
    body: PreviewBody,
    principal: Admin,
    services: AppServices,
    request: Request,
) -> dict[str, Any]:
    """Administrators only: run the query as member `member_id` of the organization sees it
    under the access policy, with the rewritten SQL and what the policy applied. Audited (action
    `access_policy.preview`, the member as who, the administrator's key as how)."""
    ran, applied = services.queries.preview(
        principal,
        connection_id,
        body.member_id,
        QueryRequest(body.query, body.params, body.row_limit, body.timeout),
        client=client_address(request),
    )
    return {"result": query_out(ran.result), "access_policy": applied}
