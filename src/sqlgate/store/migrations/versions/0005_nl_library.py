"""saved questions, threads, prompt logs and explanations (issue 6)

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _org() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "org_id",
        sa.String(40),
        sa.ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    )


def _created() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "saved_queries",
        sa.Column("id", sa.String(40), primary_key=True),
        _org(),
        sa.Column("member_id", sa.String(40), nullable=False),
        sa.Column("connection_id", sa.String(40), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("sql", sa.Text(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error_code", sa.String(50), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("columns", sa.JSON(), nullable=True),
        sa.Column("row_count", sa.Integer(), nullable=True),
        sa.Column("execution_time_ms", sa.Double(), nullable=True),
        sa.Column("thread_id", sa.String(40), nullable=True),
        _created(),
    )
    op.create_index("ix_saved_queries_org_time", "saved_queries", ["org_id", "created_at"])
    op.create_table(
        "nl_threads",
        sa.Column("id", sa.String(40), primary_key=True),
        _org(),
        sa.Column("member_id", sa.String(40), nullable=False),
        sa.Column("connection_id", sa.String(40), nullable=False),
        _created(),
    )
    op.create_table(
        "nl_turns",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column(
            "thread_id",
            sa.String(40),
            sa.ForeignKey("nl_threads.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("standalone", sa.Text(), nullable=True),
        sa.Column("sql", sa.Text(), nullable=True),
        _created(),
    )
    op.create_index("ix_nl_turns_thread", "nl_turns", ["thread_id", "id"])
    op.create_table(
        "prompt_logs",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        _org(),
        sa.Column("log_key", sa.String(200), nullable=False),
        sa.Column("member_id", sa.String(40), nullable=True),
        sa.Column("member_role", sa.String(20), nullable=False),
        sa.Column("system", sa.Text(), nullable=False),
        sa.Column("history", sa.JSON(), nullable=True),
        _created(),
        sa.UniqueConstraint("org_id", "log_key"),
    )
    op.create_table(
        "explanations",
        sa.Column("id", sa.String(40), primary_key=True),
        _org(),
        sa.Column("member_id", sa.String(40), nullable=False),
        sa.Column("connection_id", sa.String(40), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(20), nullable=True),
        _created(),
    )


def downgrade() -> None:
    for table in ("explanations", "prompt_logs", "nl_turns", "nl_threads", "saved_queries"):
        op.drop_table(table)
