"""Liveness: `GET /healthz` (no key needed)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import text

from sqlgate import __version__
from sqlgate.api.deps import AppServices

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str = Field(description="`ok` when the metadata store answers.")
    version: str = Field(description="sqlgate version.")


@router.get("/healthz", response_model=Health, summary="Health check")
def healthz(services: AppServices) -> dict[str, str]:
    with services.store.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__}
