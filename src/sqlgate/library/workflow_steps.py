"""One workflow run, step by step, as its owner.

Every query goes through the query service (surface ``WORKFLOW``: guard, read-only engine, row
caps, timeouts, slots, audit) and every export through the job service. A condition is plain
data compared in Python (no user text is evaluated); false ends the run ``skipped``. Each step
leaves a record: ``status``, ``duration_ms``, and what it did (``row_count``, ``result``,
``deliveries``, ``job_id``) or its ``error``.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlgate.auth.principal import Principal
from sqlgate.errors import NotFound, SqlgateError
from sqlgate.jobs.model import WORKFLOW_EXPORT
from sqlgate.jobs.service import JobService, JobSpec
from sqlgate.library.mailer import Mail, Mailer
from sqlgate.library.saved_queries import SavedQueries
from sqlgate.library.webhooks import DeliveryFailed, WebhookSender
from sqlgate.library.workflow_store import RunInfo, WorkflowInfo
from sqlgate.results.jsonable import dumps, rows_as_arrays
from sqlgate.services.limits import WORKFLOW
from sqlgate.services.query import QueryRequest, QueryService
from sqlgate.services.secrets import SecretBox

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


class StepFailed(Exception):
    """A step's error as a run shows it: ``{"code", "message"}``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Result:
    connection_id: str
    sql: str
    params: dict[str, Any]
    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool


@dataclass
class Context:
    """What a run knows so far: its workflow and run, and the last query's result."""

    workflow: WorkflowInfo
    run: RunInfo
    principal: Principal
    result: Result | None = None
    exports: list[dict[str, Any]] = field(default_factory=list)


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is None or right is None:
        return _COMPARE[op](left, right) if op in ("=", "!=") else False
    if isinstance(right, int | float) and not isinstance(left, int | float):
        try:
            left = float(left)  # a DECIMAL or a numeric string
        except (TypeError, ValueError):
            return False
    elif isinstance(right, str) and not isinstance(left, str):
        left = str(left)
    try:
        return _COMPARE[op](left, right)
    except TypeError:
        return False


def holds(test: dict[str, Any], result: Result) -> bool:
    """Whether ``test`` (as :mod:`sqlgate.library.workflow_spec` stores it) holds."""
    if "any" in test:
        return any(holds(t, result) for t in test["any"])
    if "all" in test:
        return all(holds(t, result) for t in test["all"])
    if "row_count" in test:
        rc = test["row_count"]
        return _compare(rc["op"], result.row_count, rc["value"])
    column = test["column"]
    if column not in result.columns:
        raise StepFailed(
            "condition_error",
            f"The result has no column {column!r} (it has: {', '.join(result.columns)})",
        )
    index = result.columns.index(column)
    matches = (_compare(test["op"], row[index], test["value"]) for row in result.rows)
    return all(matches) if test.get("rows") == "all" else any(matches)


