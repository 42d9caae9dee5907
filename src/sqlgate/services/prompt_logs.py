"""Prompt logs (seed 004): every generation step's rendered prompt, downloadable as a zip.

Each step of turning a question into SQL records one log under a key such as
``2026-11-21/q_3f2a.../generate-1``: the system prompt (for the embedded engine, the rendered
context and its interpretation) and the history prompts. ``get_prompt_logs`` streams up to 1000
logs whose key starts with a prefix as ``{log_key}-system`` and ``{log_key}-history`` (history
prompts separated by ``---``); a log the caller may not read becomes ``{log_key}-error``.

A log may be read by members whose role is at least the role of the member who asked (an admin
does not read an owner's prompts).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Role, at_most
from sqlgate.errors import Conflict, ValidationError
from sqlgate.nl.prompts import PromptRecord
from sqlgate.store.db import Store
from sqlgate.store.models import PromptLog

MAX_LOGS = 1000
HISTORY_SEPARATOR = "\n---\n"
_MAX_KEY = 200


class PromptLogs:
    def __init__(self, store: Store) -> None:
        self._store = store

    def record(self, principal: Principal, record: PromptRecord) -> None:
        if not 0 < len(record.log_key) <= _MAX_KEY:
            raise ValueError(f"log keys are 1-{_MAX_KEY} characters: {record.log_key!r}")
        try:
            with self._store.session() as session:
                session.add(
                    PromptLog(
                        org_id=principal.org_id,
                        log_key=record.log_key,
                        member_id=principal.member_id,
                        member_role=principal.role.value,
                        system=record.system,
                        history={"prompts": record.history},
                    )
                )
        except IntegrityError as exc:
            raise Conflict(f"A prompt log {record.log_key!r} already exists") from exc

    def zip_stream(self, principal: Principal, prefix: str) -> Iterator[bytes]:
        """The zip, in pieces as it is written (nothing is held but the current log). Logs are
        read up front (at most 1000 rows) so a bad prefix fails before the first byte."""
        if not 0 < len(prefix) <= _MAX_KEY:
            raise ValidationError(
                f"prompt_log_prefix must be 1-{_MAX_KEY} characters", field="prompt_log_prefix"
            )
        query = (
            select(PromptLog)
            .where(
                PromptLog.org_id == principal.org_id,
                PromptLog.log_key.startswith(prefix, autoescape=True),
            )
            .order_by(PromptLog.log_key)
            .limit(MAX_LOGS)
        )
        with self._store.session() as session:
            logs = list(session.scalars(query))
        return _zip(principal, logs)


def _zip(principal: Principal, logs: list[PromptLog]) -> Iterator[bytes]:
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for log in logs:
            if not at_most(Role(log.member_role), principal.role):
                archive.writestr(
                    f"{log.log_key}-error",
                    f"Permission denied: this prompt log belongs to a {log.member_role}'s "
                    f"question, and a {principal.role} may not read it.\n",
                )
            else:
                archive.writestr(f"{log.log_key}-system", log.system)
                prompts = (log.history or {}).get("prompts") or []
                if prompts:
                    archive.writestr(f"{log.log_key}-history", HISTORY_SEPARATOR.join(prompts))
            yield sink.take()
    yield sink.take()


class _Sink:
    """A write-only, unseekable file for ``zipfile``: it writes data descriptors instead of
    seeking back, so the archive can leave as it is made."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out
