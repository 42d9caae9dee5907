"""Alembic environment: runs on the connection the Store hands in (see Store.migrate)."""

from alembic import context

from sqlgate.store.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
