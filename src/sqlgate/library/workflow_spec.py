"""What a workflow body may say, checked whole: every problem is reported with its path
(``steps.2.url``) in one 422, and nothing is written unless all of it is valid.

A workflow is a name, a description, ``enabled``, a ``trigger`` (``manual``, or ``schedule``
with a cron expression read by cronsim and an IANA ``timezone``) and ordered ``steps``:
``query``, ``condition``, ``webhook``, ``email`` and ``export``. This module only reads plain
data; what a ``query_id`` or ``connection_id`` names is asked of the caller through the
dashboards' :class:`~sqlgate.library.dashboard_spec.Lookups`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import SplitResult, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from sqlgate.errors import ValidationError
from sqlgate.library.dashboard_spec import Lookups
from sqlgate.results.formats import ASYNC_DEFAULT, ASYNC_FORMATS

MAX_STEPS = 20
MAX_WEBHOOK_ROWS = 100
DEFAULT_WEBHOOK_ROWS = 10
MAX_RETRIES = 5
DEFAULT_RETRIES = 3
MAX_WEBHOOK_TIMEOUT = 30
DEFAULT_WEBHOOK_TIMEOUT = 10
MAX_CONDITION_DEPTH = 3
STEP_TYPES = ("query", "condition", "webhook", "email", "export")
MAX_RECIPIENTS = 20
ATTACH = ("csv", "none")
OPS = ("=", "!=", "<", "<=", ">", ">=")
WEBHOOK_FORMATS = ("json", "slack")

_TOP_KEYS = {"name", "description", "enabled", "trigger", "steps"}
_STEP_KEYS = {
    "query": {"type", "query_id", "sql", "connection_id", "params", "row_limit", "timeout"},
    "condition": {"type", "column", "op", "value", "rows", "row_count", "any", "all"},
    "webhook": {"type", "url", "secret", "format", "rows", "timeout", "retries"},
    "email": {"type", "to", "subject", "attach", "rows", "retries"},
    "export": {"type", "format"},
}
_ADDRESS = re.compile(r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")


@dataclass
class _Problems:
    items: list[dict[str, str]] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.items.append({"field": path, "message": message})

    def raise_any(self) -> None:
        if self.items:
            n = len(self.items)
            raise ValidationError(
                f"Invalid workflow: {n} problem{'s' if n > 1 else ''}", details=self.items
            )


def next_time(trigger: dict[str, Any], after: datetime) -> datetime | None:
    """The first scheduled time strictly after ``after`` (UTC), in the trigger's timezone as
    cron reads it (a time skipped by a DST change runs at the first valid moment after it, a
    repeated one once); None for a manual trigger."""
    if trigger.get("type") != "schedule":
        return None
    zone = ZoneInfo(trigger.get("timezone", "UTC"))
    local = after.astimezone(zone).replace(microsecond=0)
    return next(CronSim(trigger["cron"], local)).astimezone(UTC)


def validate(
    body: Any,
    lookups: Lookups,
    *,
    current: dict[str, Any] | None = None,
    host_refusal: Callable[[str], str | None] = lambda _host: None,
    email: bool = True,
) -> dict[str, Any]:
    """The workflow ``body`` describes (for a PATCH, ``current`` merged with it), as stored:
    ``{"name", "description", "enabled", "document": {"trigger", "steps"}}``. Webhook URLs
    and secrets stay in plain text here (``url``, ``secret``; ``current`` brings its webhooks'
    URLs decrypted); the service encrypts them. Raises one ValidationError listing every
    problem."""
    problems = _Problems()
    if not isinstance(body, dict):
        problems.add("body", "must be a JSON object")
        problems.raise_any()
    for key in sorted(set(body) - _TOP_KEYS):
        problems.add(key, "unknown field")
    base = current or {"name": None, "description": None, "enabled": True, "document": {}}
    doc = base["document"]
    name = body.get("name", base["name"])
    if ("name" in body or current is None) and (
        not isinstance(name, str) or not name.strip() or len(name) > 200
    ):
        problems.add("name", "required: a non-empty string of at most 200 characters")
    description = body.get("description", base["description"])
    if description is not None and (not isinstance(description, str) or len(description) > 5000):
        problems.add("description", "must be a string of at most 5000 characters, or null")
    enabled = body.get("enabled", base["enabled"])
    if not isinstance(enabled, bool):
        problems.add("enabled", "must be true or false")
    trigger = body.get("trigger", doc.get("trigger", {"type": "manual"}))
    if "trigger" in body:
        trigger = _trigger(problems, trigger)
    steps = body.get("steps", doc.get("steps"))
    if "steps" in body or current is None:
        steps = _steps(problems, steps, lookups, doc.get("steps") or [], host_refusal, email)
    problems.raise_any()
    return {
        "name": name.strip(),
        "description": description,
        "enabled": enabled,
        "document": {"trigger": trigger, "steps": steps},
    }


def _trigger(problems: _Problems, trigger: Any) -> dict[str, Any]:
    if not isinstance(trigger, dict):
        problems.add("trigger", 'must be {"type": "manual"} or {"type": "schedule", "cron": ...}')
        return {}
    kind = trigger.get("type")
    if kind == "manual":
        for key in sorted(set(trigger) - {"type"}):
            problems.add(f"trigger.{key}", "unknown field")
        return {"type": "manual"}
    if kind != "schedule":
        problems.add("trigger.type", 'must be "manual" or "schedule"')
        return {}
    for key in sorted(set(trigger) - {"type", "cron", "timezone"}):
        problems.add(f"trigger.{key}", "unknown field")
    zone_name = trigger.get("timezone", "UTC")
    zone = None
    try:
        if not isinstance(zone_name, str) or not zone_name or len(zone_name) > 64:
            raise ValueError(zone_name)
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        problems.add("trigger.timezone", "must be an IANA time zone name, like Europe/Berlin")
    cron = trigger.get("cron")
    if not isinstance(cron, str) or not cron.strip() or len(cron) > 200:
        problems.add("trigger.cron", 'required: a cron expression, like "0 8 * * 1-5"')
    else:
        cron = " ".join(cron.split())
        try:
            CronSim(cron, datetime.now(zone or UTC))
        except (CronSimError, ValueError) as exc:
            problems.add("trigger.cron", f"not a valid cron expression: {exc}")
    return {"type": "schedule", "cron": cron, "timezone": zone_name}


def _steps(
    problems: _Problems,
    steps: Any,
    lookups: Lookups,
    current: list[dict[str, Any]],
    host_refusal: Callable[[str], str | None],
    email: bool,
) -> list[dict[str, Any]]:
    if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_STEPS:
        problems.add("steps", f"required: a list of 1 to {MAX_STEPS} steps")
        return []
    out: list[dict[str, Any]] = []
    queried = False
    for i, step in enumerate(steps):
        path = f"steps.{i}"
        if not isinstance(step, dict):
            problems.add(path, "must be an object")
            continue
        kind = step.get("type")
        if kind not in STEP_TYPES:
            problems.add(f"{path}.type", f"must be one of {', '.join(STEP_TYPES)}")
            continue
        for key in sorted(set(step) - _STEP_KEYS[kind]):
            problems.add(f"{path}.{key}", "unknown field")
        if kind in ("condition", "export") and not queried:
            problems.add(path, f"a {kind} step needs a query step before it")
        if kind == "query":
            queried = True
            out.append(_query(problems, path, step, lookups))
        elif kind == "condition":
            out.append({"type": "condition", **_test(problems, path, step, 0)})
        elif kind == "webhook":
            old = current[i] if i < len(current) else {}
            out.append(_webhook(problems, path, step, old))
            host = (_url_parts(out[-1]["url"]) or urlsplit("")).hostname
            if host and (why := host_refusal(host)) is not None:
                problems.add(f"{path}.url", why)
        elif kind == "email":
            if not email:
                problems.add(path, "e-mail is not set up on this server (SQLGATE_SMTP_URL)")
            out.append(_email(problems, path, step))
        else:
            fmt = step.get("format", ASYNC_DEFAULT)
            if fmt not in ASYNC_FORMATS:
                problems.add(f"{path}.format", f"must be one of {', '.join(ASYNC_FORMATS)}")
            out.append({"type": "export", "format": fmt})
    return out


def _query(
    problems: _Problems, path: str, step: dict[str, Any], lookups: Lookups
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "query"}
    query_id, sql = step.get("query_id"), step.get("sql")
    if (query_id is None) == (sql is None):
        problems.add(path, "give either query_id or sql (with connection_id)")
    elif query_id is not None:
        if not isinstance(query_id, str) or len(query_id) > 40:
            problems.add(f"{path}.query_id", "must be a saved query id")
        elif (why := lookups.saved_query(query_id)) is not None:
            problems.add(f"{path}.query_id", why)
        else:
            out["query_id"] = query_id
    else:
        conn = step.get("connection_id")
        if conn is not None and not isinstance(conn, str):
            problems.add(f"{path}.connection_id", "must be a connection id or name")
        elif (why := lookups.connection(conn)) is not None:
            problems.add(f"{path}.connection_id", why)
        elif not isinstance(sql, str) or not sql.strip():
            problems.add(f"{path}.sql", "must be a non-empty SQL string")
        elif (why := lookups.sql(sql, conn)) is not None:
            problems.add(f"{path}.sql", why)
        else:
            out.update(sql=sql, connection_id=conn)
    params = step.get("params", {})
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        problems.add(f"{path}.params", "must be an object of parameter values by name")
    elif params:
        out["params"] = params
    for key, top in (("row_limit", 1_000_000), ("timeout", 3600)):
        value = step.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
            problems.add(f"{path}.{key}", f"must be a whole number from 1 to {top}")
        else:
            out[key] = value
    return out


def _test(problems: _Problems, path: str, test: Any, depth: int) -> dict[str, Any]:
    """One test: a column compared in ``rows`` ``any``/``all``, ``row_count``, or ``any``/``all``
    of a list of tests."""
    if not isinstance(test, dict):
        problems.add(path, "must be an object")
        return {}
    for group in ("any", "all"):
        if group in test:
            items = test[group]
            if depth >= MAX_CONDITION_DEPTH or not isinstance(items, list) or not items:
                problems.add(
                    f"{path}.{group}", "must be a non-empty list of tests (nested at most 3 deep)"
                )
                return {}
            return {
                group: [
                    _test(problems, f"{path}.{group}.{j}", t, depth + 1)
                    for j, t in enumerate(items)
                ]
            }
    if "row_count" in test:
        rc = test["row_count"]
        if not isinstance(rc, dict):
            problems.add(f"{path}.row_count", 'must be {"op": ">", "value": 0}')
            return {}
        return {"row_count": _compare(problems, f"{path}.row_count", rc, numeric=True)}
    column = test.get("column")
    if not isinstance(column, str) or not column:
        problems.add(
            f"{path}.column", "required: the result column to test (or row_count, any, all)"
        )
    rows = test.get("rows", "any")
    if rows not in ("any", "all"):
        problems.add(f"{path}.rows", 'must be "any" or "all"')
    return {"column": column, "rows": rows, **_compare(problems, path, test, numeric=False)}


def _compare(
    problems: _Problems, path: str, test: dict[str, Any], *, numeric: bool
) -> dict[str, Any]:
    op, value = test.get("op"), test.get("value")
    if op not in OPS:
        problems.add(f"{path}.op", f"must be one of {' '.join(OPS)}")
    if "value" not in test:
        problems.add(f"{path}.value", "required")
    elif numeric and (isinstance(value, bool) or not isinstance(value, int | float)):
        problems.add(f"{path}.value", "must be a number")
    elif not numeric and not isinstance(value, str | int | float | bool | type(None)):
        problems.add(f"{path}.value", "must be a string, number, boolean or null")
    elif value is None and op not in ("=", "!="):
        problems.add(f"{path}.op", 'null compares only with "=" or "!="')
    return {"op": op, "value": value}


def _webhook(
    problems: _Problems, path: str, step: dict[str, Any], old: dict[str, Any]
) -> dict[str, Any]:
    was = old if old.get("type") == "webhook" else {}
    # Write-only like the secret: a PATCH that sends no url keeps the step's current one.
    url = step.get("url") if "url" in step or not was.get("url") else was["url"]
    parts = _url_parts(url)
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        problems.add(f"{path}.url", "required: an http:// or https:// URL")
    elif parts.username or parts.password:
        problems.add(f"{path}.url", "must not carry a user name or password")
    out: dict[str, Any] = {"type": "webhook", "url": url}
    if "secret" in step:
        secret = step["secret"]
        if secret is not None and (not isinstance(secret, str) or not 1 <= len(secret) <= 500):
            problems.add(f"{path}.secret", "must be a string of 1 to 500 characters, or null")
        elif secret is not None:
            out["secret"] = secret
    elif was.get("url") == url and was.get("secret_enc"):
        out["secret_enc"] = was["secret_enc"]  # kept: a PATCH need not send it again
    fmt = step.get("format", "json")
    if fmt not in WEBHOOK_FORMATS:
        problems.add(f"{path}.format", 'must be "json" or "slack"')
    out["format"] = fmt
    for key, low, top, default in (
        ("rows", 0, MAX_WEBHOOK_ROWS, DEFAULT_WEBHOOK_ROWS),
        ("timeout", 1, MAX_WEBHOOK_TIMEOUT, DEFAULT_WEBHOOK_TIMEOUT),
        ("retries", 0, MAX_RETRIES, DEFAULT_RETRIES),
    ):
        value = step.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= top:
            problems.add(f"{path}.{key}", f"must be a whole number from {low} to {top}")
        out[key] = value
    return out


def _url_parts(url: Any) -> SplitResult | None:
    """``url`` split, or None if it is not a string of at most 2000 characters that splits
    (an unclosed ``[``, a port that is not a number)."""
    if not isinstance(url, str) or len(url) > 2000:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        return None
    return parts


def url_origin(url: str) -> str:
    """What a webhook URL shows to readers: its scheme, host and port, never its path or query
    (a chat webhook's path is its credential)."""
    parts = _url_parts(url)
    if parts is None or not parts.hostname:
        return ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def shown_step(step: dict[str, Any]) -> dict[str, Any]:
    """A stored step as every reader sees it: a webhook's URL and secret are write-only, so
    it shows ``url_origin`` (scheme, host and port), ``url_set`` and ``secret_set`` instead."""
    if step.get("type") != "webhook":
        return step
    hidden = ("url", "url_enc", "secret_enc", "url_origin")
    out = {k: v for k, v in step.items() if k not in hidden}
    out["url_origin"] = step.get("url_origin") or url_origin(str(step.get("url") or ""))
    out["url_set"] = bool(step.get("url_enc") or step.get("url"))
    out["secret_set"] = bool(step.get("secret_enc"))
    return out


def _email(problems: _Problems, path: str, step: dict[str, Any]) -> dict[str, Any]:
    to = step.get("to")
    if isinstance(to, str):
        to = [to]
    if (
        not isinstance(to, list)
        or not 1 <= len(to) <= MAX_RECIPIENTS
        or not all(isinstance(a, str) and _ADDRESS.match(a) for a in to)
    ):
        problems.add(f"{path}.to", f"required: 1 to {MAX_RECIPIENTS} e-mail addresses")
    subject = step.get("subject")
    if subject is not None and (
        not isinstance(subject, str) or len(subject) > 200 or "\n" in subject or "\r" in subject
    ):
        problems.add(f"{path}.subject", "must be one line of at most 200 characters")
    attach = step.get("attach", "csv")
    if attach not in ATTACH:
        problems.add(f"{path}.attach", 'must be "csv" or "none"')
    out: dict[str, Any] = {"type": "email", "to": to, "subject": subject, "attach": attach}
    for key, top, default in (
        ("rows", MAX_WEBHOOK_ROWS, DEFAULT_WEBHOOK_ROWS),
        ("retries", MAX_RETRIES, 2),
    ):
        value = step.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
            problems.add(f"{path}.{key}", f"must be a whole number from 0 to {top}")
        out[key] = value
    return out
