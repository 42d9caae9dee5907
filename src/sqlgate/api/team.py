"""`/v1/team` (seed 002): members, invitations and service accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from sqlgate.api.deps import AppServices, requires
from sqlgate.api.models import ATTRIBUTES_TEXT, AttributeIn, RequestModel, raises
from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Role, Scope
from sqlgate.errors import AuthenticationError, Conflict, NotFound, ValidationError
from sqlgate.services.team import MemberInfo

router = APIRouter(prefix="/v1/team", tags=["team"], responses=raises(Conflict))

Reader = Annotated[Principal, Depends(requires(Scope.TEAM_READ, Scope.ADMIN))]
Admin = Annotated[Principal, Depends(requires(Scope.ADMIN))]
RoleName = Literal["owner", "admin", "editor", "viewer"]
_ROLE_TEXT = "`owner`, `admin`, `editor` or `viewer`; never above the caller's own role."


class MemberInvite(RequestModel):
    email: str = Field(
        min_length=3,
        max_length=320,
        pattern=r"^[^@\s\"<>(),;:\\\[\]]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$",
        description="The person's email address.",
    )
    role: RoleName = Field(description=_ROLE_TEXT)


class MemberUpdate(RequestModel):
    """Send `role`, `attributes` or both."""

    role: RoleName | None = Field(default=None, description=_ROLE_TEXT)
    attributes: dict[str, AttributeIn | None] | None = Field(
        default=None,
        description=ATTRIBUTES_TEXT,
        max_length=100,
    )


class ServiceAccountCreate(RequestModel):
    name: str = Field(
        min_length=1,
        max_length=63,
        pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$",
        description="Lower-case letters, digits, `.`, `_` or `-` (e.g. `metabase`).",
    )
    role: RoleName = Field(description=_ROLE_TEXT)


class InvitationAccept(RequestModel):
    token: str = Field(
        min_length=1, max_length=200, description="The invitation token (`sqgi_...`)."
    )
    key_name: str = Field(
        default="first key", min_length=1, max_length=200, description="A label for the key."
    )


class MemberOut(BaseModel):
    id: str = Field(description="Member id (`mem_...`).")
    kind: Literal["person", "service"] = Field(
        description="`person`, or `service` for a service account (it belongs to the org)."
    )
    email: str | None = Field(description="The person's address; null for service accounts.")
    name: str | None = Field(description="A service account's name; null for people.")
    role: str = Field(description="`owner`, `admin`, `editor` or `viewer`.")
    status: Literal["active", "invited"] = Field(
        description="`invited` until the invitation is accepted, then `active`."
    )
    created_at: datetime = Field(description="When the member was added or invited.")
    invited_by: str | None = Field(description="The member who added them, if any.")
    invite_expires_at: datetime | None = Field(
        description="When a pending invitation stops working; null once accepted."
    )
    attributes: dict[str, AttributeIn] = Field(
        description="Typed values access policies may reference, set by the organization's "
        "admins (`PATCH` with `attributes`)."
    )


class MemberEnvelope(BaseModel):
    data: MemberOut = Field(description="The member.")


class MemberList(BaseModel):
    data: list[MemberOut] = Field(description="Members and service accounts, oldest first.")


class InvitationOut(BaseModel):
    data: MemberOut = Field(description="The invited member (`status: invited`).")
    invite_token: str = Field(
        description="One-time token for `POST /v1/team/invitations/accept`. Shown only here: "
        "hand it to the person; it yields their first API key."
    )


class AcceptedKey(BaseModel):
    id: str = Field(description="Key id (`key_...`).")
    prefix: str = Field(description="The first characters of the key, as lists show it.")
    scopes: list[str] = Field(description="Everything the member's role allows.")
    api_key: str = Field(description="The secret. Shown only in this response: store it now.")


class AcceptedOut(BaseModel):
    data: MemberOut = Field(description="The now active member.")
    key: AcceptedKey = Field(description="The member's first API key.")


def _out(info: MemberInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "kind": info.kind,
        "email": info.email,
        "name": info.name,
        "role": info.role,
        "status": info.status,
        "created_at": info.created_at,
        "invited_by": info.invited_by,
        "invite_expires_at": info.invite_expires_at,
        "attributes": info.attributes,
    }


@router.get("/members", response_model=MemberList, summary="List team members")
def list_members(
    principal: Reader,
    services: AppServices,
    kind: Annotated[
        Literal["person", "service"] | None, Query(description="Only people or services.")
    ] = None,
) -> dict[str, Any]:
    """Requires `team:read` (every role has it) or `admin`. Pending invitations are listed
    with `status: invited`; tokens never are."""
    return {"data": [_out(m) for m in services.team.members(principal.org_id, kind=kind)]}


@router.post("/members", response_model=InvitationOut, status_code=201, summary="Invite a member")
def invite_member(body: MemberInvite, principal: Admin, services: AppServices) -> dict[str, Any]:
    """Requires `admin`. The member stays `invited` until the token is accepted. Inviting an
    existing member or a pending address is a 409; a malformed address a 422."""
    invitation = services.team.invite(principal, principal.org_id, body.email, Role(body.role))
    return {"data": _out(invitation.member), "invite_token": invitation.token}


@router.get("/members/{member_id}", response_model=MemberEnvelope, summary="Get a member")
def get_member(member_id: str, principal: Reader, services: AppServices) -> dict[str, Any]:
    """Requires `team:read` or `admin`."""
    return {"data": _out(services.team.get(principal.org_id, member_id))}


@router.patch(
    "/members/{member_id}",
    response_model=MemberEnvelope,
    summary="Update a member's role or attributes",
)
def update_member(
    member_id: str, body: MemberUpdate, principal: Admin, services: AppServices
) -> dict[str, Any]:
    """Requires `admin`. Nobody grants a role above their own or changes someone who outranks
    them (403); demoting the last owner is a 409. The member's keys lose the scopes the new
    role lacks at once. `attributes` are merged into the member's (`null` removes one); they
    are what access policies read about the member, and only admins set them."""
    if body.role is None and body.attributes is None:
        raise ValidationError("Send `role`, `attributes` or both", field="role")
    info = services.team.update(
        principal,
        principal.org_id,
        member_id,
        role=Role(body.role) if body.role is not None else None,
        attrs=body.attributes,
    )
    services.authenticator.forget()
    return {"data": _out(info)}


@router.delete("/members/{member_id}", status_code=204, summary="Remove a member")
def remove_member(member_id: str, principal: Admin, services: AppServices) -> Response:
    """Requires `admin`. Removes a member, a pending invitation or a service account, and
    revokes every key they hold at once. Removing the last owner is a 409."""
    for key_hash in services.team.remove(principal, principal.org_id, member_id):
        services.authenticator.forget(key_hash)
    return Response(status_code=204)


@router.post(
    "/invitations/accept",
    response_model=AcceptedOut,
    status_code=201,
    summary="Accept an invitation",
    responses=raises(AuthenticationError, NotFound),
)
def accept_invitation(body: InvitationAccept, services: AppServices) -> dict[str, Any]:
    """No API key: the one-time invitation token is the credential. Activates the member and
    returns their first API key (everything their role allows). A used, expired or unknown
    token is a 401."""
    accepted = services.team.accept(body.token, key_name=body.key_name)
    key = accepted.key
    return {
        "data": _out(accepted.member),
        "key": {
            "id": key.key_id,
            "prefix": key.prefix,
            "scopes": key.scopes,
            "api_key": key.api_key,
        },
    }


@router.get("/service_accounts", response_model=MemberList, summary="List service accounts")
def list_service_accounts(principal: Reader, services: AppServices) -> dict[str, Any]:
    """Requires `team:read` or `admin`. The same records as `GET /v1/team/members?kind=service`."""
    return {"data": [_out(m) for m in services.team.members(principal.org_id, kind="service")]}


@router.post(
    "/service_accounts",
    response_model=MemberEnvelope,
    status_code=201,
    summary="Create a service account",
)
def create_service_account(
    body: ServiceAccountCreate, principal: Admin, services: AppServices
) -> dict[str, Any]:
    """Requires `admin`. An account owned by the organization rather than a person, for BI
    tools and jobs: issue its keys with `POST /v1/keys` and `service_account_id`; change its
    role or remove it (revoking its keys) through `/v1/team/members/{id}`."""
    info = services.team.create_service_account(
        principal, principal.org_id, body.name, Role(body.role)
    )
    return {"data": _out(info)}
