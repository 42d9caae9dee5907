"""A connection's semantic model: read (deployed or draft), deploy a new version, list versions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from sqlgate.api.deps import AppServices, client_address, requires
from sqlgate.api.models import raises
from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Scope
from sqlgate.errors import (
    ConnectionFailed,
    PayloadTooLarge,
    QueryTimeout,
    UnsupportedMediaType,
    ValidationError,
)
from sqlgate.services.semantic_models import Deployed, Format

router = APIRouter(
    prefix="/v1/connections/{connection_id}/semantic_model",
    tags=["semantic models"],
    responses=raises(UnsupportedMediaType, ConnectionFailed, QueryTimeout),
)

Reader = Annotated[Principal, Depends(requires(Scope.CONNECTIONS_READ))]
Writer = Annotated[Principal, Depends(requires(Scope.CONNECTIONS_WRITE))]

_YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})
_BODY_DOC = (
    "The semantic model (see docs/nl.md): a JSON object with `Content-Type: application/json`, "
    "or YAML text with `Content-Type: application/yaml` (or `text/yaml`)."
)


class SemanticModelOut(BaseModel):
    connection_id: str = Field(description="The connection the model belongs to.")
    version: int | None = Field(
        description="The deployed version (1, 2, ...); `null` for the draft derived from the "
        "connection's schema."
    )
    deployed: bool = Field(description="Whether a model is deployed (`false`: the draft).")
    deployed_at: datetime | None = Field(description="When this version was deployed.")
    deployed_by: str | None = Field(
        description="The member who deployed it (`null` for the draft or a CLI deploy)."
    )
    deployed_format: Literal["yaml", "json"] | None = Field(
        description="The format it was deployed in (`null` for the draft)."
    )
    format: Literal["yaml", "json"] = Field(description="The format of `document`.")
    document: dict[str, Any] | str = Field(
        description="The model: a JSON object for `format=json`; YAML text for `format=yaml` "
        "(the deployed text itself, comments kept, when it was deployed as YAML)."
    )


class SemanticModelEnvelope(BaseModel):
    data: SemanticModelOut = Field(description="The connection's semantic model.")


class VersionOut(BaseModel):
    version: int = Field(description="Version number, 1 for the first deploy.")
    deployed_at: datetime = Field(description="When it was deployed.")
    deployed_by: str | None = Field(description="The member who deployed it (`null`: the CLI).")
    format: Literal["yaml", "json"] = Field(description="The format it was deployed in.")


class VersionList(BaseModel):
    data: list[VersionOut] = Field(description="Deployed versions, newest first.")


def _out(deployed: Deployed, fmt: Format) -> dict[str, Any]:
    return {
        "connection_id": deployed.connection_id,
        "version": deployed.version,
        "deployed": deployed.deployed,
        "deployed_at": deployed.deployed_at,
        "deployed_by": deployed.member_id,
        "deployed_format": deployed.format,
        "format": fmt,
        "document": deployed.model.to_dict() if fmt == "json" else deployed.text("yaml"),
    }


@router.get("", response_model=SemanticModelEnvelope, summary="Get the semantic model")
def get_semantic_model(
    connection_id: str,
    principal: Reader,
    services: AppServices,
    format: Annotated[
        Literal["yaml", "json"], Query(description="`json` (an object) or `yaml` (text).")
    ] = "json",
    version: Annotated[
        int | None,
        Query(ge=1, le=2**31 - 1, description="A deployed version (default: the latest)."),
    ] = None,
) -> dict[str, Any]:
    """The latest deployed version, a given `version`, or, with nothing deployed, the draft
    derived from the connection's schema (`version: null`, `deployed: false`). Under an access
    policy, always the draft derived from the tables and columns the policy shows the caller."""
    conn = services.connections.get(principal.org_id, connection_id)
    if services.policies.effective(principal, conn) is not None:
        # Under an access policy: the draft of what the policy shows the caller, as questions
        # use it (a deployed model may name what the policy hides).
        visible = services.policies.visible_schema(principal, conn)
        return {"data": _out(services.semantic.draft_of(conn, visible), format)}
    if version is None:
        deployed = services.semantic.current(principal.org_id, conn)
    else:
        deployed = services.semantic.get(principal.org_id, conn, version)
    return {"data": _out(deployed, format)}


@router.put(
    "",
    response_model=SemanticModelEnvelope,
    summary="Deploy a semantic model",
    responses=raises(PayloadTooLarge, ValidationError),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": _BODY_DOC,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["models"],
                        "properties": {
                            "models": {"type": "array", "minItems": 1, "items": {"type": "object"}}
                        },
                    }
                },
                "application/yaml": {"schema": {"type": "string"}},
                "text/yaml": {"schema": {"type": "string"}},
            },
        }
    },
)
async def put_semantic_model(
    connection_id: str, request: Request, principal: Writer, services: AppServices
) -> dict[str, Any]:
    """Validates the model (fields, names, references, expressions in the connection's
    dialect) and checks every table and column it names against the connection's schema;
    a 422 `validation_error` lists each problem with its `path`
    (`models[0].columns[2].name`) and nothing is stored. Each deploy is a new version."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fmt: Format | None
    if media == "application/json":
        fmt = "json"
    elif media in _YAML_TYPES:
        fmt = "yaml"
    elif media == "text/plain":
        fmt = None  # JSON when it starts with `{`, else YAML
    else:
        raise UnsupportedMediaType(
            f"Send the semantic model as application/json or application/yaml, not {media!r}"
        )
    body = await request.body()
    conn = await run_in_threadpool(services.connections.get, principal.org_id, connection_id)
    deployed = await run_in_threadpool(
        lambda: services.semantic.deploy(principal, conn, body, fmt, client=client_address(request))
    )
    return {"data": _out(deployed, "json")}


@router.get("/versions", response_model=VersionList, summary="List the semantic model's versions")
def list_versions(connection_id: str, principal: Reader, services: AppServices) -> dict[str, Any]:
    conn = services.connections.get(principal.org_id, connection_id)
    return {
        "data": [
            {
                "version": v.version,
                "deployed_at": v.deployed_at,
                "deployed_by": v.member_id,
                "format": v.format,
            }
            for v in services.semantic.versions(principal.org_id, conn)
        ]
    }
