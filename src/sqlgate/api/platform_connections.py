"""`/v1/platform/connections`: the operator's shared connections and their grants.

Registering a shared connection stays at the command line (`sqlgate connections add --shared`,
where the operator may name any file or host); granting and revoking are here too, so a revoke
made through this API applies at once in the server process that receives it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from sqlgate.api.deps import AppServices
from sqlgate.api.models import RequestModel, raises
from sqlgate.api.platform import OperatorKey
from sqlgate.errors import Conflict
from sqlgate.services.connections import ConnectionInfo
from sqlgate.services.shared_connections import Grant

router = APIRouter(prefix="/v1/platform/connections", tags=["platform"], responses=raises(Conflict))


class GrantIn(RequestModel):
    org: str = Field(min_length=1, max_length=100, description="Organization id or slug.")
    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The name it has in the organization (default: its own).",
    )


class GrantOut(BaseModel):
    org_id: str = Field(description="The organization it is granted to.")
    org_slug: str = Field(description="Its slug.")
    name: str = Field(description="The connection's name there.")
    created_at: datetime = Field(description="When it was granted.")


class GrantEnvelope(BaseModel):
    data: GrantOut = Field(description="The grant.")


class SharedOut(BaseModel):
    id: str = Field(description="Connection id (`conn_...`), the same in every organization.")
    name: str = Field(description="Its own name (the routes also take the id).")
    type: str = Field(description="Database type.")
    grants: list[GrantOut] = Field(description="The organizations it is granted to.")


class SharedList(BaseModel):
    data: list[SharedOut] = Field(description="Every shared connection.")


def _grant(grant: Grant) -> dict[str, Any]:
    return {
        "org_id": grant.org_id,
        "org_slug": grant.org_slug,
        "name": grant.name,
        "created_at": grant.created_at,
    }


def _shared(info: ConnectionInfo, grants: list[Grant]) -> dict[str, Any]:
    mine = [_grant(g) for g in grants if g.connection_id == info.id]
    return {"id": info.id, "name": info.name, "type": info.type, "grants": mine}


@router.get("", response_model=SharedList, summary="List shared connections and their grants")
def list_shared(_by: OperatorKey, services: AppServices) -> dict[str, Any]:
    shared = services.shared_connections
    grants = shared.grants()
    return {"data": [_shared(c, grants) for c in shared.connections()]}


@router.post(
    "/{connection}/grants",
    response_model=GrantEnvelope,
    status_code=201,
    summary="Grant a shared connection to an organization",
)
def grant_connection(
    connection: str, body: GrantIn, by: OperatorKey, services: AppServices
) -> dict[str, Any]:
    """It appears in the organization under `name` at once. Granted already, or a name the
    organization uses: 409."""
    grant = services.shared_connections.grant(connection, body.org, name=body.name, by=by)
    return {"data": _grant(grant)}


@router.delete(
    "/{connection}/grants/{org}",
    status_code=204,
    summary="Revoke a shared connection from an organization",
)
def revoke_connection(
    connection: str, org: str, by: OperatorKey, services: AppServices
) -> Response:
    """The organization's requests for it answer 404 from now on (other server processes:
    within `SQLGATE_CONNECTION_CACHE_SECONDS`)."""
    services.shared_connections.revoke(connection, org, by=by)
    return Response(status_code=204)
