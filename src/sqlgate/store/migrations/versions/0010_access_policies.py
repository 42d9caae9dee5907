"""access policies: versioned row and column policies per connection, in layers

Revision ID: 0010
Revises: 0009

``access_policies`` holds every deployed version of a connection's access policy: the
operator's layer (``layer = 'operator'``), which binds every organization reading the
connection, and each organization's restrictive additions (``layer`` = its id). The query path
reads the latest version per layer on every query, by the unique index.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_policies",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "connection_id",
            sa.String(40),
            sa.ForeignKey("connections.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("layer", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("format", sa.String(10), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.String(40), nullable=True),
        sa.Column("member_id", sa.String(40), nullable=True),
        sa.UniqueConstraint("connection_id", "layer", "version", name="uq_access_policies_version"),
    )


def downgrade() -> None:
    op.drop_table("access_policies")
