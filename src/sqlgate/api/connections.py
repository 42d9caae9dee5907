"""Seed 002: `/v1/connections` (file databases now; server databases in a later release)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from sqlgate.api.deps import AppServices, requires
from sqlgate.api.models import ERROR_RESPONSES, RequestModel
from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Scope
from sqlgate.services.connections import ConnectionInfo

router = APIRouter(prefix="/v1/connections", tags=["connections"], responses=ERROR_RESPONSES)

Reader = Annotated[Principal, Depends(requires(Scope.CONNECTIONS_READ))]
Writer = Annotated[Principal, Depends(requires(Scope.CONNECTIONS_WRITE))]


class ConnectionCreate(RequestModel):
    type: Literal["duckdb", "sqlite", "postgresql", "mysql", "sqlalchemy"] = Field(
        description="Database type. This release runs `duckdb` and `sqlite` files."
    )
    name: str = Field(min_length=1, max_length=200, description="Unique name in the org.")
    database: str | None = Field(
        default=None,
        max_length=4096,
        description="For file databases: a path under a configured data root (relative paths "
        "are taken from the first root).",
    )
    host: str | None = Field(default=None, max_length=255, description="Server host.")
    port: int | None = Field(default=None, ge=1, le=65535, description="Server port.")
    username: str | None = Field(default=None, max_length=255, description="User name.")
    password: str | None = Field(
        default=None, max_length=1024, description="Password; write-only, never returned."
    )
    ssl_mode: str | None = Field(default=None, max_length=20, description="TLS mode.")


class ConnectionOut(BaseModel):
    id: str = Field(description="Connection id (`conn_...`); the API also accepts the name.")
    name: str = Field(description="Unique name within the organization.")
    type: str = Field(description="Database type.")
    database: str | None = Field(description="Database name or file path.")
    host: str | None = Field(description="Server host, for server databases.")
    port: int | None = Field(description="Server port, for server databases.")
    username: str | None = Field(description="User name, for server databases.")
    ssl_mode: str | None = Field(description="TLS mode, for server databases.")
    password_set: bool = Field(description="Whether a password is stored (it is never shown).")
    is_default: bool = Field(description="Whether run_sql and sql_query use it by default.")
    created_at: datetime = Field(description="When it was registered.")


class ConnectionEnvelope(BaseModel):
    data: ConnectionOut = Field(description="The connection.")


class ConnectionList(BaseModel):
    data: list[ConnectionOut] = Field(description="The organization's connections.")


def _out(info: ConnectionInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "type": info.type,
        "database": info.database,
        "host": info.host,
        "port": info.port,
        "username": info.username,
        "ssl_mode": info.ssl_mode,
        "password_set": info.password_set,
        "is_default": info.is_default,
        "created_at": info.created_at,
    }


@router.get("", response_model=ConnectionList, summary="List connections")
def list_connections(principal: Reader, services: AppServices) -> dict[str, Any]:
    return {"data": [_out(c) for c in services.connections.list(principal.org_id)]}


@router.post("", response_model=ConnectionEnvelope, status_code=201, summary="Create a connection")
def create_connection(
    body: ConnectionCreate, principal: Writer, services: AppServices
) -> dict[str, Any]:
    info = services.connections.create(
        principal.org_id, name=body.name, type=body.type, database=body.database
    )
    return {"data": _out(info)}


@router.get("/{connection_id}", response_model=ConnectionEnvelope, summary="Get a connection")
def get_connection(connection_id: str, principal: Reader, services: AppServices) -> dict[str, Any]:
    return {"data": _out(services.connections.get(principal.org_id, connection_id))}


@router.delete("/{connection_id}", status_code=204, summary="Delete a connection")
def delete_connection(connection_id: str, principal: Writer, services: AppServices) -> Response:
    services.connections.delete(principal.org_id, connection_id)
    return Response(status_code=204)
