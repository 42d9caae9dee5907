"""Tables of the metadata store. A change here needs an Alembic revision (migrations/)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """Opaque, unguessable ids with a readable type prefix (``conn_...``, ``org_...``)."""
    return f"{prefix}_{secrets.token_hex(8)}"


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps read back aware, in UTC, from every store (SQLite drops the zone; every
    value is written in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON}


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    default_connection_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: "active", or "suspended" by the operator: its keys, shared links and workflows stop.
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    #: Typed values (string, int, float, bool) set by the operator, e.g. ``{"tenant_id": 42}``;
    #: access policies reference them. Never taken from a request.
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=dict)


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("org_id", "email"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: "person", or "service" for an account that belongs to the org (BI tools, jobs); a
    #: service account's ``email`` is a reserved ``.invalid`` address made from its name.
    kind: Mapped[str] = mapped_column(String(20), default="person", server_default="person")
    #: "active", or "invited" until the invitation token is accepted.
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    name: Mapped[str | None] = mapped_column(String(200))
    invite_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    invite_expires_at: Mapped[datetime | None] = mapped_column()
    invited_by: Mapped[str | None] = mapped_column(String(40))
    #: Typed values (string, int, float, bool) set by the org's admins through the team API.
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=dict)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(40))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(Text)  # space-separated, like OAuth
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()


class Connection(Base):
    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))
    database: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(255))
    port: Mapped[int | None] = mapped_column()
    username: Mapped[str | None] = mapped_column(String(255))
    password_encrypted: Mapped[str | None] = mapped_column(Text)
    ssl_mode: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    #: Owned by the operator (kept under the platform organization, ``PLATFORM_ORG_ID``) and
    #: shown to the organizations it is granted to (:class:`ConnectionGrant`), never changed
    #: by them.
    shared: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


#: The organization row that holds the operator's shared connections. It has no members and no
#: keys, and no listing of organizations shows it. Ids of real organizations are ``org_`` and
#: hex digits, so this one is never generated.
PLATFORM_ORG_ID = "org_platform"


class ConnectionGrant(Base):
    """A shared connection made visible in one organization, under ``name`` there."""

    __tablename__ = "connection_grants"
    __table_args__ = (
        UniqueConstraint("org_id", "name", name="uq_connection_grants_name"),
        UniqueConstraint("connection_id", "org_id", name="uq_connection_grants_org"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OperatorKey(Base):
    """A key for the operator's API (``/v1/platform``): separate from every organization's
    keys, stored as a hash, shown once."""

    __tablename__ = "operator_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(40))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_org_time", "org_id", "created_at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    )
    org_id: Mapped[str] = mapped_column(String(40))
    member_id: Mapped[str | None] = mapped_column(String(40))
    key_id: Mapped[str | None] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(50))
    connection_id: Mapped[str | None] = mapped_column(String(40))
    sql: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(50))
    row_count: Mapped[int | None] = mapped_column()
    duration_ms: Mapped[float | None] = mapped_column()
    client: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: What a non-query event acted on (a key, a member), and what changed (never secrets).
    target_id: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[dict[str, Any] | None] = mapped_column()


class QueryJob(Base):
    """An async query (issue 4): queued, running, then succeeded, failed or canceled.

    Workers claim a queued job with a conditional UPDATE (``state = 'queued'`` in the WHERE),
    so of several server processes sharing the store exactly one runs it.
    """

    __tablename__ = "query_jobs"
    __table_args__ = (
        Index("ix_query_jobs_state", "state", "created_at"),
        Index("ix_query_jobs_org_time", "org_id", "created_at"),
        UniqueConstraint("member_id", "idempotency_key", name="uq_query_jobs_idempotency"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    member_id: Mapped[str] = mapped_column(String(40))
    key_id: Mapped[str] = mapped_column(String(40))
    connection_id: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(50))
    sql: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any] | None] = mapped_column()
    format: Mapped[str] = mapped_column(String(20))
    row_limit: Mapped[int] = mapped_column(BigInteger)
    timeout: Mapped[float] = mapped_column()
    state: Mapped[str] = mapped_column(String(20))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    row_count: Mapped[int] = mapped_column(BigInteger, default=0)
    byte_count: Mapped[int] = mapped_column(BigInteger, default=0)
    truncated: Mapped[bool] = mapped_column(default=False)
    error_code: Mapped[str | None] = mapped_column(String(50))
    error_message: Mapped[str | None] = mapped_column(Text)
    #: The result manifest once succeeded: columns and chunk files (name, rows, bytes).
    result: Mapped[dict[str, Any] | None] = mapped_column()
    #: Which server process runs it (``host:pid:token``), and when that process last said so.
    runner: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    client: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    result_expires_at: Mapped[datetime | None] = mapped_column()
    result_deleted_at: Mapped[datetime | None] = mapped_column()


class SavedQuery(Base):
    """Every question asked through ``POST /v1/queries`` (seed 002), with the SQL it became."""

    __tablename__ = "saved_queries"
    __table_args__ = (Index("ix_saved_queries_org_time", "org_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    member_id: Mapped[str] = mapped_column(String(40))
    connection_id: Mapped[str] = mapped_column(String(40))
    question: Mapped[str] = mapped_column(Text)
    sql: Mapped[str | None] = mapped_column(Text)
    #: "ok", "error" (the SQL failed) or "non_sql" (the question did not map to data).
    status: Mapped[str] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(50))
    explanation: Mapped[str | None] = mapped_column(Text)
    columns: Mapped[dict[str, Any] | None] = mapped_column()
    row_count: Mapped[int | None] = mapped_column()
    execution_time_ms: Mapped[float | None] = mapped_column()
    thread_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NlThread(Base):
    """A conversation: the turns that let "and only for 2023?" follow a question."""

    __tablename__ = "nl_threads"
    __table_args__ = (Index("ux_nl_threads_key", "org_id", "thread_key", unique=True),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: The threadId clients send and see; unique within the organization only.
    thread_key: Mapped[str | None] = mapped_column(String(40))
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    member_id: Mapped[str] = mapped_column(String(40))
    connection_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NlTurn(Base):
    __tablename__ = "nl_turns"
    __table_args__ = (Index("ix_nl_turns_thread", "thread_id", "id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    thread_id: Mapped[str] = mapped_column(ForeignKey("nl_threads.id", ondelete="CASCADE"))
    question: Mapped[str] = mapped_column(Text)
    #: The question as understood on its own (a follow-up rewritten with the history).
    standalone: Mapped[str | None] = mapped_column(Text)
    sql: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PromptLog(Base):
    """A rendered prompt (system text and history) of one generation step, for
    ``get_prompt_logs`` (seed 004). The embedded engine records its context the same way."""

    __tablename__ = "prompt_logs"
    __table_args__ = (UniqueConstraint("org_id", "log_key"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    log_key: Mapped[str] = mapped_column(String(200))
    member_id: Mapped[str | None] = mapped_column(String(40))
    #: The role of the member whose question it was; readers need at least this role.
    member_role: Mapped[str] = mapped_column(String(20))
    system: Mapped[str] = mapped_column(Text)
    history: Mapped[dict[str, Any] | None] = mapped_column()  # {"prompts": [...]}
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Explanation(Base):
    """The answer to a question that is not about the data (``NON_SQL_QUERY``), streamed by
    ``explanationQueryId``."""

    __tablename__ = "explanations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    member_id: Mapped[str] = mapped_column(String(40))
    connection_id: Mapped[str] = mapped_column(String(40))
    question: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SemanticModelVersion(Base):
    """One deployed version of a connection's semantic model (1, 2, ... per connection)."""

    __tablename__ = "semantic_models"
    __table_args__ = (
        UniqueConstraint("connection_id", "version", name="uq_semantic_models_version"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(10))  # "yaml" or "json", as deployed
    #: Exactly the text that was deployed (comments and all).
    source: Mapped[str] = mapped_column(Text)
    #: The validated model as plain data (``SemanticModel.to_dict()``).
    document: Mapped[dict[str, Any]] = mapped_column()
    #: Sampled column values for the embedded engine, filled on first use:
    #: ``{"connection_updated_at": ..., "columns": ValueIndex.to_dict()}``.
    sampled_values: Mapped[dict[str, Any] | None] = mapped_column("values")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    member_id: Mapped[str | None] = mapped_column(String(40))


class Dashboard(Base):
    """A saved dashboard (seed 002 ``/v1/dashboards``): its name and its layout document
    (widgets, filters, refresh interval), written whole so no change is ever half-applied."""

    __tablename__ = "dashboards"
    __table_args__ = (Index("ix_dashboards_org_time", "org_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    member_id: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    #: ``{"widgets": [...], "filters": [...], "refresh_interval": N}``, as validated.
    document: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DashboardShare(Base):
    """A read-only shared link to a dashboard: signed, expiring, revocable."""

    __tablename__ = "dashboard_shares"
    __table_args__ = (Index("ix_dashboard_shares_dashboard", "dashboard_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    dashboard_id: Mapped[str] = mapped_column(ForeignKey("dashboards.id", ondelete="CASCADE"))
    #: Who created it: the link's queries run as this member (while a member).
    member_id: Mapped[str] = mapped_column(String(40))
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Workflow(Base):
    """A saved workflow (seed 002 ``/v1/workflows``): its trigger and ordered steps are one
    JSON document, written whole so no change is ever half-applied. ``next_run_at`` is the
    next scheduled time (null: manual or disabled), what the scheduler looks at."""

    __tablename__ = "workflows"
    __table_args__ = (
        Index("ix_workflows_org_time", "org_id", "created_at"),
        Index("ix_workflows_next_run", "next_run_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    #: The owner: who created it; its runs run with this member's current role.
    member_id: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    #: ``{"trigger": {...}, "steps": [...]}``, as validated (webhook secrets encrypted).
    document: Mapped[dict[str, Any]] = mapped_column()
    next_run_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WorkflowRun(Base):
    """One run of a workflow. A scheduled run is claimed by inserting it: the unique
    ``(workflow_id, scheduled_for)`` makes every scheduled time fire once, whichever of the
    processes sharing the store gets there first."""

    __tablename__ = "workflow_runs"
    __table_args__ = (
        UniqueConstraint("workflow_id", "scheduled_for", name="ux_workflow_runs_time"),
        Index("ix_workflow_runs_workflow_time", "workflow_id", "created_at"),
        Index("ix_workflow_runs_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    workflow_id: Mapped[str] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"))
    #: "schedule", "manual" (the API or the CLI).
    trigger: Mapped[str] = mapped_column(String(20))
    #: Who asked for a manual run (null for a scheduled one).
    member_id: Mapped[str | None] = mapped_column(String(40))
    #: queued, running, succeeded, failed, skipped, interrupted, canceled, missed.
    status: Mapped[str] = mapped_column(String(20))
    scheduled_for: Mapped[datetime | None] = mapped_column()
    #: ``[{"index", "type", "status", "duration_ms", "row_count", "deliveries", "error"}]``.
    steps: Mapped[list[Any]] = mapped_column(JSON, default=list)
    error: Mapped[dict[str, Any] | None] = mapped_column()
    #: The process running it, and when it last said it was alive.
    runner: Mapped[str | None] = mapped_column(String(64))
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
