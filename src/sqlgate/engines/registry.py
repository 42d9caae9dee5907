"""The engine types, and the engines opened for registered connections (once each, closed when
they change).

:data:`ENGINE_TYPES` is the one list of engine types: each connection ``type`` and the class that
declares it. Everything else about a type (its dialect, file or server or URL, default port, TLS
modes, how it opens) is declared by that class (see :class:`~sqlgate.engines.base.Engine`), and
read from it here and by the connection service, the API and the docs' table. A new engine type
is one module with its class, plus one line below.

Classes are imported the first time their type is needed, so a process that never opens a
PostgreSQL connection never imports psycopg (importing all five engines up front adds about
0.12 s, some 12%, to every CLI command), and a broken driver breaks only its own type.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING

from sqlgate.errors import ConnectionFailed

if TYPE_CHECKING:  # annotations only: the CLI reads CONNECTION_TYPES without importing engines
    from sqlgate.engines.base import ConnectionSpec, Engine
    from sqlgate.settings import Settings

#: Connection ``type`` → ``module:Class`` of its engine, in the order the API lists the types.
ENGINE_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "postgresql": "sqlgate.engines.postgres:PostgresEngine",
        "mysql": "sqlgate.engines.mysql:MySQLEngine",
        "sqlite": "sqlgate.engines.sqlite:SQLiteEngine",
        "duckdb": "sqlgate.engines.duckdb:DuckDBEngine",
        "sqlalchemy": "sqlgate.engines.sqlalchemy_url:SQLAlchemyEngine",
    }
)
CONNECTION_TYPES: tuple[str, ...] = tuple(ENGINE_TYPES)


@cache
def engine_class(connection_type: str) -> type[Engine]:
    """The class that declares ``connection_type`` (imported on first use); ``KeyError`` for a
    type that does not exist."""
    module, _, name = ENGINE_TYPES[connection_type].partition(":")
    cls: type[Engine] = getattr(importlib.import_module(module), name)
    return cls


def dialect_for(connection_type: str, database: str | None) -> str:
    """The sqlglot dialect for a connection, known without opening it."""
    return engine_class(connection_type).dialect_of(database)


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
        try:
            cls = engine_class(spec.type)
        except KeyError:
            raise ConnectionFailed(f"Connection type {spec.type!r} is not supported") from None
        engine = cls.from_spec(spec, self._settings)
        engine.max_result_bytes = self._settings.max_result_bytes
        return engine

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
