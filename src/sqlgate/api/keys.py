"""`/v1/keys`: issue, list and revoke the organization's API keys (admin scope)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from sqlgate.api.deps import AppServices, requires
from sqlgate.api.models import RequestModel, raises
from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Scope
from sqlgate.errors import Conflict, NotFound
from sqlgate.services import keys
from sqlgate.services.keys import KeyInfo

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=raises(Conflict, NotFound))

Admin = Annotated[Principal, Depends(requires(Scope.ADMIN))]

_SCOPES_TEXT = ", ".join(f"`{s.value}`" for s in Scope)


class KeyCreate(RequestModel):
    name: str = Field(min_length=1, max_length=200, description="A label for the key.")
    scopes: list[str] | None = Field(
        default=None,
        min_length=1,
        description=f"Some of {_SCOPES_TEXT}, no wider than the caller's role. "
        "Default: everything the role allows.",
    )
    expires_at: datetime | None = Field(
        default=None,
        strict=False,  # an ISO 8601 string in JSON
        description="When the key stops working (ISO 8601, in the future; UTC if no zone). "
        "Default: never.",
    )
    service_account_id: str | None = Field(
        default=None,
        max_length=40,
        description="Issue the key for this service account (`mem_...`, see "
        "`/v1/team/service_accounts`) instead of the caller; its role may not outrank the "
        "caller's.",
    )


class KeyOut(BaseModel):
    id: str = Field(description="Key id (`key_...`), used to revoke it.")
    name: str = Field(description="The key's label.")
    prefix: str = Field(description="The first characters of the key, to tell keys apart.")
    scopes: list[str] = Field(description="What the key may do (never more than its role).")
    member_id: str = Field(description="The member or service account the key acts as.")
    created_at: datetime = Field(description="When it was issued.")
    expires_at: datetime | None = Field(description="When it stops working; null: never.")
    last_used_at: datetime | None = Field(
        description="When it last authenticated (to the minute); null: never used."
    )
    revoked_at: datetime | None = Field(description="When it was revoked; null: active.")


class IssuedKeyOut(BaseModel):
    id: str = Field(description="Key id (`key_...`), used to revoke it.")
    name: str = Field(description="The key's label.")
    prefix: str = Field(description="The first characters of the key, as lists show it.")
    scopes: list[str] = Field(description="What the key may do.")
    member_id: str = Field(description="The member or service account the key acts as.")
    created_at: datetime = Field(description="When it was issued.")
    expires_at: datetime | None = Field(description="When it stops working; null: never.")
    api_key: str = Field(description="The secret. Shown only in this response: store it now.")


class IssuedKeyEnvelope(BaseModel):
    data: IssuedKeyOut = Field(description="The new key, with its secret.")


class KeyList(BaseModel):
    data: list[KeyOut] = Field(description="The organization's keys, oldest first.")


def _out(info: KeyInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "prefix": info.prefix,
        "scopes": info.scopes,
        "member_id": info.member_id,
        "created_at": info.created_at,
        "expires_at": info.expires_at,
        "last_used_at": info.last_used_at,
        "revoked_at": info.revoked_at,
    }


@router.post("", response_model=IssuedKeyEnvelope, status_code=201, summary="Create an API key")
def create_key(body: KeyCreate, principal: Admin, services: AppServices) -> dict[str, Any]:
    """Requires the `admin` scope. The key belongs to the calling member, or to the service
    account named by `service_account_id`; scopes wider than its owner's role, or unknown, are
    a 422 and nothing is issued."""
    info, secret = keys.issue(
        services.store,
        services.audit,
        principal,
        name=body.name,
        scopes=body.scopes,
        expires_at=body.expires_at,
        service_account_id=body.service_account_id,
    )
    out = _out(info)
    return {"data": {**out, "api_key": secret}}


@router.get("", response_model=KeyList, summary="List API keys")
def list_keys(principal: Admin, services: AppServices) -> dict[str, Any]:
    """Requires the `admin` scope. Every key of the organization, revoked ones included;
    never a secret."""
    return {"data": [_out(k) for k in keys.list_keys(services.store, principal.org_id)]}


@router.delete("/{key_id}", status_code=204, summary="Revoke an API key")
def revoke_key(key_id: str, principal: Admin, services: AppServices) -> Response:
    """Requires the `admin` scope. The key stops working at once in this process (other
    server processes notice within the auth cache window). Revoking twice is a 409, and so
    is revoking the organization's last key that can manage it (an active owner's unexpired
    key with the `admin` scope): issue the next one first."""
    services.authenticator.forget(
        keys.revoke(services.store, services.audit, principal, principal.org_id, key_id)
    )
    return Response(status_code=204)
