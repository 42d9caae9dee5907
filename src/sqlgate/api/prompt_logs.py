"""Seed 004: `GET /v1/{org}/admin/get_prompt_logs/?prompt_log_prefix=` (a zip stream)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from sqlgate.api.deps import AppServices, requires
from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Scope
from sqlgate.errors import NotFound

router = APIRouter(prefix="/v1/{org}/admin", tags=["admin"])

Admin = Annotated[Principal, Depends(requires(Scope.ADMIN))]


@router.get(
    "/get_prompt_logs/",
    summary="Get prompt logs",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "A zip archive."}},
)
async def get_prompt_logs(
    org: Annotated[str, Path(description="Organization id or slug; must be the key's.")],
    prompt_log_prefix: Annotated[
        str, Query(min_length=1, max_length=200, description="The prefix of the log keys.")
    ],
    principal: Admin,
    services: AppServices,
) -> StreamingResponse:
    """Requires `admin`. Up to 1000 prompt logs whose key starts with the prefix, as a zip:
    `{log_key}-system` (the rendered system prompt, or the embedded engine's rendered context
    and interpretation) and `{log_key}-history` (history prompts separated by `---`). A log of
    a question asked by a member who outranks the caller is a `{log_key}-error` file instead."""
    if not principal.owns_org(org):
        raise NotFound(f"Organization {org!r} not found")
    chunks = await run_in_threadpool(services.prompt_logs.zip_stream, principal, prompt_log_prefix)
    safe = "".join(
        c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in prompt_log_prefix
    )
    safe = safe[:60]  # a header is latin-1: non-ASCII letters become "_" too
    return StreamingResponse(
        chunks,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="prompt_logs_{safe}.zip"'},
    )
