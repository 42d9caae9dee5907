"""Open engines for registered connections, once each, and close them when they change."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlgate.engines.base import Engine
from sqlgate.errors import ConnectionFailed
from sqlgate.settings import Settings

#: Connection ``type`` → the sqlglot dialect its SQL is parsed in (sqlalchemy: from its URL).
DIALECTS = {
    "duckdb": "duckdb",
    "sqlite": "sqlite",
    "postgresql": "postgres",
    "mysql": "mysql",
}
CONNECTION_TYPES = frozenset({*DIALECTS, "sqlalchemy"})


@dataclass(frozen=True)
class ConnectionSpec:
    """What an engine needs to open a registered connection (no HTTP or ORM types)."""

    id: str
    type: str
    database: str | None  # file path, database name, or (sqlalchemy) URL without password
    updated_at: datetime
    host: str | None = None
    port: int | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # decrypted; never logged
    ssl_mode: str | None = None


def dialect_for(connection_type: str, database: str | None) -> str:
    """The sqlglot dialect for a connection, known without opening it."""
    if connection_type == "sqlalchemy":
        from sqlgate.engines.sqlalchemy_url import sqlglot_dialect

        return sqlglot_dialect(database or "")
    return DIALECTS[connection_type]


def split_url(url: str) -> tuple[str, str | None, str | None]:
    """A SQLAlchemy URL without its password, the password, and the host it names
    (``ValueError`` if malformed)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError("`url` is not a valid SQLAlchemy URL (dialect+driver://...)") from None
    password = parsed.password
    safe = parsed.set(password=None).render_as_string(hide_password=False)
    return safe, str(password) if password is not None else None, parsed.host


class EngineRegistry:
    """Engines by connection id. A changed connection (``updated_at``) gets a fresh engine."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._engines: dict[str, tuple[datetime, Engine]] = {}
        self._lock = threading.Lock()

    def get(
        self, connection_id: str, updated_at: datetime, make_spec: Callable[[], ConnectionSpec]
    ) -> Engine:
        """The engine for a connection as of ``updated_at``; ``make_spec`` (which decrypts the
        password) is called only when an engine must be opened."""
        with self._lock:
            cached = self._engines.get(connection_id)
            if cached and cached[0] == updated_at:
                return cached[1]
            engine = self._open(make_spec())
            self._engines[connection_id] = (updated_at, engine)
        if cached:
            cached[1].close()
        return engine

    def _open(self, spec: ConnectionSpec) -> Engine:
        if not spec.database:
            raise ConnectionFailed("The connection has no database configured")
        settings = self._settings
        pool_size, connect_timeout = settings.server_pool_size, settings.server_connect_timeout
        if spec.type == "duckdb":
            from sqlgate.engines.duckdb import DuckDBEngine

            return DuckDBEngine(
                spec.database,
                memory_limit=settings.duckdb_memory_limit,
                threads=settings.duckdb_threads,
            )
        if spec.type == "sqlite":
            from sqlgate.engines.sqlite import SQLiteEngine

            return SQLiteEngine(spec.database, max_value_bytes=settings.sqlite_max_value_bytes)
        if spec.type == "postgresql":
            from sqlgate.engines.postgres import PostgresEngine

            return PostgresEngine(spec, pool_size=pool_size, connect_timeout=connect_timeout)
        if spec.type == "mysql":
            from sqlgate.engines.mysql import MySQLEngine

            return MySQLEngine(spec, pool_size=pool_size, connect_timeout=connect_timeout)
        if spec.type == "sqlalchemy":
            from sqlgate.engines.sqlalchemy_url import SQLAlchemyEngine

            return SQLAlchemyEngine(spec, pool_size=pool_size, connect_timeout=connect_timeout)
        raise ConnectionFailed(f"Connection type {spec.type!r} is not supported")

    def discard(self, connection_id: str) -> None:
        with self._lock:
            cached = self._engines.pop(connection_id, None)
        if cached:
            cached[1].close()

    def close(self) -> None:
        with self._lock:
            engines, self._engines = list(self._engines.values()), {}
        for _, engine in engines:
            engine.close()
