"""Settings, read once from ``SQLGATE_*`` environment variables and passed into ``create_app``."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated, Any

from limits import RateLimitItem, parse_many
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: A size as DuckDB spells it (`512MB`, `2GiB`) and as PostgreSQL does (`64kB`, `1GB`): these
#: settings are written into a ``SET`` statement, so nothing else may pass.
_DUCKDB_SIZE = r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$"
_PG_SIZE = r"^\d+(kB|MB|GB|TB)$"


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sqlgate"


DEFAULT_RATE_LIMITS = {
    # Route groups; values use the `limits` notation ("N per period", e.g. "6/minute").
    "query": "600/minute",
    "admin_sql": "6/minute",  # seed 000: 6 requests per minute per user
    "default": "1200/minute",
}


def parse_rate_limit(text: str) -> list[RateLimitItem]:
    """``"600/minute"``, ``"10/second;600/minute"`` (every window must have room) or
    ``"unlimited"`` (no windows). Raises ValueError, with the accepted forms, for anything else."""
    if text.strip().lower() == "unlimited":
        return []
    try:
        items = parse_many(text)
    except ValueError as exc:
        raise ValueError(
            f"{text!r} is not a rate limit ({exc}); write N/second, N/minute, N/hour or N/day "
            '(e.g. "600/minute"; several joined by ";"), or "unlimited"'
        ) from None
    if any(item.amount < 1 for item in items):
        raise ValueError(f'{text!r} allows no request at all; the smallest limit is "1/<period>"')
    return items


def _check_rate_limits(setting: str, limits: dict[str, str]) -> None:
    for group, text in limits.items():
        try:
            parse_rate_limit(text)
        except ValueError as exc:
            raise ValueError(f"{setting}, route group {group!r}: {exc}") from None


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
    access_log: bool = Field(
        default=True,
        description="Log one line per request (uvicorn's access log). Off saves about a tenth "
        "of the CPU a small query costs (docs/performance.md); the audit history still has "
        "every query.",
    )
    tls_cert: Path | None = Field(
        default=None,
        description="Serve HTTPS with this certificate (PEM; the chain after the server's own). "
        "Needs `tls_key`. TLS 1.2 at least.",
    )
    tls_key: Path | None = Field(default=None, description="The private key of `tls_cert` (PEM).")
    tls_self_signed: bool = Field(
        default=False,
        description="Serve HTTPS with a self-signed certificate made once in <data_dir>/tls "
        "and reused; its SHA-256 fingerprint is printed at start-up.",
    )
    trust_proxy: bool = Field(
        default=False,
        description="A reverse proxy terminates TLS in front of sqlgate: its X-Forwarded-Proto "
        "and X-Forwarded-For are believed (from `trusted_proxies` only). Off: they are ignored.",
    )
    trusted_proxies: str = Field(
        default="127.0.0.1,::1",
        description="With `trust_proxy`: the proxy addresses or networks whose forwarded "
        "headers count, comma-separated (`*`: any).",
    )

    max_body_bytes: int = Field(default=1_048_576, description="Largest accepted request body.")
    max_sql_chars: int = Field(
        default=100_000,
        ge=1,
        le=100_000,  # the SQL guard refuses longer texts whatever this says
        description="Longest accepted SQL text (at most 100,000 characters).",
    )

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
    connection_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        description="How long a server process may reuse a connection lookup (and the "
        "connection's latest access-policy versions). A change made in the same process "
        "applies at once; one made by another process (the CLI, another "
        "worker) within this time. 0 turns it off.",
    )
    # --- rate limits and the concurrent-query cap (README "Rate limits") -------------------
    rate_limit_enabled: bool = Field(
        default=True,
        description="Count requests against the key and organization budgets below. The "
        "concurrent-query cap is separate (0 turns it off).",
    )
    rate_limits: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_RATE_LIMITS),
        description="Budget of each API key (per member for `admin_sql`) by route group, e.g. "
        '{"query": "600/minute"}; merged over the defaults. A group not listed uses `default`. '
        'Values: "N/second|minute|hour|day", several joined by ";", or "unlimited".',
    )
    org_rate_limits: dict[str, str] = Field(
        default_factory=dict,
        description="Budget of each whole organization by route group (same notation); "
        "a group not listed uses `default`; none set means no organization budget.",
    )
    org_rate_limits_by_org: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description='Per-organization budgets, {"<org id or slug>": {"<group>": "N/period"}}; '
        "each replaces `org_rate_limits` for that group and organization.",
    )
    org_max_concurrent_queries: int = Field(
        default=8,
        ge=0,
        description="Queries one organization may have running at once (sync queries and "
        "streaming exports); past it a query is refused at once with 429. 0: no cap.",
    )
    org_max_concurrent_queries_by_org: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict,
        description='Per-organization caps, {"<org id or slug>": N}; 0: no cap.',
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis shared by every server process for the rate limits and the "
        "concurrent-query cap (default: in process memory, so per process).",
    )
    redis_key_prefix: str = Field(
        default="sqlgate",
        min_length=1,
        description="Prefix of every Redis key sqlgate writes (several deployments may share "
        "one Redis database).",
    )

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

    # --- workflows (scheduled and triggered queries; docs/workflows.md) ---------------------
    webhook_hosts: str = Field(
        default="",
        description="Comma-separated hosts, addresses or CIDR ranges workflow webhooks may reach "
        "besides public addresses (e.g. `127.0.0.1,10.0.0.0/8,hooks.internal`). Empty: public "
        "addresses only; loopback, private and link-local ranges are refused.",
    )
    webhook_ca_file: str | None = Field(
        default=None,
        description="A CA bundle to check HTTPS webhook receivers' certificates with (default: "
        "the bundle httpx would use: SSL_CERT_FILE, SSL_CERT_DIR, else certifi's).",
    )
    smtp_url: SecretStr | None = Field(
        default=None,
        description="Where workflow e-mail goes: smtp://[user:password@]host[:587] (STARTTLS), "
        "smtps://host[:465] (TLS), or smtp+plain://host[:25] (clear text, a local relay only).",
    )
    smtp_from: str = Field(
        default="sqlgate@localhost", description="The From address of workflow e-mail."
    )
    smtp_ca_file: str | None = Field(
        default=None,
        description="A CA bundle to check the SMTP server's certificate with (default: the "
        "system's).",
    )
    workflow_workers: int = Field(
        default=4,
        ge=0,
        description="Threads of each server process that run workflow runs (each run's query "
        "takes one of the organization's concurrent-query slots while it runs).",
    )
    scheduler_interval: float = Field(
        default=1.0,
        gt=0,
        description="Seconds between two looks of the scheduler for due workflows.",
    )
    workflow_grace_seconds: int = Field(
        default=600,
        ge=0,
        description="A scheduled time missed by at most this much (the server was down) still "
        "runs, once; older ones are recorded as `missed`.",
    )
    workflow_stale_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A `running` run whose process has not reported for this long (it died) "
        "becomes `interrupted`.",
    )
    workflow_max_per_org: int = Field(
        default=1000, ge=1, description="Workflows one organization may define."
    )
    workflow_max_pending_runs: int = Field(
        default=20,
        ge=1,
        description="Queued and running runs one organization may have; a manual run beyond "
        "it is refused (429).",
    )
    workflow_run_retention_days: int = Field(
        default=90,
        ge=0,
        description="Finished workflow runs older than this many days are deleted at start-up "
        "and every hour; 0 keeps them forever.",
    )

    # --- async queries (jobs, result files, signed links; docs/async.md) -------------------
    async_workers: int = Field(
        default=4, ge=0, le=64, description="Threads per server process running async jobs."
    )
    async_org_concurrency: int = Field(
        default=2, ge=1, description="Jobs one organization may have running at once."
    )
    async_queue_limit: int = Field(
        default=1000, ge=1, description="Jobs one organization may have queued at once."
    )
    async_row_limit: int = Field(
        default=100_000_000, ge=1, description="Most rows one async result may hold."
    )
    async_byte_limit: int = Field(
        default=20 * 1024**3, ge=1, description="Most bytes of files one async result may hold."
    )
    async_timeout_default: float = Field(
        default=3600, gt=0, description="Seconds an async query may run unless it asks less."
    )
    async_timeout_max: float = Field(
        default=6 * 3600, gt=0, description="Longest `timeout` an async query may ask for."
    )
    async_chunk_rows: int = Field(
        default=5_000_000, ge=1, description="Rows per result file before a new chunk starts."
    )
    async_chunk_bytes: int = Field(
        default=512 * 1024**2, ge=1, description="Bytes per result file before a new chunk."
    )
    async_link_seconds: int = Field(
        default=900, ge=1, description="How long a signed download link works (15 minutes)."
    )
    async_result_retention_hours: float = Field(
        default=24, gt=0, description="How long result files are kept after a job finishes."
    )
    async_job_history_days: int = Field(
        default=30, ge=1, description="How long finished job records are kept."
    )
    async_stale_seconds: float = Field(
        default=60,
        gt=0,
        description="A running job whose server has not reported for this long is failed "
        "(its process died).",
    )
    async_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often an idle server process looks for jobs queued by another process "
        "(one idle worker looks; a job submitted to this process wakes a worker at once).",
    )

    # --- LLM provider for natural language to SQL (docs/llm.md); unset: embedded engine ----
    llm_base_url: str | None = Field(
        default=None,
        description="Base URL of an OpenAI-compatible chat-completions API, e.g. "
        "`https://api.openai.com/v1` or `http://127.0.0.1:11434/v1` (Ollama); for Azure OpenAI "
        "with `llm_api_version`, the resource endpoint `https://NAME.openai.azure.com`. "
        "Unset: the embedded engine answers every question, offline.",
    )
    llm_model: str | None = Field(
        default=None,
        description="Model sent with each request (Azure with `llm_api_version`: the "
        "deployment name). Required with `llm_base_url`.",
    )
    llm_api_key: SecretStr | None = Field(
        default=None,
        description="API key: sent as `Authorization: Bearer` (Azure with `llm_api_version`: "
        "the `api-key` header); never logged. Unset for local servers that need none.",
    )
    llm_api_version: str | None = Field(
        default=None,
        description="Azure OpenAI `api-version` (e.g. `2024-10-21`). Setting it selects "
        "Azure's deployment URLs and `api-key` header; leave unset for Azure's `/openai/v1` API.",
    )
    llm_timeout: float = Field(
        default=60.0, gt=0, le=600, description="Seconds one request to the LLM may take."
    )
    llm_max_retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Retries after HTTP 408/409/429/5xx, a timeout or a dropped connection.",
    )
    llm_retry_backoff: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="Seconds before the first retry, doubling each time; a `Retry-After` "
        "header wins (up to 30 s).",
    )
    llm_max_tokens: int | None = Field(
        default=1024, ge=1, description="`max_tokens` of each request; unset: not sent."
    )
    llm_temperature: float | None = Field(
        default=0.0,
        ge=0,
        le=2,
        description="`temperature` of each request (0: as deterministic as the server can); "
        "unset: not sent, for models that accept only their default.",
    )
    llm_headers: dict[str, str] = Field(
        default_factory=dict,
        description='Extra HTTP headers for every LLM request, e.g. {"OpenAI-Organization": '
        '"org-..."} or a gateway\'s routing header.',
    )
    llm_extra_body: dict[str, Any] = Field(
        default_factory=dict,
        description='Extra fields merged into every request body, e.g. {"seed": 7} or '
        '{"max_completion_tokens": 2048} for models that want it instead of `max_tokens`.',
    )
    llm_generation_timeout: float = Field(
        default=180.0,
        gt=0,
        le=3600,
        description="Seconds one question may take in the LLM pipeline (intent, generation, "
        "dry runs and corrections together); each LLM request gets what is left of it.",
    )
    llm_schema_token_budget: int = Field(
        default=4000,
        ge=200,
        le=100_000,
        description="Estimated tokens of schema text (the retrieved tables) in a generation "
        "prompt.",
    )

    @field_validator("llm_max_tokens", "llm_temperature", mode="before")
    @classmethod
    def _empty_means_not_sent(cls, value: object) -> object:
        # SQLGATE_LLM_MAX_TOKENS= (empty) or "none" leaves the field out of requests.
        if isinstance(value, str) and value.strip().lower() in ("", "none", "null"):
            return None
        return value

    duckdb_memory_limit: str = Field(
        default="2GB",
        description="Memory one DuckDB database (all its queries together) may use.",
    )
    duckdb_max_temp_directory_size: str = Field(
        default="1GB",
        pattern=_DUCKDB_SIZE,
        description="Disk a DuckDB database may spill to (sorts and joins larger than memory).",
    )
    duckdb_threads: int = Field(default=2, ge=1)
    sqlite_max_value_bytes: int = Field(
        default=100_000_000, description="Largest string or blob one SQLite value may be."
    )
    postgres_work_mem: str = Field(
        default="64MB",
        pattern=_PG_SIZE,
        description="PostgreSQL `work_mem` of each query (per sort or hash, server side).",
    )
    postgres_temp_file_limit: str = Field(
        default="1GB",
        pattern=_PG_SIZE,
        description="PostgreSQL `temp_file_limit` of each query; set only when the "
        "connection's role may (a superuser), skipped otherwise.",
    )
    mysql_tmp_table_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=16 * 1024,
        description="MySQL/MariaDB `tmp_table_size` and `max_heap_table_size` of each query: "
        "in-memory temporary tables past this size go to disk.",
    )
    max_result_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1024,
        description="Largest result a query may hand back in one response, and largest "
        "batch of rows (up to 65,536) an export holds in memory at once: past it the query "
        "stops with 422 `result_too_large`.",
    )

    @field_validator("smtp_url", mode="after")
    @classmethod
    def _check_smtp_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            scheme, _, rest = value.get_secret_value().partition("://")
            if scheme not in ("smtp", "smtps", "smtp+plain") or not rest.strip("/"):
                raise ValueError(
                    "must be smtp://host[:port] (STARTTLS), smtps://host[:port] (TLS) or "
                    "smtp+plain://host[:port]"
                )
        return value

    @field_validator("webhook_ca_file", mode="after")
    @classmethod
    def _check_webhook_ca_file(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @field_validator("rate_limits", mode="after")
    @classmethod
    def _merge_rate_limit_defaults(cls, value: dict[str, str]) -> dict[str, str]:
        merged = {**DEFAULT_RATE_LIMITS, **value}
        _check_rate_limits("SQLGATE_RATE_LIMITS", merged)
        return merged

    @field_validator("org_rate_limits", mode="after")
    @classmethod
    def _check_org_rate_limits(cls, value: dict[str, str]) -> dict[str, str]:
        _check_rate_limits("SQLGATE_ORG_RATE_LIMITS", value)
        return value

    @field_validator("org_rate_limits_by_org", mode="after")
    @classmethod
    def _check_org_rate_limits_by_org(
        cls, value: dict[str, dict[str, str]]
    ) -> dict[str, dict[str, str]]:
        for org, limits in value.items():
            _check_rate_limits(f"SQLGATE_ORG_RATE_LIMITS_BY_ORG[{org!r}]", limits)
        return value

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
