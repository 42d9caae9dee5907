"""Conversation threads: the recent turns that give a follow-up question its context."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from sqlgate.auth.principal import Principal
from sqlgate.errors import ValidationError
from sqlgate.store.db import Store
from sqlgate.store.models import NlThread, NlTurn

HISTORY_TURNS = 5
#: The longest threadId a client may send.
MAX_THREAD_ID = 40


@dataclass(frozen=True)
class Turn:
    question: str
    standalone: str | None
    sql: str | None


@dataclass(frozen=True)
class Thread:
    """A conversation as the client names it (``key``, the threadId) and as it is stored
    (``row_id``, its own key: the same threadId in two organizations is two threads)."""

    key: str
    row_id: str


class Threads:
    """One rule for every surface that takes a ``threadId`` (``generate_sql``, ``run_sql``):
    none given starts a new thread under a new id; one given continues the organization's thread
    of that id, or starts one under it. Another organization's thread of the same id is never
    read: it is a different thread."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def open(self, principal: Principal, connection_id: str, thread_id: str | None) -> Thread:
        """The thread to add the next turn to, created if the organization has none by that id."""
        key = str(uuid.uuid4()) if thread_id is None else thread_id
        if not 0 < len(key) <= MAX_THREAD_ID:
            raise ValidationError(
                f"threadId must be 1-{MAX_THREAD_ID} characters", field="threadId"
            )
        found = self._find(principal.org_id, key)
        if found is not None:
            return found
        row_id = str(uuid.uuid4())
        try:
            with self._store.session() as session:
                session.add(
                    NlThread(
                        id=row_id,
                        thread_key=key,
                        org_id=principal.org_id,
                        member_id=principal.member_id,
                        connection_id=connection_id,
                    )
                )
        except IntegrityError:  # another request started it first: continue that one
            found = self._find(principal.org_id, key)
            if found is None:
                raise
            return found
        return Thread(key, row_id)

    def _find(self, org_id: str, key: str) -> Thread | None:
        query = select(NlThread.id).where(NlThread.org_id == org_id, NlThread.thread_key == key)
        with self._store.session() as session:
            row_id = session.scalar(query)
        return None if row_id is None else Thread(key, row_id)

    def history(self, thread: Thread, *, turns: int = HISTORY_TURNS) -> list[Turn]:
        """The last ``turns`` turns, oldest first."""
        query = (
            select(NlTurn)
            .where(NlTurn.thread_id == thread.row_id)
            .order_by(NlTurn.id.desc())
            .limit(turns)
        )
        with self._store.session() as session:
            rows = list(session.scalars(query))
        return [Turn(r.question, r.standalone, r.sql) for r in reversed(rows)]

    def append(self, thread: Thread, turn: Turn) -> None:
        with self._store.session() as session:
            session.add(
                NlTurn(
                    thread_id=thread.row_id,
                    question=turn.question,
                    standalone=turn.standalone,
                    sql=turn.sql,
                )
            )
