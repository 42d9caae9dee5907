"""team members: invitations, service accounts, audit targets

Revision ID: 0002
Revises: 0001

Columns are only added (never a table rebuild): on SQLite a rebuilt ``members`` table would
cascade-delete every API key.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "members", sa.Column("kind", sa.String(20), nullable=False, server_default="person")
    )
    op.add_column(
        "members", sa.Column("status", sa.String(20), nullable=False, server_default="active")
    )
    op.add_column("members", sa.Column("name", sa.String(200), nullable=True))
    op.add_column("members", sa.Column("invite_hash", sa.String(64), nullable=True))
    op.add_column(
        "members", sa.Column("invite_expires_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("members", sa.Column("invited_by", sa.String(40), nullable=True))
    op.create_index("ix_members_invite_hash", "members", ["invite_hash"], unique=True)
    op.add_column("audit_events", sa.Column("target_id", sa.String(40), nullable=True))
    op.add_column("audit_events", sa.Column("detail", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("audit_events", "detail")
    op.drop_column("audit_events", "target_id")
    op.drop_index("ix_members_invite_hash", table_name="members")
    for column in ("invited_by", "invite_expires_at", "invite_hash", "name", "status", "kind"):
        op.drop_column("members", column)
