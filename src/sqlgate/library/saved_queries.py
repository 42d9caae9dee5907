"""Saved questions (seed 002 `/v1/queries`): every ask, with the SQL it became and its outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from sqlgate.errors import NotFound
from sqlgate.store.db import Store
from sqlgate.store.models import SavedQuery, new_id
from sqlgate.store.pages import read_page


@dataclass(frozen=True)
class SavedInfo:
    id: str
    question: str
    sql: str | None
    status: str
    error_code: str | None
    explanation: str | None
    connection_id: str
    member_id: str
    columns: list[str]
    row_count: int | None
    execution_time_ms: float | None
    thread_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class SavedPage:
    items: list[SavedInfo]
    next_cursor: str | None


def _info(row: SavedQuery) -> SavedInfo:
    return SavedInfo(
        id=row.id,
        question=row.question,
        sql=row.sql,
        status=row.status,
        error_code=row.error_code,
        explanation=row.explanation,
        connection_id=row.connection_id,
        member_id=row.member_id,
        columns=list((row.columns or {}).get("names", [])),
        row_count=row.row_count,
        execution_time_ms=row.execution_time_ms,
        thread_id=row.thread_id,
        created_at=row.created_at,
    )


class SavedQueries:
    def __init__(self, store: Store) -> None:
        self._store = store

    def save(
        self,
        *,
        org_id: str,
        member_id: str,
        connection_id: str,
        question: str,
        sql: str | None,
        status: str,
        error_code: str | None = None,
        explanation: str | None = None,
        columns: list[str] | None = None,
        row_count: int | None = None,
        execution_time_ms: float | None = None,
        thread_id: str | None = None,
    ) -> SavedInfo:
        row = SavedQuery(
            id=new_id("q"),
            org_id=org_id,
            member_id=member_id,
            connection_id=connection_id,
            question=question,
            sql=sql,
            status=status,
            error_code=error_code,
            explanation=explanation,
            columns={"names": columns or []},
            row_count=row_count,
            execution_time_ms=execution_time_ms,
            thread_id=thread_id,
        )
        with self._store.session() as session:
            session.add(row)
            session.flush()
            return _info(row)

    def page(self, org_id: str, *, limit: int, cursor: str | None) -> SavedPage:
        query = select(SavedQuery).where(SavedQuery.org_id == org_id)
        page, next_cursor = read_page(
            self._store, query, SavedQuery.created_at, SavedQuery.id, cursor=cursor, limit=limit
        )
        return SavedPage([_info(r) for r in page], next_cursor)

    def get(self, org_id: str, query_id: str) -> SavedInfo:
        with self._store.session() as session:
            row = session.get(SavedQuery, query_id)
            if row is None or row.org_id != org_id:
                raise NotFound(f"Query {query_id!r} not found")
            return _info(row)

    def delete(self, org_id: str, query_id: str) -> None:
        with self._store.session() as session:
            done = session.execute(
                delete(SavedQuery).where(SavedQuery.id == query_id, SavedQuery.org_id == org_id)
            )
            if done.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound(f"Query {query_id!r} not found")