class StepRunner:
    def __init__(
        self,
        queries: QueryService,
        saved: SavedQueries,
        jobs: JobService,
        box: SecretBox,
        sender: WebhookSender,
        mailer: Mailer,
    ) -> None:
        self._mailer = mailer
        self._queries = queries
        self._saved = saved
        self._jobs = jobs
        self._box = box
        self._sender = sender

    def run(self, ctx: Context, index: int, step: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The step's record, and whether the run goes on."""
        started = time.monotonic()
        record: dict[str, Any] = {"index": index, "type": step["type"], "status": "succeeded"}
        go_on = True
        try:
            if step["type"] == "query":
                record.update(self._query(ctx, step))
            elif step["type"] == "condition":
                go_on = self._condition(ctx, step)
                record["result"] = go_on
            elif step["type"] == "webhook":
                record["deliveries"] = [self._webhook(ctx, index, step)]
            elif step["type"] == "email":
                record["deliveries"] = [self._email(ctx, index, step)]
            elif step["type"] == "export":
                record.update(self._export(ctx, index, step))
        except StepFailed as exc:
            record.update(status="failed", error={"code": exc.code, "message": exc.message})
            go_on = False
        except DeliveryFailed as exc:
            error = {"code": exc.code, "message": exc.message}
            record.update(status="failed", error=error, deliveries=[exc.delivery])
            go_on = False
        except SqlgateError as exc:
            record.update(status="failed", error={"code": exc.code, "message": exc.message})
            go_on = False
        record["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
        return record, go_on

    # --- the step types --------------------------------------------------------------------------

    def _query(self, ctx: Context, step: dict[str, Any]) -> dict[str, Any]:
        org_id = ctx.principal.org_id
        if step.get("query_id"):
            try:
                saved = self._saved.get(org_id, step["query_id"])
            except NotFound:
                raise StepFailed(
                    "not_found", f"The saved query {step['query_id']!r} no longer exists"
                ) from None
            if saved.sql is None:
                raise StepFailed("not_found", f"Saved query {saved.id!r} has no SQL to run")
            conn: str | None = saved.connection_id
            sql: str = saved.sql
        else:
            conn, sql = step.get("connection_id"), step["sql"]
        params = dict(step.get("params") or {})
        request = QueryRequest(sql, params or None, step.get("row_limit"), step.get("timeout"))
        ran = self._queries.execute(
            ctx.principal, conn, request, surface=WORKFLOW, action="workflow.query"
        )
        result = ran.result
        ctx.result = Result(
            ran.connection.id,
            sql,
            params,
            [c.name for c in result.columns],
            rows_as_arrays(result.table),
            result.row_count,
            result.truncated,
        )
        return {"row_count": result.row_count, "truncated": result.truncated}

    def _condition(self, ctx: Context, step: dict[str, Any]) -> bool:
        assert ctx.result is not None  # the spec puts a query step first
        return holds(step, ctx.result)

    def _webhook(self, ctx: Context, index: int, step: dict[str, Any]) -> dict[str, Any]:
        secret = self._decrypt(step["secret_enc"]) if step.get("secret_enc") else None
        url = self._decrypt(step["url_enc"]) if step.get("url_enc") else step["url"]
        body = dumps(payload(ctx, step))
        delivery = self._sender.send(
            url,
            body,
            delivery_id=f"{ctx.run.id}.{index}",
            secret=secret,
            timeout=float(step.get("timeout", 10)),
            retries=int(step.get("retries", 3)),
        )
        return delivery.as_dict()

    def _decrypt(self, token: str) -> str:
        try:
            return self._box.decrypt(token)
        except SqlgateError:
            raise StepFailed(
                "secret_error",
                "The webhook's stored URL or secret cannot be decrypted with the configured "
                "secret keys; list the key it was written with in SQLGATE_PREVIOUS_SECRET_KEYS, "
                "or send the url and secret again",
            ) from None

    def _email(self, ctx: Context, index: int, step: dict[str, Any]) -> dict[str, Any]:
        summary = payload(ctx, {"format": "slack"})["text"]
        lines = [summary, ""]
        result = ctx.result
        if result is not None and result.rows and step.get("rows", 10):
            shown = result.rows[: step.get("rows", 10)]
            lines += ["\t".join(result.columns), *("\t".join(map(str, r)) for r in shown)]
            if len(shown) < result.row_count:
                lines.append(f"... {result.row_count - len(shown)} more rows")
            lines.append("")
        lines += [f"Export ({e['format']}): {e['url']}" for e in ctx.exports]
        lines.append(f"Run {ctx.run.id} of workflow {ctx.workflow.id}.")
        attachment = None
        if result is not None and step.get("attach", "csv") == "csv":
            attachment = (f"{_file_name(ctx.workflow.name)}.csv", as_csv(result))
        mail = Mail(
            to=list(step["to"]),
            subject=step.get("subject") or f"[sqlgate] {summary}"[:200],
            text="\n".join(lines),
            attachment=attachment,
        )
        delivery_id = f"{ctx.run.id}.{index}"
        return self._mailer.send(mail, delivery_id=delivery_id, retries=step.get("retries", 2))

    def _export(self, ctx: Context, index: int, step: dict[str, Any]) -> dict[str, Any]:
        assert ctx.result is not None
        spec = JobSpec(
            ctx.result.sql,
            ctx.result.params or None,
            format=step["format"],
            idempotency_key=f"{ctx.run.id}.{index}",
            action=WORKFLOW_EXPORT,
        )
        job = self._jobs.submit(ctx.principal, ctx.result.connection_id, spec).job
        export = {"job_id": job.id, "format": step["format"], "url": f"/v1/jobs/{job.id}"}
        ctx.exports.append(export)
        return export


def as_csv(result: Result) -> bytes:
    """The rows the query step returned, as CSV (a header line, then the rows)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(result.columns)
    writer.writerows(["" if v is None else v for v in row] for row in result.rows)
    return out.getvalue().encode()


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")[:60] or "result"


def payload(ctx: Context, step: dict[str, Any]) -> dict[str, Any]:
    """A webhook's body: the workflow and run, a summary of the last result with up to
    ``rows`` rows, the exports' links, and ``text`` (what a Slack-compatible receiver shows).
    ``format: slack`` sends only ``text``."""
    wf, result = ctx.workflow, ctx.result
    text = f"Workflow {wf.name!r}"
    summary: dict[str, Any] | None = None
    if result is not None:
        text += f": {result.row_count} row{'s' if result.row_count != 1 else ''}"
        if result.rows and result.columns:
            first = ", ".join(
                f"{c}={v}" for c, v in zip(result.columns, result.rows[0], strict=False)
            )
            text += f" (first: {first})"
        summary = {
            "columns": result.columns,
            "rows": result.rows[: step.get("rows", 10)],
            "row_count": result.row_count,
            "truncated": result.truncated,
        }
    if step.get("format") == "slack":
        return {"text": text}
    return {
        "workflow_id": wf.id,
        "workflow_name": wf.name,
        "run_id": ctx.run.id,
        "trigger": ctx.run.trigger,
        "scheduled_for": ctx.run.scheduled_for,
        "sent_at": datetime.now(UTC),
        "result": summary,
        "exports": ctx.exports,
        "text": text,
    }
