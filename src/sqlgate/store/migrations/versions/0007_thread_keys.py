"""threads are named per organization: the client's threadId is a key within its organization

Revision ID: 0007
Revises: 0006

``nl_threads.thread_key`` holds the threadId a client sends and sees; ``id`` stays the stored
thread's own key, so the same threadId in two organizations is two threads. Existing threads
keep their id as their key. The column is added (no table rebuild, so no turn is lost to a
cascading delete on SQLite) and made unique per organization by an index.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("nl_threads", sa.Column("thread_key", sa.String(40), nullable=True))
    op.execute("UPDATE nl_threads SET thread_key = id")
    op.create_index("ux_nl_threads_key", "nl_threads", ["org_id", "thread_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_nl_threads_key", table_name="nl_threads")
    with op.batch_alter_table("nl_threads") as batch:
        batch.drop_column("thread_key")
