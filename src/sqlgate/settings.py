"""Settings, read once from ``SQLGATE_*`` environment variables and passed into ``create_app``."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sqlgate"


DEFAULT_RATE_LIMITS = {
    # Route groups; values use the `limits` notation ("N per period", e.g. "6/minute").
    "query": "600/minute",
    "admin_sql": "6/minute",  # seed 000: 6 requests per minute per user
    "default": "1200/minute",
}


class Settings(BaseSettings):
    """Every knob of the service. Environment variables are ``SQLGATE_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="SQLGATE_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir, description="Where state lives.")
    database_url: str | None = Field(
        default=None,
        description="Metadata store URL (SQLAlchemy). Default: SQLite file in the data dir.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Server secret; encrypts connection passwords. Generated into "
        "<data_dir>/secret_key if unset.",
    )
    previous_secret_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Earlier secret keys, still accepted for decrypting while "
        "`sqlgate secrets rotate` re-encrypts with the current one.",
    )
    host: str = "127.0.0.1"
    port: int = 8000

    max_body_bytes: int = Field(default=1_048_576, description="Largest accepted request body.")
    max_sql_chars: int = Field(default=100_000, description="Longest accepted SQL text.")

    row_limit_default: int = 1000
    row_limit_max: int = 10_000
    timeout_default: int = 30
    timeout_max: int = 120
    export_row_limit: int = Field(
        default=10_000_000, description="Most rows one export may stream."
    )

    sql_guard: bool = Field(
        default=True,
        description="Parser-level SQL guard. Turning it off leaves only the engine-level "
        "read-only session; only tests should do that.",
    )
    data_roots: list[Path] | None = Field(
        default=None,
        description="Directories under which HTTP-registered file databases must live. "
        "Default: <data_dir>/databases.",
    )

    auth_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        description="How long a server process may reuse a key check before asking the store "
        "again (a key revoked elsewhere stops working within this time). 0 turns it off.",
    )
    rate_limit_enabled: bool = True
    rate_limits: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    redis_url: str | None = Field(default=None, description="Shared rate-limit storage.")

    server_pool_size: int = Field(
        default=5, ge=1, le=100, description="Pooled sessions per server connection."
    )
    server_connect_timeout: float = Field(
        default=5.0, gt=0, le=60, description="Seconds to wait for a database server."
    )
    connection_hosts: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Host names or addresses (shell-style patterns, e.g. `*.db.internal`, "
        "`10.1.*`) that server connections may point at. Default: any; narrow it so tenants "
        "cannot reach hosts next to sqlgate.",
    )
    sqlalchemy_orgs: list[str] = Field(
        default_factory=list,
        description="Organizations (ids or slugs; `*` for all) that may register `sqlalchemy` "
        "connections, whose raw URLs pick any installed driver.",
    )

    invite_ttl_hours: float = Field(
        default=168,
        gt=0,
        description="How long an invitation token stays valid (default 7 days).",
    )
    audit_retention_days: int = Field(
        default=365,
        ge=0,
        description="Audit events older than this many days are deleted at start-up; "
        "0 keeps them forever.",
    )

    duckdb_memory_limit: str = "2GB"
    duckdb_threads: int = Field(default=2, ge=1)
    sqlite_max_value_bytes: int = Field(
        default=100_000_000, description="Largest string or blob one SQLite value may be."
    )

    @field_validator("rate_limits", mode="after")
    @classmethod
    def _merge_rate_limit_defaults(cls, value: dict[str, str]) -> dict[str, str]:
        return {**DEFAULT_RATE_LIMITS, **value}

    @property
    def metadata_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'sqlgate.db'}"

    @property
    def roots(self) -> list[Path]:
        roots = self.data_roots or [self.data_dir / "databases"]
        return [r.expanduser().resolve() for r in roots]

    def ensure_data_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.data_dir / "databases").mkdir(exist_ok=True)

    def resolved_secret_key(self) -> str:
        """The server secret: from settings, else from (or newly into) ``<data_dir>/secret_key``."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        self.ensure_data_dir()
        path = self.data_dir / "secret_key"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            key = secrets.token_urlsafe(48)
            fh.write(key + "\n")
        return key
