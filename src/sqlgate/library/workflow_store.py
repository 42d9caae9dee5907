"""Workflows and their runs in the metadata store.

A workflow is one row (trigger and steps are one JSON document), so a change is written whole or
not at all. A run is one row whose ``steps`` document is rewritten after every step. Claims are
single conditional statements, safe with several processes on one PostgreSQL store: a scheduled
time is claimed by inserting its run (unique per workflow and time), a queued run by moving it
to ``running`` only if it is still ``queued``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, delete, func, or_, select, update
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
class Claimed:
    """A run a worker took, with its workflow (None: deleted meanwhile) and the workflow's
    owner as they are now (None: no longer a member)."""

    run: RunInfo
    workflow: WorkflowInfo | None
    owner: ActiveMember | None


@dataclass(frozen=True)
class Firing:
    """What the scheduler writes for one due workflow: ``next_run_at`` from ``seen`` to
    ``following``, and runs ``(scheduled_for, status, error)``."""

    workflow: WorkflowInfo
    seen: datetime
    following: datetime | None
    runs: list[tuple[datetime, str, dict[str, Any] | None]]


def _info(row: Workflow | Row[Any]) -> WorkflowInfo:
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


def _run(row: WorkflowRun | Row[Any]) -> RunInfo:
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

    def rewrite_documents(self, rewrite: Callable[[dict[str, Any]], dict[str, Any] | None]) -> int:
        """Pass every workflow's document through ``rewrite`` (None: unchanged), in one
        transaction; how many changed."""
        changed = 0
        with self._store.session() as session:
            for row in session.scalars(select(Workflow).order_by(Workflow.id)):
                new = rewrite(dict(row.document or {}))
                if new is not None:
                    row.document = new
                    changed += 1
        return changed

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

    def pulse(self) -> tuple[datetime | None, bool]:
        """What the scheduler looks at while nothing is due, in one round trip: the soonest
        scheduled time of an enabled workflow, and whether any run is queued."""
        soonest = (
            select(Workflow.next_run_at)
            .where(Workflow.next_run_at.is_not(None), Workflow.enabled.is_(True))
            .order_by(Workflow.next_run_at)
            .limit(1)
            .scalar_subquery()
        )
        queued = select(WorkflowRun.id).where(WorkflowRun.status == "queued").limit(1)
        with self._store.session() as session:
            row = session.execute(select(soonest, queued.exists())).one()
        return row[0], bool(row[1])

    def fire(self, plans: list[Firing]) -> int:
        """In one transaction, for each plan: move the workflow's ``next_run_at`` on (unless
        another process already did: then nothing of the plan is written) and insert its runs,
        skipping a time already claimed. Returns how many ``queued`` runs were inserted.

        Workflows due at the same time move in one conditional ``UPDATE ... RETURNING`` and
        their runs go in one multi-row ``INSERT ... ON CONFLICT DO NOTHING`` (PostgreSQL,
        SQLite); other databases take them one by one."""
        now = datetime.now(UTC)
        with self._store.session() as session:
            dialect = session.get_bind().dialect
            moved = _move_on(session, dialect, plans)
            rows: list[dict[str, Any]] = [
                {
                    "id": new_id("wfr"),
                    "org_id": plan.workflow.org_id,
                    "workflow_id": plan.workflow.id,
                    "trigger": "schedule",
                    "member_id": None,
                    "status": status,
                    "scheduled_for": when,
                    "steps": [],
                    "error": error,
                    "created_at": now,
                    "finished_at": None if status == "queued" else now,
                }
                for plan in plans
                if plan.workflow.id in moved
                for when, status, error in plan.runs
            ]
            return _insert_runs(session, dialect.name, rows)

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

    def claim_next(self, runner: str) -> Claimed | None:
        """Take the oldest queued run for ``runner``, with its workflow and its owner as they
        are now, in one transaction; None when no run is left to take.

        One ``UPDATE ... WHERE id = (oldest queued [FOR UPDATE SKIP LOCKED]) RETURNING`` where
        the database has it (PostgreSQL, SQLite), so several workers and processes never wait
        for one another nor take the same run."""
        if not self._store.engine.dialect.update_returning:
            run = self._claim_queued(runner)
            if run is None:
                return None
            with self._store.engine.begin() as conn:
                return _claimed(self._store, conn, run)
        with self._store.engine.begin() as conn:
            params = {"b_runner": runner, "b_now": datetime.now(UTC)}
            row = conn.execute(_CLAIM_OLDEST, params).one_or_none()
            return None if row is None else _claimed(self._store, conn, _run(row))

    def _claim_queued(self, runner: str) -> RunInfo | None:
        """:meth:`claim_next` on a database without ``UPDATE ... RETURNING``."""
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
        """Write a running run's progress (columns by name); False when it is no longer this
        runner's (it was declared interrupted or canceled meanwhile)."""
        values.setdefault("heartbeat_at", datetime.now(UTC))
        with self._store.engine.begin() as conn:
            done = conn.execute(_SAVE_RUN, {"b_id": run_id, "b_runner": runner, **values})
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

    def prune(self, days: int, *, now: datetime | None = None) -> int:
        """Delete finished runs created more than ``days`` days before ``now``."""
        cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
        with self._store.session() as session:
            done = session.execute(
                delete(WorkflowRun).where(
                    WorkflowRun.created_at < cutoff, WorkflowRun.status.in_(FINISHED)
                )
            )
            return _rowcount(done)


