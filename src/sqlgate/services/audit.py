"""The audit history: every query run and every change, written off the request path in small
batches.

Requests append an event to a deque and move on (no lock, no thread woken but the first time);
one background thread wakes on the first event, waits ``linger`` seconds for more to arrive,
then writes them all in a single transaction (one commit per batch, not per query).
``flush()`` and ``close()`` write everything recorded before them at once.

Changes (connections, semantic models, team, keys) are recorded the same way everywhere:
:func:`change` builds the row (who, what, which; never settings or secrets) and
:func:`audited` wraps a change so its outcome is recorded whether it succeeds or fails.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from sqlgate.errors import SqlgateError
from sqlgate.store.db import Store
from sqlgate.store.models import AuditEvent, utcnow

if TYPE_CHECKING:
    from sqlgate.auth.principal import Principal

log = logging.getLogger(__name__)
_STOP = object()


@dataclass
class AuditRecord:
    org_id: str
    action: str
    status: str
    member_id: str | None = None
    key_id: str | None = None
    connection_id: str | None = None
    sql: str | None = None
    error_code: str | None = None
    row_count: int | None = None
    duration_ms: float | None = None
    client: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    target_id: str | None = None
    detail: dict[str, Any] | None = None


_COLUMNS = tuple(f.name for f in fields(AuditRecord))
_TABLE = AuditEvent.__table__
_VALUES = attrgetter(*_COLUMNS)


class AuditLog:
    def __init__(self, store: Store, *, batch_size: int = 1000, linger: float = 0.2) -> None:
        self._store = store
        self._batch_size = batch_size
        self._linger = linger
        # Events, flush markers (Events) and _STOP, in order; deque appends are thread-safe.
        self._pending: deque[AuditRecord | object] = deque()
        self._wake = threading.Event()  # something is pending
        self._hurry = threading.Event()  # a flush or close is waiting: skip the linger
        self._thread = threading.Thread(target=self._run, name="sqlgate-audit", daemon=True)
        self._thread.start()

    def record(self, event: AuditRecord) -> None:
        self._pending.append(event)
        if not self._wake.is_set():
            self._wake.set()

    def flush(self) -> None:
        """Block until everything recorded so far is written."""
        done = threading.Event()
        self._urgent(done)
        done.wait(timeout=30)

    def close(self) -> None:
        self._urgent(_STOP)
        self._thread.join(timeout=30)

    def _urgent(self, marker: object) -> None:
        self._pending.append(marker)
        self._hurry.set()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._hurry.wait(self._linger)
            # Cleared before draining: whatever is appended after this is drained now or wakes
            # the next round.
            self._wake.clear()
            self._hurry.clear()
            if self._drain():
                return

    def _drain(self) -> bool:
        """Write everything pending, in batches; True once the stop marker was reached."""
        batch: list[AuditRecord] = []
        waiters: list[threading.Event] = []
        stop = False
        while self._pending and not stop:
            item = self._pending.popleft()
            if isinstance(item, AuditRecord):
                batch.append(item)
                if len(batch) >= self._batch_size:
                    self._write(batch)
                    batch = []
            elif isinstance(item, threading.Event):
                waiters.append(item)
            elif item is _STOP:
                stop = True
        self._write(batch)
        for waiter in waiters:
            waiter.set()
        return stop

    def _write(self, batch: list[AuditRecord]) -> None:
        if not batch:
            return
        try:
            # Plain rows in one executemany: the ORM's bulk path (and Core's per-row parameter
            # handling, on SQLite) add per-row work.
            self._store.insert_many(_TABLE, _COLUMNS, map(_VALUES, batch))
        except Exception:
            # The audit trail must never take the query path down with it; say so loudly.
            log.exception("could not write %d audit events", len(batch))


def change(
    actor: Principal | None,
    org_id: str,
    action: str,
    *,
    error: SqlgateError | None = None,
    connection_id: str | None = None,
    target_id: str | None = None,
    client: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditRecord:
    """The audit row for a change ``actor`` made (``None``: the operator at the command line):
    ``ok``, or ``error`` with the code of ``error``."""
    return AuditRecord(
        org_id=org_id,
        action=action,
        status="ok" if error is None else "error",
        member_id=actor.member_id if actor else None,
        key_id=actor.key_id if actor else None,
        connection_id=connection_id,
        error_code=error.code if error else None,
        client=client,
        target_id=target_id,
        detail=detail,
    )


@contextmanager
def audited(
    audit: AuditLog | None,
    actor: Principal | None,
    org_id: str,
    action: str,
    *,
    connection_id: str | None = None,
    target_id: str | None = None,
    client: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Record the change the ``with`` block makes, once it is over: ``ok``, or ``error`` with
    the code of the :class:`SqlgateError` that left the block (``internal_error`` for any
    other exception: a crash is never recorded as a success; either goes on up). The block
    may put what it made (a version number, say) into the dict it is given: that becomes the
    row's ``detail``. With no ``audit`` (some tests build services without one) nothing is
    recorded."""
    detail: dict[str, Any] = {}
    error: SqlgateError | None = None
    try:
        yield detail
    except SqlgateError as exc:
        error = exc
        raise
    except Exception:
        error = SqlgateError("internal error")
        raise
    finally:
        if audit is not None:
            audit.record(
                change(
                    actor,
                    org_id,
                    action,
                    error=error,
                    connection_id=connection_id,
                    target_id=target_id,
                    client=client,
                    detail=detail or None,
                )
            )
