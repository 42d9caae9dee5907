"""Seed 002: `/v1/connections`, plus get, PATCH (rename, rotate credentials) and schema."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from sqlgate.api.deps import AppServices, requires
from sqlgate.api.models import RequestModel, raises
from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Scope
from sqlgate.engines.registry import CONNECTION_TYPES
from sqlgate.errors import AuthorizationError, Conflict, ConnectionFailed, QueryTimeout
from sqlgate.services.connections import ConnectionInfo
from sqlgate.vocabulary.schema import DatabaseSchema, SchemaTable

router = APIRouter(
    prefix="/v1/connections",
    tags=["connections"],
    responses=raises(Conflict, ConnectionFailed, QueryTimeout, AuthorizationError),
)

Reader = Annotated[Principal, Depends(requires(Scope.CONNECTIONS_READ))]
Writer = Annotated[Principal, Depends(requires(Scope.CONNECTIONS_WRITE))]

# The engine types the registry lists (``Literal`` of a tuple: the OpenAPI enum, in its order).
ConnectionType = Literal[CONNECTION_TYPES]  # type: ignore[valid-type]
_HOST = Field(default=None, min_length=1, max_length=255, description="Server host.")
_PORT = Field(default=None, ge=1, le=65535, description="Server port (default 5432 / 3306).")
_DATABASE = Field(
    default=None,
    min_length=1,
    max_length=4096,
    description="Server databases: the database name. File databases (`duckdb`, `sqlite`): a "
    "path under a configured data root (relative paths are taken from the first root).",
)
_USERNAME = Field(default=None, min_length=1, max_length=255, description="User name.")
_PASSWORD = Field(
    default=None, max_length=1024, description="Password; write-only, encrypted at rest."
)
_SSL_MODE = Field(
    default=None,
    max_length=20,
    description="PostgreSQL: disable, allow, prefer, require, verify-ca, verify-full. "
    "MySQL: disabled, preferred, required, verify_ca, verify_identity.",
)
_URL = Field(
    default=None,
    min_length=1,
    max_length=4096,
    description="`sqlalchemy` connections only: a SQLAlchemy URL (the operator must allow the "
    "organization). Its password is stored encrypted and never shown.",
)


#: What a file database refuses: it has no server to reach or log in to.
_FILE_ONLY = {
    "if": {"properties": {"type": {"enum": ["duckdb", "sqlite"]}}},
    "then": {
        "required": ["database"],
        "properties": {k: False for k in ("host", "port", "username", "password", "url")},
    },
}


class ConnectionCreate(RequestModel):
    model_config = ConfigDict(json_schema_extra={"allOf": [_FILE_ONLY]})
    type: ConnectionType = Field(description="Database type.")
    name: str = Field(min_length=1, max_length=200, description="Unique name in the org.")
    host: str | None = _HOST
    port: int | None = _PORT
    database: str | None = _DATABASE
    username: str | None = _USERNAME
    password: str | None = _PASSWORD
    ssl_mode: str | None = _SSL_MODE
    url: str | None = _URL


class ConnectionUpdate(RequestModel):
    """Only the fields sent change. `password: null` removes the stored password."""

    name: str | None = Field(default=None, min_length=1, max_length=200, description="New name.")
    host: str | None = _HOST
    port: int | None = _PORT
    database: str | None = _DATABASE
    username: str | None = _USERNAME
    password: str | None = _PASSWORD
    ssl_mode: str | None = _SSL_MODE
    url: str | None = _URL
    is_default: Literal[True] | None = Field(
        default=None, description="`true` makes this the organization's default connection."
    )


class ConnectionOut(BaseModel):
    id: str = Field(description="Connection id (`conn_...`); the API also accepts the name.")
    name: str = Field(description="Unique name within the organization.")
    type: str = Field(description="Database type.")
    database: str | None = Field(
        description="Database name, file path, or (sqlalchemy) URL without its password."
    )
    host: str | None = Field(description="Server host, for server databases.")
    port: int | None = Field(description="Server port, for server databases.")
    username: str | None = Field(description="User name, for server databases.")
    ssl_mode: str | None = Field(description="TLS mode, for server databases.")
    password_set: bool = Field(description="Whether a password is stored (it is never shown).")
    is_default: bool = Field(description="Whether run_sql and sql_query use it by default.")
    created_at: datetime = Field(description="When it was registered.")
    updated_at: datetime = Field(description="When it last changed.")
    shared: bool = Field(
        default=False,
        description="Shared with this organization by the operator of the deployment: it can "
        "be queried, never changed or deleted here, and where it points (database, host, port, "
        "user, TLS mode) is not shown (null).",
    )


class ConnectionEnvelope(BaseModel):
    data: ConnectionOut = Field(description="The connection.")


class ConnectionList(BaseModel):
    data: list[ConnectionOut] = Field(description="The organization's connections.")


class TestResult(BaseModel):
    ok: bool = Field(description="The database answered.")
    server_version: str = Field(description="Engine and version, e.g. `PostgreSQL 15.19`.")
    latency_ms: float = Field(description="One round trip (`SELECT 1`), in milliseconds.")
    can_write: bool = Field(description="Whether these credentials could change data.")
    warning: str | None = Field(description="Advice, e.g. to use a read-only role.")


class TestEnvelope(BaseModel):
    data: TestResult = Field(description="What the test found.")


class ColumnInfo(BaseModel):
    name: str = Field(description="Column name.")
    type: str = Field(description="The database's own type name.")
    nullable: bool = Field(description="Whether the column allows NULL.")
    comment: str | None = Field(description="The column's comment, if any.")


class ForeignKeyInfo(BaseModel):
    name: str | None = Field(description="Constraint name, where the database names it.")
    columns: list[str] = Field(description="Referencing columns, in key order.")
    references_schema: str | None = Field(description="Schema of the referenced table.")
    references_table: str = Field(description="The referenced table.")
    references_columns: list[str] = Field(description="Referenced columns, in key order.")


class TableInfo(BaseModel):
    name: str = Field(description="Table or view name.")
    kind: Literal["table", "view"] = Field(description="`table` or `view`.")
    comment: str | None = Field(description="The table's comment, if any.")
    columns: list[ColumnInfo] = Field(description="Columns in their defined order.")
    primary_key: list[str] = Field(description="Primary key columns, in key order.")
    foreign_keys: list[ForeignKeyInfo] = Field(description="Foreign keys of the table.")


class SchemaInfo(BaseModel):
    name: str | None = Field(description="Schema (PostgreSQL, DuckDB), database (MySQL), main.")
    tables: list[TableInfo] = Field(description="Tables and views, by name.")


class SchemaOut(BaseModel):
    connection_id: str = Field(description="The connection described.")
    read_at: datetime = Field(description="When it was read from the database (cached after).")
    schemas: list[SchemaInfo] = Field(description="Default schema first.")


class SchemaEnvelope(BaseModel):
    data: SchemaOut = Field(description="The connection's schema.")


def _out(info: ConnectionInfo) -> dict[str, Any]:
    hidden = info.shared  # the operator's: where it points is not the organization's to see
    return {
        "id": info.id,
        "name": info.name,
        "type": info.type,
        "database": None if hidden else info.database,
        "host": None if hidden else info.host,
        "port": None if hidden else info.port,
        "username": None if hidden else info.username,
        "ssl_mode": None if hidden else info.ssl_mode,
        "password_set": False if hidden else info.password_set,
        "is_default": info.is_default,
        "created_at": info.created_at,
        "updated_at": info.updated_at,
        "shared": info.shared,
    }


def _table(table: SchemaTable) -> dict[str, Any]:
    return {
        "name": table.name,
        "kind": table.kind,
        "comment": table.comment,
        "columns": [
            {"name": c.name, "type": c.type, "nullable": c.nullable, "comment": c.comment}
            for c in table.columns
        ],
        "primary_key": list(table.primary_key),
        "foreign_keys": [
            {
                "name": fk.name,
                "columns": list(fk.columns),
                "references_schema": fk.references_schema,
                "references_table": fk.references_table,
                "references_columns": list(fk.references_columns),
            }
            for fk in table.foreign_keys
        ],
    }


def _schema_out(connection_id: str, schema: DatabaseSchema) -> dict[str, Any]:
    grouped: dict[str | None, list[dict[str, Any]]] = {}
    for table in schema.tables:
        grouped.setdefault(table.schema, []).append(_table(table))
    return {
        "connection_id": connection_id,
        "read_at": schema.read_at,
        "schemas": [{"name": name, "tables": tables} for name, tables in grouped.items()],
    }


@router.get("", response_model=ConnectionList, summary="List connections")
def list_connections(principal: Reader, services: AppServices) -> dict[str, Any]:
    return {"data": [_out(c) for c in services.connections.list(principal.org_id)]}


@router.post("", response_model=ConnectionEnvelope, status_code=201, summary="Create a connection")
def create_connection(
    body: ConnectionCreate, principal: Writer, services: AppServices
) -> dict[str, Any]:
    """Opens the connection once before saving it: an unreachable server or a refused login
    is a 502 `connection_error` and nothing is stored."""
    info = services.connections.create(principal.org_id, **body.model_dump(), actor=principal)
    return {"data": _out(info)}


@router.get("/{connection_id}", response_model=ConnectionEnvelope, summary="Get a connection")
def get_connection(connection_id: str, principal: Reader, services: AppServices) -> dict[str, Any]:
    return {"data": _out(services.connections.get(principal.org_id, connection_id))}


@router.patch("/{connection_id}", response_model=ConnectionEnvelope, summary="Change a connection")
def update_connection(
    connection_id: str, body: ConnectionUpdate, principal: Writer, services: AppServices
) -> dict[str, Any]:
    """Rename it, point it elsewhere or rotate its credentials. The new settings are tried
    before they are saved; open sessions on the old settings are closed."""
    changes = body.model_dump(include=body.model_fields_set - {"is_default"})
    info = services.connections.update(
        principal.org_id,
        connection_id,
        changes,
        make_default=bool(body.is_default),
        actor=principal,
    )
    return {"data": _out(info)}


@router.post("/{connection_id}/test", response_model=TestEnvelope, summary="Test a connection")
def test_connection(connection_id: str, principal: Reader, services: AppServices) -> dict[str, Any]:
    """Reaches the database now. A failure is a 502 `connection_error` naming the problem."""
    result = services.connections.test(principal.org_id, connection_id, actor=principal)
    warning = None
    if result.can_write:
        # The engine's own sentences say why and what to do; they are the whole warning.
        warning = result.write_detail or (
            "These credentials can change data. sqlgate runs every query read-only, but a "
            "role with only read privileges is the safer choice."
        )
    return {
        "data": {
            "ok": True,
            "server_version": result.version,
            "latency_ms": result.latency_ms,
            "can_write": result.can_write,
            "warning": warning,
        }
    }


@router.get(
    "/{connection_id}/schema", response_model=SchemaEnvelope, summary="Describe a connection"
)
def connection_schema(
    connection_id: str,
    principal: Reader,
    services: AppServices,
    refresh: Annotated[bool, Query(description="Read it again, not the cached copy.")] = False,
) -> dict[str, Any]:
    """Schemas, tables and views, columns (type, nullability, comment), primary and foreign
    keys. Cached per connection; `?refresh=true` reads it again."""
    info = services.connections.get(principal.org_id, connection_id)
    schema = services.connections.schema(principal.org_id, info.id, refresh=refresh)
    return {"data": _schema_out(info.id, schema)}


@router.delete("/{connection_id}", status_code=204, summary="Delete a connection")
def delete_connection(connection_id: str, principal: Writer, services: AppServices) -> Response:
    services.connections.delete(principal.org_id, connection_id, actor=principal)
    return Response(status_code=204)
