"""Open engines for registered connections, once each, and close them when they change."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from sqlgate.engines.base import Engine
from sqlgate.engines.duckdb import DuckDBEngine
from sqlgate.engines.sqlite import SQLiteEngine
from sqlgate.errors import ConnectionFailed
from sqlgate.settings import Settings

ENGINE_TYPES: dict[str, type[Engine]] = {"duckdb": DuckDBEngine, "sqlite": SQLiteEngine}
DIALECTS = {name: cls.dialect for name, cls in ENGINE_TYPES.items()}


@dataclass(frozen=True)
class ConnectionSpec:
    """What an engine needs to open a registered connection (no HTTP or ORM types)."""

    id: str
    type: str
    database: str | None
    updated_at: datetime


class EngineRegistry:
    """Engines by connection id. A changed connection (``updated_at``) gets a fresh engine."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._engines: dict[str, tuple[datetime, Engine]] = {}
        self._lock = threading.Lock()

    def get(self, spec: ConnectionSpec) -> Engine:
        with self._lock:
            cached = self._engines.get(spec.id)
            if cached and cached[0] == spec.updated_at:
                return cached[1]
            engine = self._open(spec)
            self._engines[spec.id] = (spec.updated_at, engine)
        if cached:
            cached[1].close()
        return engine

    def _open(self, spec: ConnectionSpec) -> Engine:
        if not spec.database:
            raise ConnectionFailed("The connection has no database configured")
        if spec.type == "duckdb":
            return DuckDBEngine(
                spec.database,
                memory_limit=self._settings.duckdb_memory_limit,
                threads=self._settings.duckdb_threads,
            )
        if spec.type == "sqlite":
            return SQLiteEngine(
                spec.database, max_value_bytes=self._settings.sqlite_max_value_bytes
            )
        raise ConnectionFailed(f"Connection type {spec.type!r} is not supported yet")

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
