"""`GET /v1/audit`: the organization's audit history, for owners and admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from sqlgate.api.deps import AppServices, requires
from sqlgate.api.models import Cursor
from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Scope
from sqlgate.services.audit_query import AuditFilter, list_events
from sqlgate.store.models import AuditEvent
from sqlgate.store.pages import as_utc

router = APIRouter(prefix="/v1/audit", tags=["audit"])

Admin = Annotated[Principal, Depends(requires(Scope.ADMIN))]
Status = Literal["ok", "error", "rejected"]


class AuditEventOut(BaseModel):
    id: int = Field(description="Event id; later events have larger ids.")
    action: str = Field(
        description="What happened, e.g. `query.execute`, `query.export`, `sql.run`, "
        "`admin.sql_query`, `connection.create`, `connection.update`, `connection.delete`, "
        "`connection.test`, `key.create`, `key.revoke`, `member.invite`, `member.accept`, "
        "`member.update`, `member.attributes`, `member.remove`, `service_account.create`; "
        "the operator's `org.create`, `org.update`, `org.suspend`, `org.resume`, "
        "`connection.grant`, `connection.revoke` (client `cli` or `operator:<key id>`)."
    )
    status: str = Field(
        description="`ok`, `error`, or `rejected` (the SQL guard refused the statement)."
    )
    error_code: str | None = Field(description="The error's code when it failed, else null.")
    member_id: str | None = Field(description="The member who acted, if any.")
    key_id: str | None = Field(description="The API key used, if any (its id, never the key).")
    connection_id: str | None = Field(description="The connection concerned, if any.")
    sql: str | None = Field(description="The statement, for query actions; null otherwise.")
    row_count: int | None = Field(
        description="Rows returned, for queries (for an export that failed part-way, the rows "
        "sent before it stopped)."
    )
    duration_ms: float | None = Field(description="Time taken, in ms, for queries.")
    client: str | None = Field(description="The caller's network address, where known.")
    created_at: datetime = Field(description="When it happened (UTC).")
    target_id: str | None = Field(
        description="What a key or member action acted on (`key_...`, `mem_...`); null for "
        "queries and connection changes."
    )
    detail: dict[str, Any] | None = Field(
        description="What changed, for key and member actions (e.g. `role` and "
        "`previous_role`); for a query whose result was cut at its row limit, "
        '`{"truncated": true, "row_limit": N}`. Never a secret.'
    )


class AuditList(BaseModel):
    data: list[AuditEventOut] = Field(description="Matching events, newest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


def _out(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "action": event.action,
        "status": event.status,
        "error_code": event.error_code,
        "member_id": event.member_id,
        "key_id": event.key_id,
        "connection_id": event.connection_id,
        "sql": event.sql,
        "row_count": event.row_count,
        "duration_ms": event.duration_ms,
        "client": event.client,
        "created_at": as_utc(event.created_at),
        "target_id": event.target_id,
        "detail": event.detail,
    }


@router.get("", response_model=AuditList, summary="List audit events")
def list_audit(
    principal: Admin,
    services: AppServices,
    member_id: Annotated[str | None, Query(description="Only this member's events.")] = None,
    connection_id: Annotated[
        str | None, Query(description="Only events on this connection (its id).")
    ] = None,
    status: Annotated[Status | None, Query(description="Only events with this outcome.")] = None,
    action: Annotated[str | None, Query(description="Only this action.")] = None,
    since: Annotated[
        datetime | None, Query(description="ISO 8601; events at or after it (UTC if no zone).")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="ISO 8601; events before it (UTC if no zone).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Events per page.")] = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Every query run, key created or revoked, member and connection change in the caller's
    organization: who, when, with which key, and the outcome. Connection settings and
    passwords are never recorded."""
    services.audit.flush()  # make what was just done visible; reads are not on the hot path
    where = AuditFilter(member_id, connection_id, status, action, since, until)
    page = list_events(services.store, principal.org_id, where, limit=limit, cursor=cursor)
    return {"data": [_out(e) for e in page.events], "next_cursor": page.next_cursor}
