"""Workflows and their runs in the metadata store.

A workflow is one row (trigger and steps are one JSON document), so a change is written whole or
not at all. A run is one row whose ``steps`` document is rewritten after every step. Claims are
single conditional statements, safe with several processes on one PostgreSQL store: a scheduled
time is claimed by inserting its run (unique per workflow and time), a queued run by moving it
to ``running`` only if it is still ``queued``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from sqlgate.errors import Conflict, NotFound
from sqlgate.services.orgs import ActiveMember, active_member
from sqlgate.store.db import Store
from sqlgate.store.models import Workflow, WorkflowRun, new_id
from sqlgate.store.pages import newest_first, split_page

PENDING = ("queued", "running")
FINISHED = ("succeeded", "failed", "skipped", "interrupted", "canceled", "missed")


@dataclass(frozen=True)
class WorkflowInfo:
    id: str
    org_id: str
    member_id: str
    name: str
    description: str | None
    enabled: bool
    document: dict[str, Any]
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def trigger(self) -> dict[str, Any]:
        return dict(self.document.get("trigger") or {"type": "manual"})

    @property
    def steps(self) -> list[dict[str, Any]]:
        return list(self.document.get("steps", []))

    def stored(self) -> dict[str, Any]:
        """As :func:`sqlgate.library.workflow_spec.validate` takes ``current``."""
        return {
            "name": self.name,
            "description": self.description,
            "enabled": self.enabled,
            "document": self.document,
        }


@dataclass(frozen=True)
class RunInfo:
    id: str
    org_id: str
    workflow_id: str
    trigger: str
    member_id: str | None
    status: str
    scheduled_for: datetime | None
    steps: list[dict[str, Any]]
    error: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None


@dataclass(frozen=True)
class Firing:
    """What the scheduler writes for one due workflow: ``next_run_at`` from ``seen`` to
    ``following``, and runs ``(scheduled_for, status, error)``."""

    workflow: WorkflowInfo
    seen: datetime
    following: datetime | None
    runs: list[tuple[datetime, str, dict[str, Any] | None]]


def _info(row: Workflow) -> WorkflowInfo:
    return WorkflowInfo(
        id=row.id,
        org_id=row.org_id,
        member_id=row.member_id,
        name=row.name,
        description=row.description,
        enabled=row.enabled,
        document=dict(row.document or {}),
        next_run_at=row.next_run_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _run(row: WorkflowRun) -> RunInfo:
    return RunInfo(
        id=row.id,
        org_id=row.org_id,
        workflow_id=row.workflow_id,
        trigger=row.trigger,
        member_id=row.member_id,
        status=row.status,
        scheduled_for=row.scheduled_for,
        steps=list(row.steps or []),
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


class WorkflowStore:
    def __init__(self, store: Store) -> None:
        self._store = store

    # --- definitions -----------------------------------------------------------------------------

    def create(self, org_id: str, member_id: str, fields: dict[str, Any]) -> WorkflowInfo:
        row = Workflow(id=new_id("wf"), org_id=org_id, member_id=member_id, **fields)
        with self._store.session() as session:
            session.add(row)
            session.flush()
            return _info(row)

    def count(self, org_id: str) -> int:
        query = select(func.count()).select_from(Workflow).where(Workflow.org_id == org_id)
        with self._store.session() as session:
            return int(session.scalar(query) or 0)

    def page(self, org_id: str, *, limit: int, cursor: str | None) -> Page:
        query = newest_first(
            select(Workflow).where(Workflow.org_id == org_id),
            Workflow.created_at,
            Workflow.id,
            cursor=cursor,
            id_type=str,
            limit=limit,
        )
        with self._store.session() as session:
            rows = list(session.scalars(query))
        page, next_cursor = split_page(rows, limit)
        return Page([_info(r) for r in page], next_cursor)

    def get(self, org_id: str, workflow_id: str) -> WorkflowInfo:
        with self._store.session() as session:
            return _info(self._row(session, org_id, workflow_id))

    def find(self, workflow_id: str) -> WorkflowInfo | None:
        with self._store.session() as session:
            row = session.get(Workflow, workflow_id)
            return None if row is None else _info(row)

    def replace(self, org_id: str, workflow_id: str, fields: dict[str, Any]) -> WorkflowInfo:
        with self._store.session() as session:
            row = self._row(session, org_id, workflow_id)
            for name, value in fields.items():
                setattr(row, name, value)
            session.flush()
            return _info(row)

    def delete(self, org_id: str, workflow_id: str) -> None:
        with self._store.session() as session:
            session.execute(delete(WorkflowRun).where(WorkflowRun.workflow_id == workflow_id))
            session.delete(self._row(session, org_id, workflow_id))

    @staticmethod
    def _row(session: Any, org_id: str, workflow_id: str) -> Workflow:
        row = session.get(Workflow, workflow_id)
        if row is None or row.org_id != org_id:
            raise NotFound(f"Workflow {workflow_id!r} not found")
        return row  # type: ignore[no-any-return]

    def owner(self, org_id: str, member_id: str) -> ActiveMember | None:
        """The owner's organization slug and current role; None once they have left."""
        return active_member(self._store, org_id, member_id)

    # --- the scheduler ---------------------------------------------------------------------------

    def due(self, now: datetime, limit: int = 2000) -> list[WorkflowInfo]:
        query = (
            select(Workflow)
            .where(Workflow.enabled.is_(True), Workflow.next_run_at <= now)
            .order_by(Workflow.next_run_at, Workflow.id)  # one lock order for every process
            .limit(limit)
        )
        with self._store.session() as session:
            return [_info(r) for r in session.scalars(query)]

    def fire(self, plans: list[Firing]) -> int:
        """In one transaction, for each plan: move the workflow's ``next_run_at`` on (unless
        another process already did: then nothing of the plan is written) and insert its runs,
        skipping a time already claimed. Returns how many ``queued`` runs were inserted."""
        queued = 0
        now = datetime.now(UTC)
        workflows: Any = Workflow.__table__
        runs: Any = WorkflowRun.__table__
        with self._store.session() as session:
            dialect = session.get_bind().dialect.name
            for plan in plans:
                moved = session.execute(
                    update(workflows)
                    .where(workflows.c.id == plan.workflow.id, workflows.c.next_run_at == plan.seen)
                    .values(next_run_at=plan.following)
                )
                if not _rowcount(moved):
                    continue  # another process fired it
                for when, status, error in plan.runs:
                    row = {
                        "id": new_id("wfr"),
                        "org_id": plan.workflow.org_id,
                        "workflow_id": plan.workflow.id,
                        "trigger": "schedule",
                        "status": status,
                        "scheduled_for": when,
                        "steps": [],
                        "error": error,
                        "created_at": datetime.now(UTC),
                        "finished_at": None if status == "queued" else now,
                    }
                    if _insert_once(session, dialect, runs, row) and status == "queued":
                        queued += 1
        return queued

    # --- runs ------------------------------------------------------------------------------------

    def add_run(self, info: WorkflowInfo, trigger: str, member_id: str | None) -> RunInfo:
        row = WorkflowRun(
            id=new_id("wfr"),
            org_id=info.org_id,
            workflow_id=info.id,
            trigger=trigger,
            member_id=member_id,
            status="queued",
            steps=[],
        )
        with self._store.session() as session:
            session.add(row)
            session.flush()
            return _run(row)

    def pending(self, org_id: str) -> int:
        query = (
            select(func.count())
            .select_from(WorkflowRun)
            .where(WorkflowRun.org_id == org_id, WorkflowRun.status.in_(PENDING))
        )
        with self._store.session() as session:
            return int(session.scalar(query) or 0)

    def runs(self, org_id: str, workflow_id: str, *, limit: int, cursor: str | None) -> Page:
        query = newest_first(
            select(WorkflowRun).where(
                WorkflowRun.org_id == org_id, WorkflowRun.workflow_id == workflow_id
            ),
            WorkflowRun.created_at,
            WorkflowRun.id,
            cursor=cursor,
            id_type=str,
            limit=limit,
        )
        with self._store.session() as session:
            self._row(session, org_id, workflow_id)
            rows = list(session.scalars(query))
        page, next_cursor = split_page(rows, limit)
        return Page([_run(r) for r in page], next_cursor)

    def run(self, org_id: str, workflow_id: str, run_id: str) -> RunInfo:
        with self._store.session() as session:
            row = session.get(WorkflowRun, run_id)
            if row is None or row.org_id != org_id or row.workflow_id != workflow_id:
                raise NotFound(f"Run {run_id!r} not found")
            return _run(row)

    def cancel(self, org_id: str, workflow_id: str, run_id: str, error: dict[str, Any]) -> RunInfo:
        """Cancel a queued or running run (a running one stops before its next step); a
        finished run is a 409."""
        self.run(org_id, workflow_id, run_id)
        with self._store.session() as session:
            done = session.execute(
                update(WorkflowRun)
                .where(WorkflowRun.id == run_id, WorkflowRun.status.in_(PENDING))
                .values(status="canceled", error=error, finished_at=datetime.now(UTC))
            )
        run = self.run(org_id, workflow_id, run_id)
        if not _rowcount(done):
            raise Conflict(
                f"Run {run_id!r} has already finished ({run.status})", status_now=run.status
            )
        return run

    def claim_queued(self, runner: str) -> RunInfo | None:
        """Take the oldest queued run for ``runner``, if any is left to take."""
        candidates = (
            select(WorkflowRun.id)
            .where(WorkflowRun.status == "queued")
            .order_by(WorkflowRun.created_at)
            .limit(10)
        )
        with self._store.session() as session:
            ids = list(session.scalars(candidates))
        for run_id in ids:
            if (run := self.claim(run_id, runner)) is not None:
                return run
        return None

    def claim(self, run_id: str, runner: str) -> RunInfo | None:
        """Take one queued run for ``runner``; None when another runner took it first."""
        now = datetime.now(UTC)
        with self._store.session() as session:
            taken = session.execute(
                update(WorkflowRun)
                .where(WorkflowRun.id == run_id, WorkflowRun.status == "queued")
                .values(status="running", runner=runner, started_at=now, heartbeat_at=now)
            )
            if not _rowcount(taken):
                return None
            row = session.get(WorkflowRun, run_id)
            return None if row is None else _run(row)

    def save_run(self, run_id: str, runner: str, **values: Any) -> bool:
        """Write a running run's progress; False when it is no longer this runner's (it was
        declared interrupted or canceled meanwhile)."""
        values.setdefault("heartbeat_at", datetime.now(UTC))
        with self._store.session() as session:
            done = session.execute(
                update(WorkflowRun)
                .where(
                    WorkflowRun.id == run_id,
                    WorkflowRun.runner == runner,
                    WorkflowRun.status == "running",
                )
                .values(**values)
            )
            return _rowcount(done) > 0

    def heartbeat(self, runner: str, run_ids: list[str]) -> None:
        if not run_ids:
            return
        with self._store.session() as session:
            session.execute(
                update(WorkflowRun)
                .where(WorkflowRun.id.in_(run_ids), WorkflowRun.runner == runner)
                .values(heartbeat_at=datetime.now(UTC))
            )

    def running(self) -> list[tuple[str, str]]:
        """``(run id, runner)`` of every running run."""
        query = select(WorkflowRun.id, WorkflowRun.runner).where(WorkflowRun.status == "running")
        with self._store.session() as session:
            return [(r.id, r.runner or "") for r in session.execute(query)]

    def interrupt_stale(self, cutoff: datetime, dead: Sequence[str] = ()) -> int:
        """Runs left ``running`` by a process that stopped reporting before ``cutoff``, or by
        one of the ``dead`` runs' processes (known gone)."""
        error = {
            "code": "interrupted",
            "message": "The server process running this workflow stopped before it finished",
        }
        stale = WorkflowRun.heartbeat_at < cutoff
        with self._store.session() as session:
            done = session.execute(
                update(WorkflowRun)
                .where(
                    WorkflowRun.status == "running",
                    or_(stale, WorkflowRun.id.in_(list(dead))) if dead else stale,
                )
                .values(status="interrupted", error=error, finished_at=datetime.now(UTC))
            )
            return _rowcount(done)

    def prune(self, days: int) -> int:
        cutoff = datetime.now(UTC) - timedelta(days=days)
        with self._store.session() as session:
            done = session.execute(
                delete(WorkflowRun).where(
                    WorkflowRun.created_at < cutoff, WorkflowRun.status.in_(FINISHED)
                )
            )
            return _rowcount(done)


def _insert_once(session: Any, dialect: str, table: Any, row: dict[str, Any]) -> bool:
    """Insert ``row`` unless its (workflow, scheduled time) is already there; whether it was."""
    if dialect in ("postgresql", "sqlite"):
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = (
            insert(table)
            .values(**row)
            .on_conflict_do_nothing(index_elements=["workflow_id", "scheduled_for"])
        )
        return _rowcount(session.execute(statement)) > 0
    try:
        with session.begin_nested():
            session.execute(table.insert().values(**row))
    except IntegrityError:
        return False
    return True


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
