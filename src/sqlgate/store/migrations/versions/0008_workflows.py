"""workflows and their runs

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _org() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "org_id",
        sa.String(40),
        sa.ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    )


def _when(name: str, *, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "workflows",
        sa.Column("id", sa.String(40), primary_key=True),
        _org(),
        sa.Column("member_id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        _when("next_run_at", nullable=True),
        _when("created_at"),
        _when("updated_at"),
    )
    op.create_index("ix_workflows_org_time", "workflows", ["org_id", "created_at"])
    op.create_index("ix_workflows_next_run", "workflows", ["next_run_at"])
    op.create_table(
        "workflow_runs",
        sa.Column("id", sa.String(40), primary_key=True),
        _org(),
        sa.Column(
            "workflow_id",
            sa.String(40),
            sa.ForeignKey("workflows.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("member_id", sa.String(40), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        _when("scheduled_for", nullable=True),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("runner", sa.String(64), nullable=True),
        _when("heartbeat_at", nullable=True),
        _when("created_at"),
        _when("started_at", nullable=True),
        _when("finished_at", nullable=True),
        sa.UniqueConstraint("workflow_id", "scheduled_for", name="ux_workflow_runs_time"),
    )
    op.create_index(
        "ix_workflow_runs_workflow_time", "workflow_runs", ["workflow_id", "created_at"]
    )
    op.create_index("ix_workflow_runs_status", "workflow_runs", ["status"])


def downgrade() -> None:
    op.drop_table("workflow_runs")
    op.drop_table("workflows")
