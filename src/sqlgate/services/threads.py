"""Conversation threads: the recent turns that give a follow-up question its context."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from sqlgate.auth.principal import Principal
from sqlgate.errors import NotFound, ValidationError
from sqlgate.store.db import Store
from sqlgate.store.models import NlThread, NlTurn

HISTORY_TURNS = 5


@dataclass(frozen=True)
class Turn:
    question: str
    standalone: str | None
    sql: str | None


class Threads:
    def __init__(self, store: Store) -> None:
        self._store = store

    def open(self, principal: Principal, connection_id: str, thread_id: str | None) -> str:
        """The thread to add the next turn to: ``thread_id`` if it is the caller's
        organization's (else 404), or a new one."""
        if thread_id is None:
            new = str(uuid.uuid4())
            with self._store.session() as session:
                session.add(
                    NlThread(
                        id=new,
                        org_id=principal.org_id,
                        member_id=principal.member_id,
                        connection_id=connection_id,
                    )
                )
            return new
        if len(thread_id) > 40:
            raise ValidationError("threadId is at most 40 characters", field="threadId")
        with self._store.session() as session:
            row = session.get(NlThread, thread_id)
        if row is None or row.org_id != principal.org_id:
            raise NotFound(f"Thread {thread_id!r} not found")
        return row.id

    def history(self, thread_id: str, *, turns: int = HISTORY_TURNS) -> list[Turn]:
        """The last ``turns`` turns, oldest first."""
        query = (
            select(NlTurn)
            .where(NlTurn.thread_id == thread_id)
            .order_by(NlTurn.id.desc())
            .limit(turns)
        )
        with self._store.session() as session:
            rows = list(session.scalars(query))
        return [Turn(r.question, r.standalone, r.sql) for r in reversed(rows)]

    def append(self, thread_id: str, turn: Turn) -> None:
        with self._store.session() as session:
            session.add(
                NlTurn(
                    thread_id=thread_id,
                    question=turn.question,
                    standalone=turn.standalone,
                    sql=turn.sql,
                )
            )