_RUNS: Any = WorkflowRun.__table__
_WORKFLOWS: Any = Workflow.__table__
# Built once: what a worker says for every run (its SET columns come from the parameters).
_CLAIM_OLDEST = (
    update(_RUNS)
    .where(
        _RUNS.c.id
        == select(_RUNS.c.id)
        .where(_RUNS.c.status == "queued")
        .order_by(_RUNS.c.created_at, _RUNS.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery(),
        _RUNS.c.status == "queued",
    )
    .values(
        status="running",
        runner=bindparam("b_runner"),
        started_at=bindparam("b_now"),
        heartbeat_at=bindparam("b_now"),
    )
    .returning(*_RUNS.c)
)
_SAVE_RUN = update(_RUNS).where(
    _RUNS.c.id == bindparam("b_id"),
    _RUNS.c.runner == bindparam("b_runner"),
    _RUNS.c.status == "running",
)
_WORKFLOW = select(_WORKFLOWS).where(_WORKFLOWS.c.id == bindparam("b_id"))


def _claimed(store: Store, conn: Any, run: RunInfo) -> Claimed:
    row = conn.execute(_WORKFLOW, {"b_id": run.workflow_id}).one_or_none()
    if row is None:
        return Claimed(run, None, None)
    owner = active_member(store, row.org_id, row.member_id, session=conn)
    return Claimed(run, _info(row), owner)


def _move_on(session: Any, dialect: Any, plans: list[Firing]) -> set[str]:
    """Move each plan's workflow from ``seen`` to ``following``, if it is still at ``seen``;
    the ids of the workflows moved (by this process, so it inserts their runs)."""
    table: Any = Workflow.__table__
    moved: set[str] = set()
    if not dialect.update_returning:
        for plan in plans:
            done = session.execute(
                update(table)
                .where(table.c.id == plan.workflow.id, table.c.next_run_at == plan.seen)
                .values(next_run_at=plan.following)
            )
            if _rowcount(done):
                moved.add(plan.workflow.id)
        return moved
    groups: dict[tuple[datetime, datetime | None], list[str]] = {}
    for plan in plans:  # one statement for every workflow due at the same time
        groups.setdefault((plan.seen, plan.following), []).append(plan.workflow.id)
    for (seen, following), ids in groups.items():
        done = session.execute(
            update(table)
            .where(table.c.id.in_(ids), table.c.next_run_at == seen)
            .values(next_run_at=following)
            .returning(table.c.id)
        )
        moved.update(done.scalars())
    return moved


def _insert_runs(session: Any, dialect: str, rows: list[dict[str, Any]]) -> int:
    """Insert the runs, skipping a (workflow, scheduled time) already there; how many
    ``queued`` ones were inserted."""
    table: Any = WorkflowRun.__table__
    if not rows:
        return 0
    if dialect not in ("postgresql", "sqlite"):
        return sum(
            1 for row in rows if _insert_once(session, table, row) and row["status"] == "queued"
        )
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(table)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["workflow_id", "scheduled_for"])
        .returning(table.c.status)
    )
    return sum(1 for status in session.execute(statement).scalars() if status == "queued")


def _insert_once(session: Any, table: Any, row: dict[str, Any]) -> bool:
    """Insert ``row`` unless its (workflow, scheduled time) is already there; whether it was."""
    try:
        with session.begin_nested():
            session.execute(table.insert().values(**row))
    except IntegrityError:
        return False
    return True


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
