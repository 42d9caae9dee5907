"""organizations the operator manages: status and attributes, member attributes, shared
connections and their grants, operator keys

Revision ID: 0009
Revises: 0008

Columns are only added (never a table rebuild): on SQLite a rebuilt ``organizations``,
``members`` or ``connections`` table would cascade-delete what hangs off it. Existing rows get
status ``active``, no attributes, and are not shared.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "organizations",
        sa.Column("status", sa.String(20), nullable=False, server_default="active"),
    )
    op.add_column("organizations", sa.Column("attributes", sa.JSON(), nullable=True))
    op.add_column("members", sa.Column("attributes", sa.JSON(), nullable=True))
    op.add_column(
        "connections",
        sa.Column("shared", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "connection_grants",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "connection_id",
            sa.String(40),
            sa.ForeignKey("connections.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "org_id",
            sa.String(40),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("org_id", "name", name="uq_connection_grants_name"),
        sa.UniqueConstraint("connection_id", "org_id", name="uq_connection_grants_org"),
    )
    op.create_table(
        "operator_keys",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(40), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("operator_keys")
    op.drop_table("connection_grants")
    op.drop_column("connections", "shared")
    op.drop_column("members", "attributes")
    op.drop_column("organizations", "attributes")
    op.drop_column("organizations", "status")
