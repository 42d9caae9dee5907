"""The metadata store: organizations, members, keys, connections, audit (SQLAlchemy 2 + Alembic)."""
