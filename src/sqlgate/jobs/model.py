"""Job states and the read-only view of a job the service hands to routers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlgate.results.storage import Manifest
from sqlgate.store.models import QueryJob

#: The action of a workflow's export step: a job with no API key, run as the workflow's owner.
WORKFLOW_EXPORT = "workflow.export"


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


FINISHED = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELED})

#: The error code of a job whose server process died while it ran (docs/async.md).
INTERRUPTED = "job_interrupted"


@dataclass(frozen=True)
class JobView:
    id: str
    org_id: str
    member_id: str
    connection_id: str
    action: str
    state: JobState
    format: str
    row_count: int
    byte_count: int
    truncated: bool
    cancel_requested: bool
    error_code: str | None
    error_message: str | None
    manifest: Manifest | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result_expires_at: datetime | None
    result_deleted_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @classmethod
    def of(cls, row: QueryJob) -> JobView:
        result: dict[str, Any] | None = row.result
        return cls(
            id=row.id,
            org_id=row.org_id,
            member_id=row.member_id,
            connection_id=row.connection_id,
            action=row.action,
            state=JobState(row.state),
            format=row.format,
            row_count=row.row_count,
            byte_count=row.byte_count,
            truncated=row.truncated,
            cancel_requested=row.cancel_requested,
            error_code=row.error_code,
            error_message=row.error_message,
            manifest=Manifest.from_dict(result) if result else None,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            result_expires_at=row.result_expires_at,
            result_deleted_at=row.result_deleted_at,
        )
