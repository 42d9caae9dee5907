"""Workflows (seed 002 ``/v1/workflows``) as a use case: define them (checked whole, see
:mod:`sqlgate.library.workflow_spec`), run them by hand, read their run history. Scheduled
runs come from :mod:`sqlgate.library.workflow_engine`, which also runs every queued run.

Webhook URLs and secrets are write-only (a chat webhook's URL is its credential): encrypted with
the connection passwords' key before they are stored, and shown only as ``url_origin`` (scheme,
host and port), ``url_set`` and ``secret_set``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Scope
from sqlgate.errors import AuthorizationError, RateLimitExceeded, SqlgateError, ValidationError
from sqlgate.library.dashboard_spec import Lookups
from sqlgate.library.workflow_spec import next_time, url_origin, validate
from sqlgate.library.workflow_store import Page, RunInfo, WorkflowInfo, WorkflowStore
from sqlgate.services.audit import AuditLog, audited
from sqlgate.services.secrets import SecretBox
from sqlgate.settings import Settings


class WorkflowService:
    def __init__(
        self,
        settings: Settings,
        store: WorkflowStore,
        box: SecretBox,
        lookups: Callable[[str], Lookups],
        audit: AuditLog | None = None,
        host_refusal: Callable[[str], str | None] = lambda _host: None,
        email: bool = False,
    ) -> None:
        self._host_refusal = host_refusal
        self._email = email
        self._settings = settings
        self._store = store
        self._box = box
        self._lookups = lookups
        self._audit = audit
        #: Called when a run is queued (the engine's workers wake up).
        self.on_queue: Callable[[], None] = lambda: None
        #: Called when a workflow's next scheduled time was set (the scheduler looks again).
        self.on_schedule: Callable[[], None] = lambda: None

    def create(self, principal: Principal, body: Any) -> WorkflowInfo:
        org_id = principal.org_id
        with audited(self._audit, principal, org_id, "workflow.create") as detail:
            fields = self._stored(
                validate(
                    body,
                    self._lookups(org_id),
                    host_refusal=self._host_refusal,
                    email=self._email,
                )
            )
            if self._store.count(org_id) >= self._settings.workflow_max_per_org:
                raise ValidationError(
                    f"This organization already has {self._settings.workflow_max_per_org} "
                    "workflows (SQLGATE_WORKFLOW_MAX_PER_ORG)",
                    field="name",
                )
            info = self._store.create(org_id, principal.member_id, fields)
            detail["workflow_id"] = info.id
        if info.next_run_at is not None:
            self.on_schedule()
        return info

    def page(self, org_id: str, *, limit: int, cursor: str | None) -> Page:
        return self._store.page(org_id, limit=limit, cursor=cursor)

    def get(self, org_id: str, workflow_id: str) -> WorkflowInfo:
        return self._store.get(org_id, workflow_id)

    def update(self, principal: Principal, workflow_id: str, body: Any) -> WorkflowInfo:
        """Change any of the fields; ``steps`` is the whole list. All or nothing."""
        org_id = principal.org_id
        current = self._store.get(org_id, workflow_id)
        with audited(self._audit, principal, org_id, "workflow.update", target_id=workflow_id):
            self._may_change(principal, current)
            fields = validate(
                body,
                self._lookups(org_id),
                current=self._readable(current.stored()),
                host_refusal=self._host_refusal,
                email=self._email,
            )
            info = self._store.replace(org_id, workflow_id, self._stored(fields))
        if info.next_run_at is not None:
            self.on_schedule()
        return info

    def delete(self, principal: Principal, workflow_id: str) -> None:
        """Its owner, or an admin, deletes a workflow (and its run history)."""
        current = self._store.get(principal.org_id, workflow_id)
        org_id = principal.org_id
        with audited(self._audit, principal, org_id, "workflow.delete", target_id=workflow_id):
            self._may_change(principal, current)
            self._store.delete(org_id, workflow_id)

    def run(self, principal: Principal, workflow_id: str) -> RunInfo:
        """Queue a manual run (it runs as the workflow's owner, like a scheduled one)."""
        info = self._store.get(principal.org_id, workflow_id)
        cap = self._settings.workflow_max_pending_runs
        if self._store.pending(principal.org_id) >= cap:
            raise RateLimitExceeded(
                f"This organization already has {cap} workflow runs queued or running; "
                "try again when they finish",
                retry_after=5,
                budget="workflow_runs",
            )
        run = self._store.add_run(info, "manual", principal.member_id)
        self.on_queue()
        return run

    def runs(self, org_id: str, workflow_id: str, *, limit: int, cursor: str | None) -> Page:
        return self._store.runs(org_id, workflow_id, limit=limit, cursor=cursor)

    def get_run(self, org_id: str, workflow_id: str, run_id: str) -> RunInfo:
        return self._store.run(org_id, workflow_id, run_id)

    def cancel(self, principal: Principal, workflow_id: str, run_id: str) -> RunInfo:
        """Cancel a queued run, or stop a running one before its next step."""
        org_id = principal.org_id
        with audited(self._audit, principal, org_id, "workflow.cancel", target_id=workflow_id) as d:
            d["run_id"] = run_id
            error = {"code": "canceled", "message": f"Canceled by {principal.member_id}"}
            return self._store.cancel(org_id, workflow_id, run_id, error)

    # --- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _may_change(principal: Principal, current: WorkflowInfo) -> None:
        if current.member_id != principal.member_id and Scope.ADMIN not in principal.scopes:
            raise AuthorizationError("Only its owner or an admin may change a workflow")

    def _stored(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Webhook URLs and secrets encrypted, and the next scheduled time computed."""
        document = {
            **fields["document"],
            "steps": [self._seal(s) for s in fields["document"]["steps"]],
        }
        due = next_time(document["trigger"], datetime.now(UTC)) if fields["enabled"] else None
        return {**fields, "document": document, "next_run_at": due}

    def _seal(self, step: dict[str, Any]) -> dict[str, Any]:
        """A webhook step as stored: ``url_enc`` and ``url_origin`` for its ``url``,
        ``secret_enc`` for its ``secret``."""
        if step.get("type") != "webhook":
            return step
        out = {k: v for k, v in step.items() if k not in ("url", "secret")}
        if step.get("url"):
            out["url_enc"] = self._box.encrypt(step["url"])
            out["url_origin"] = url_origin(step["url"])
        if step.get("secret"):
            out["secret_enc"] = self._box.encrypt(step["secret"])
        return out

    def _readable(self, stored: dict[str, Any]) -> dict[str, Any]:
        """A stored workflow with its webhooks' URLs decrypted (in memory, to compare a
        PATCH with), as :func:`validate` takes ``current``."""
        steps = []
        for step in stored["document"].get("steps") or []:
            if step.get("type") == "webhook" and step.get("url_enc"):
                try:
                    step = {**step, "url": self._box.decrypt(step["url_enc"])}
                except SqlgateError:  # written with a key no longer configured: send it again
                    step = {k: v for k, v in step.items() if k != "url_enc"}
            steps.append(step)
        return {**stored, "document": {**stored["document"], "steps": steps}}

    def seal_secrets(self, *, rotate: bool = False) -> tuple[int, int]:
        """Encrypt any webhook URL still stored in plain text (written before URLs were
        encrypted) and, with ``rotate``, re-encrypt every webhook URL and secret with the
        current key: ``(rewritten, unchanged)`` webhook steps."""
        counts = [0, 0]

        def rewrite(document: dict[str, Any]) -> dict[str, Any] | None:
            steps, changed = [], False
            for step in document.get("steps") or []:
                if step.get("type") == "webhook":
                    new = self._reseal(step, rotate)
                    counts[new is step] += 1
                    changed |= new is not step
                    step = new
                steps.append(step)
            return {**document, "steps": steps} if changed else None

        self._store.rewrite_documents(rewrite)
        return counts[0], counts[1]

    def _reseal(self, step: dict[str, Any], rotate: bool) -> dict[str, Any]:
        out = dict(step)
        if out.get("url"):
            out = self._seal(out)  # plain: encrypt it (a secret is always encrypted)
        for key in ("url_enc", "secret_enc"):
            if rotate and out.get(key) and not self._box.is_current(out[key]):
                out[key] = self._box.rotate(out[key])
        return step if out == step else out
