"""How many rows and how long: the limits of each surface a query comes in through.

A *surface* is a way into the one query path (``POST /api/v1/query``, an export, the admin
``sql_query``, an async job, a question...). Each has a default and a maximum for its row limit
and its timeout, derived from the settings here and nowhere else. The query service (and the job
service, for submissions) applies them, so every caller of a surface gets the same maxima: the
HTTP routers only parse, and the CLI and the question path cannot skip them.

Adding a surface (the PostgreSQL wire protocol, MCP) is one :class:`Surface` below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sqlgate.errors import ValidationError
from sqlgate.settings import Settings

# Seed 000: the admin `sql_query` answers with at most 1000 rows and stops after 30 seconds.
ADMIN_ROW_LIMIT = 1000
ADMIN_TIMEOUT = 30


@dataclass(frozen=True)
class Limits:
    """Row and time bounds of one surface."""

    row_default: int
    row_max: int
    timeout_default: float
    timeout_max: float
    #: What the surface's clients call the values (named in the error and its ``field``).
    row_field: str = "row_limit"
    timeout_field: str = "timeout"

    def apply(self, row_limit: int | None, timeout: float | None) -> tuple[int, float]:
        """The row limit and timeout a query runs with: the defaults unless it asks for others,
        and never above the maxima. Asking for more than a maximum is a ValidationError."""
        if row_limit is not None and row_limit > self.row_max:
            raise ValidationError(
                f"{self.row_field} must be at most {self.row_max}", field=self.row_field
            )
        if timeout is not None and timeout > self.timeout_max:
            raise ValidationError(
                f"{self.timeout_field} must be at most {_number(self.timeout_max)}",
                field=self.timeout_field,
            )
        rows = min(row_limit or self.row_default, self.row_max)
        return rows, min(timeout or self.timeout_default, self.timeout_max)


def _number(value: float) -> str:
    # Integer settings read as written; float ones (the async timeouts) without a trailing ".0".
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Surface:
    """A way into the query path, and how its limits follow from the settings."""

    name: str
    limits_of: Callable[[Settings], Limits] = field(repr=False, compare=False)

    def limits(self, settings: Settings) -> Limits:
        return self.limits_of(settings)


def _sync(s: Settings) -> Limits:
    return Limits(s.row_limit_default, s.row_limit_max, s.timeout_default, s.timeout_max)


#: ``POST /api/v1/query``, questions (`/v1/queries`, `sqlgate ask`): default 1000 rows, max 10000;
#: default 30 s, max 120.
QUERY = Surface("query", _sync)
#: ``POST /api/v1/run_sql``: the synchronous limits; its body calls the row limit ``limit``.
RUN_SQL = Surface("run_sql", lambda s: replace(_sync(s), row_field="limit"))
#: ``POST /api/v1/query/{id}/export``: up to the export row limit; the synchronous timeouts.
EXPORT = Surface(
    "export",
    lambda s: Limits(s.export_row_limit, s.export_row_limit, s.timeout_default, s.timeout_max),
)
#: ``POST /v1/{org}/admin/sql_query`` without ``async_query``: fixed by the seed.
ADMIN = Surface(
    "admin", lambda _s: Limits(ADMIN_ROW_LIMIT, ADMIN_ROW_LIMIT, ADMIN_TIMEOUT, ADMIN_TIMEOUT)
)
#: Async jobs (``/v1/jobs``, ``async_query``, the hybrid wait): checked when submitted, applied
#: again when a worker runs them.
ASYNC = Surface(
    "async",
    lambda s: Limits(
        s.async_row_limit, s.async_row_limit, s.async_timeout_default, s.async_timeout_max
    ),
)
#: Dashboard widgets (``GET /v1/dashboards/{id}`` and shared links): the synchronous limits,
#: with a widget's own ``row_limit`` and ``timeout`` as the request's.
DASHBOARD = Surface("dashboard", _sync)
#: Workflow query steps (``/v1/workflows``, run by the server as the workflow's owner): the
#: synchronous limits, with a step's own ``row_limit`` and ``timeout`` as the request's.
WORKFLOW = Surface("workflow", _sync)
