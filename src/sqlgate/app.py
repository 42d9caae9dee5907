"""``create_app(settings)``: the ASGI application."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlgate import __version__
from sqlgate.api import (
    access_policy,
    admin,
    audit,
    connections,
    dashboards,
    fastpath,
    health,
    jobs,
    keys,
    nl,
    platform,
    platform_connections,
    prompt_logs,
    query,
    run_sql,
    semantic,
    team,
    workflows,
)
from sqlgate.api.declared import declare, publish
from sqlgate.api.docs import install as install_docs
from sqlgate.api.errors import install as install_error_handlers
from sqlgate.api.middleware import BodySizeLimit, JsonBodies
from sqlgate.container import Services
from sqlgate.jobs.runner import JobRunner
from sqlgate.results.signing import install_log_redaction
from sqlgate.settings import Settings

DESCRIPTION = """
One secure endpoint to your data: read-only SQL against registered connections.

Authenticate every request with `Authorization: Bearer <key>` or `X-API-Key: <key>`
(create one with `sqlgate init` or `sqlgate keys create`). Errors always have the shape
`{"error": {"code": ..., "message": ...}}`.
"""


def create_app(settings: Settings | None = None) -> fastpath.App:
    settings = settings or Settings()
    # sqlglot logs the statement text when it falls back to an opaque Command; SQL may carry
    # secrets, and the audit history is where statements are kept.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    services = Services.build(settings)
    runner = JobRunner(settings, services.store, services.queries, services.jobs)

    @asynccontextmanager
    async def lifespan(_app: fastpath.App) -> AsyncIterator[None]:
        install_log_redaction()  # signed result links never reach the access log
        runner.start()  # async query workers of this process (docs/async.md)
        services.workflows.seal_secrets()  # a webhook URL stored in plain text gets encrypted
        services.workflow_engine.start()  # scheduler and workflow runs (docs/workflows.md)
        try:
            yield
        finally:
            services.workflow_engine.stop()
            runner.stop()
            services.close()

    app = fastpath.App(
        title="sqlgate",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by sqlgate.api.docs from local files, not a CDN
        redoc_url=None,
    )
    app.state.services = services
    app.state.job_runner = runner
    install_error_handlers(app)
    install_docs(app)
    # In front of these: execute requests it can answer exactly as the route would.
    fastpath.install(app, services, settings.max_body_bytes)
    app.add_middleware(JsonBodies)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    routers = (
        health,
        query,
        run_sql,
        nl,
        admin,
        prompt_logs,
        connections,
        semantic,
        access_policy,
        audit,
        keys,
        team,
        jobs,
        dashboards,
        workflows,
        platform,
        platform_connections,
    )
    for router in [*(m.router for m in routers), jobs.downloads, dashboards.shared]:
        declare(router)
        app.include_router(router)
    publish(app)
    return app
