"""`/v1/platform/organizations`: the operator manages the organizations of this deployment.

Authorized by an operator key (`sqlgate operator-key create`), never by an organization's key
(403 here); an operator key opens nothing inside an organization.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Response, Security
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from sqlgate.api.deps import AppServices, api_key_header, bearer_header
from sqlgate.api.models import ATTRIBUTES_TEXT, AttributeIn, RequestModel, raises
from sqlgate.auth.operator import OperatorPrincipal, authenticate_operator
from sqlgate.errors import AuthenticationError, Conflict, ValidationError
from sqlgate.services.organizations import Operator, OrgInfo

router = APIRouter(
    prefix="/v1/platform/organizations", tags=["platform"], responses=raises(Conflict)
)

#: What the OpenAPI document lists as these routes' requirement (``x-required-scopes``).
OPERATOR_SCOPE = "operator"


async def operator_key(
    services: AppServices,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_header)],
    api_key: Annotated[str | None, Security(api_key_header)],
) -> Operator:
    key = (bearer.credentials if bearer else None) or api_key
    if not key:
        raise AuthenticationError(
            "Missing operator key: send `Authorization: Bearer <key>` or `X-API-Key: <key>`"
        )
    found: OperatorPrincipal = await run_in_threadpool(authenticate_operator, services.store, key)
    return Operator(key_id=found.key_id)


operator_key.required_scopes = (OPERATOR_SCOPE,)  # type: ignore[attr-defined]
OperatorKey = Annotated[Operator, Depends(operator_key)]

_NAME = Field(min_length=1, max_length=200, description="The organization's display name.")
_ATTRIBUTES = Field(default=None, max_length=100, description=ATTRIBUTES_TEXT)


class OrgCreate(RequestModel):
    name: str = _NAME
    slug: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        description="URL name (`/v1/{org}/admin/...`); default: made from the name.",
    )
    owner_email: str | None = Field(
        default=None,
        max_length=320,
        description="The first owner's address (default `owner@<slug>.localhost`).",
    )
    attributes: dict[str, AttributeIn] | None = _ATTRIBUTES


class OrgUpdate(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=200, description="New name.")
    attributes: dict[str, AttributeIn | None] | None = _ATTRIBUTES


class OrgOut(BaseModel):
    id: str = Field(description="Organization id (`org_...`); the routes also take the slug.")
    name: str = Field(description="Display name.")
    slug: str = Field(description="URL name, unique on this deployment.")
    status: Literal["active", "suspended"] = Field(
        description="`suspended`: its keys answer 403, its links and workflows stop."
    )
    attributes: dict[str, AttributeIn] = Field(description="Typed values policies reference.")
    members: int = Field(description="How many members (people and service accounts).")
    created_at: datetime = Field(description="When it was created.")


class OrgEnvelope(BaseModel):
    data: OrgOut = Field(description="The organization.")


class OrgList(BaseModel):
    data: list[OrgOut] = Field(description="Every organization, oldest first.")


class OwnerKey(BaseModel):
    id: str = Field(description="Key id (`key_...`).")
    member_id: str = Field(description="The owner (`mem_...`).")
    prefix: str = Field(description="The first characters of the key, as lists show it.")
    api_key: str = Field(description="The secret. Shown only in this response: store it now.")


class OrgCreated(BaseModel):
    data: OrgOut = Field(description="The new organization.")
    owner_key: OwnerKey = Field(description="Its owner's first API key.")


def _out(info: OrgInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "slug": info.slug,
        "status": info.status,
        "attributes": info.attributes,
        "members": info.members,
        "created_at": info.created_at,
    }


@router.get("", response_model=OrgList, summary="List organizations")
def list_organizations(_by: OperatorKey, services: AppServices) -> dict[str, Any]:
    return {"data": [_out(o) for o in services.organizations.list()]}


@router.post("", response_model=OrgCreated, status_code=201, summary="Create an organization")
def create_organization(body: OrgCreate, by: OperatorKey, services: AppServices) -> dict[str, Any]:
    """With its owner and the owner's API key (shown only here). A taken slug is a 409."""
    info, key = services.organizations.create(
        body.name,
        slug=body.slug,
        owner_email=body.owner_email,
        attrs=body.attributes,
        by=by,
    )
    return {
        "data": _out(info),
        "owner_key": {
            "id": key.key_id,
            "member_id": key.member_id,
            "prefix": key.prefix,
            "api_key": key.api_key,
        },
    }


@router.get("/{org}", response_model=OrgEnvelope, summary="Get an organization")
def get_organization(org: str, _by: OperatorKey, services: AppServices) -> dict[str, Any]:
    return {"data": _out(services.organizations.get(org))}


@router.patch("/{org}", response_model=OrgEnvelope, summary="Change an organization")
def update_organization(
    org: str, body: OrgUpdate, by: OperatorKey, services: AppServices
) -> dict[str, Any]:
    """Rename it, or change its attributes (merged into the current ones; `null` removes
    one). Policies see the new values on the next query."""
    if body.name is None and body.attributes is None:
        raise ValidationError("Send `name`, `attributes` or both", field="attributes")
    info = services.organizations.update(org, name=body.name, attrs=body.attributes, by=by)
    return {"data": _out(info)}


@router.post("/{org}/suspend", response_model=OrgEnvelope, summary="Suspend an organization")
def suspend_organization(org: str, by: OperatorKey, services: AppServices) -> dict[str, Any]:
    """Its keys answer 403 from now on (other server processes: within
    `SQLGATE_AUTH_CACHE_SECONDS`); its shared links and workflows stop. Nothing is deleted.
    Already suspended: 409."""
    return {"data": _out(services.organizations.suspend(org, by=by))}


@router.post("/{org}/resume", response_model=OrgEnvelope, summary="Resume an organization")
def resume_organization(org: str, by: OperatorKey, services: AppServices) -> dict[str, Any]:
    """Its keys work again. Not suspended: 409."""
    return {"data": _out(services.organizations.resume(org, by=by))}


@router.delete("/{org}", status_code=204, summary="Delete an organization")
def delete_organization(org: str, by: OperatorKey, services: AppServices) -> Response:
    """Removes it and everything saved under it (members, keys, connections, models,
    dashboards, workflows, jobs and their files, history). There is no undo."""
    services.organizations.delete(org, by=by)
    return Response(status_code=204)
