"""The composition root: everything the HTTP layer and the CLI need, built once from Settings.

It sits beside ``app.py`` and ``cli.py``, above every package it wires (services, jobs, library,
engines, results), so none of those needs to import another layer's construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlgate.auth.concurrency import ConcurrencyLimiter
from sqlgate.auth.principal import Authenticator
from sqlgate.auth.ratelimit import RateLimiter
from sqlgate.engines.registry import EngineRegistry
from sqlgate.jobs.service import JobService
from sqlgate.library.dashboard_data import WidgetRunner
from sqlgate.library.dashboard_store import DashboardStore
from sqlgate.library.dashboards import DashboardService
from sqlgate.library.mailer import Mailer
from sqlgate.library.questions import SavedQuestions
from sqlgate.library.saved_queries import SavedQueries
from sqlgate.library.webhooks import HostPolicy, WebhookSender
from sqlgate.library.workflow_engine import WorkflowEngine
from sqlgate.library.workflow_steps import StepRunner
from sqlgate.library.workflow_store import WorkflowStore
from sqlgate.library.workflows import WorkflowService
from sqlgate.results.signing import LinkSigner
from sqlgate.results.storage import ResultStore
from sqlgate.services.access_policies import AccessPolicies
from sqlgate.services.audit import AuditLog
from sqlgate.services.audit_query import prune
from sqlgate.services.connections import ConnectionService
from sqlgate.services.nl import NlService
from sqlgate.services.organizations import Organizations
from sqlgate.services.prompt_logs import PromptLogs
from sqlgate.services.query import QueryService
from sqlgate.services.secrets import SecretBox
from sqlgate.services.semantic_models import SemanticModels
from sqlgate.services.shared_connections import SharedConnections
from sqlgate.services.team import TeamService
from sqlgate.services.threads import Threads
from sqlgate.services.translators import Translators
from sqlgate.settings import Settings
from sqlgate.store.db import Store


@dataclass
class Services:
    settings: Settings
    store: Store
    engines: EngineRegistry
    audit: AuditLog
    limiter: RateLimiter
    slots: ConcurrencyLimiter
    authenticator: Authenticator
    connections: ConnectionService
    queries: QueryService
    team: TeamService
    prompt_logs: PromptLogs
    jobs: JobService
    semantic: SemanticModels
    policies: AccessPolicies
    saved_queries: SavedQueries
    threads: Threads
    nl: NlService
    questions: SavedQuestions
    dashboards: DashboardService
    workflows: WorkflowService
    #: Started by the server (app.py): the scheduler and the run workers of this process.
    workflow_engine: WorkflowEngine
    #: The operator's: organizations, and the connections shared with them.
    organizations: Organizations
    shared_connections: SharedConnections

    @classmethod
    def build(cls, settings: Settings) -> Services:
        """Open the metadata store (applying migrations) and wire the services together."""
        settings.ensure_data_dir()
        box = SecretBox(
            settings.resolved_secret_key(),
            [k.get_secret_value() for k in settings.previous_secret_keys],
        )
        store = Store(settings.metadata_url)
        store.migrate()
        if settings.audit_retention_days:  # 0 keeps the history forever
            prune(store, settings.audit_retention_days)
        engines = EngineRegistry(settings)
        audit = AuditLog(store)
        connections = ConnectionService(store, settings, engines, box, audit)
        slots = ConcurrencyLimiter(settings)
        semantic, policies, queries = _query_path(settings, store, connections, audit, slots)
        prompt_logs = PromptLogs(store)
        saved_queries = SavedQueries(store)
        translators = Translators(settings, connections, semantic)
        threads = Threads(store)
        nl = NlService(store, connections, threads, prompt_logs, translators)
        nl.policies = policies
        limiter = RateLimiter(settings)
        dashboards = DashboardService(
            settings,
            DashboardStore(store),
            saved_queries,
            connections,
            WidgetRunner(queries, connections, saved_queries, slots),
            admit=lambda principal: limiter.admit(principal, "query"),
        )
        results = ResultStore(settings.data_dir / "results")
        jobs = JobService(
            settings,
            store,
            connections,
            audit,
            results,
            LinkSigner(settings.resolved_secret_key()),
        )
        workflows, engine = _workflows(
            settings, store, box, dashboards, audit, queries, saved_queries, jobs
        )
        access = _access(settings, store, audit, connections, engines, results)
        return cls(
            settings=settings,
            store=store,
            engines=engines,
            audit=audit,
            limiter=limiter,
            slots=slots,
            connections=connections,
            queries=queries,
            team=TeamService(store, audit, invite_ttl=timedelta(hours=settings.invite_ttl_hours)),
            prompt_logs=prompt_logs,
            semantic=semantic,
            policies=policies,
            saved_queries=saved_queries,
            threads=threads,
            nl=nl,
            questions=SavedQuestions(nl, queries, saved_queries),
            dashboards=dashboards,
            workflows=workflows,
            workflow_engine=engine,
            jobs=jobs,
            **access,
        )

    def close(self) -> None:
        self.workflow_engine.stop()
        self.slots.close()
        self.audit.close()
        self.engines.close()
        self.store.close()


def _workflows(
    settings: Settings,
    store: Store,
    box: SecretBox,
    dashboards: DashboardService,
    audit: AuditLog,
    queries: QueryService,
    saved_queries: SavedQueries,
    jobs: JobService,
) -> tuple[WorkflowService, WorkflowEngine]:
    """Workflows and the engine that schedules and runs them, with their outbound senders."""
    workflow_store = WorkflowStore(store)
    hosts = HostPolicy.parse(settings.webhook_hosts)
    smtp_url = settings.smtp_url.get_secret_value() if settings.smtp_url else None
    mailer = Mailer(smtp_url, settings.smtp_from, ca_file=settings.smtp_ca_file)
    workflows = WorkflowService(
        settings,
        workflow_store,
        box,
        dashboards.lookups,
        audit,
        host_refusal=hosts.literal_refusal,
        email=mailer.configured,
    )
    sender = WebhookSender(hosts, ca_file=settings.webhook_ca_file)
    steps = StepRunner(queries, saved_queries, jobs, box, sender, mailer)
    engine = WorkflowEngine(settings, workflow_store, steps, audit)
    workflows.on_queue = engine.wake
    workflows.on_schedule = engine.reschedule
    return workflows, engine


def _query_path(
    settings: Settings,
    store: Store,
    connections: ConnectionService,
    audit: AuditLog,
    slots: ConcurrencyLimiter,
) -> tuple[SemanticModels, AccessPolicies, QueryService]:
    """The one query path: semantic SQL expanded, access policies (bound to the attributes the
    operator and org admins set) enforced after the guard."""
    semantic = SemanticModels(store, connections, audit)
    policies = AccessPolicies(
        store, connections, audit, cache_seconds=settings.connection_cache_seconds
    )
    queries = QueryService(
        settings, connections, audit, slots, rewrite=semantic.native_sql, policies=policies
    )
    return semantic, policies, queries


def _access(
    settings: Settings,
    store: Store,
    audit: AuditLog,
    connections: ConnectionService,
    engines: EngineRegistry,
    results: ResultStore,
) -> dict[str, Any]:
    """Who gets in, and what the operator manages: organizations (a suspension or deletion
    forgets remembered keys and connections at once in this process) and shared connections."""
    authenticator = Authenticator(store, ttl=settings.auth_cache_seconds)

    def access_changed() -> None:
        authenticator.forget()
        connections.forget_lookups()

    def org_deleted(_org_id: str, connection_ids: list[str], job_ids: list[str]) -> None:
        for connection_id in connection_ids:
            engines.discard(connection_id)
        for job_id in job_ids:
            results.delete(job_id)

    return {
        "authenticator": authenticator,
        "organizations": Organizations(
            store, audit, on_access_change=access_changed, on_delete=org_deleted
        ),
        "shared_connections": SharedConnections(store, connections, audit),
    }
