"""dashboards and their shared links

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
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
        "dashboards",
        sa.Column("id", sa.String(40), primary_key=True),
        _org(),
        sa.Column("member_id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("document", sa.JSON(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
    )
    op.create_index("ix_dashboards_org_time", "dashboards", ["org_id", "created_at"])
    op.create_table(
        "dashboard_shares",
        sa.Column("id", sa.String(40), primary_key=True),
        _org(),
        sa.Column(
            "dashboard_id",
            sa.String(40),
            sa.ForeignKey("dashboards.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("member_id", sa.String(40), nullable=False),
        _when("expires_at"),
        _when("revoked_at", nullable=True),
        _when("created_at"),
    )
    op.create_index("ix_dashboard_shares_dashboard", "dashboard_shares", ["dashboard_id"])


def downgrade() -> None:
    op.drop_table("dashboard_shares")
    op.drop_table("dashboards")
