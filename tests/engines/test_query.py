"""The scaffolding every engine's queries share (Engine.stream and Query), on a scripted engine."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pytest

from sqlgate.engines.base import Engine, Query, Started, columns_from_schema
from sqlgate.errors import QueryError, QueryTimeout, SqlNotAllowed
from sqlgate.vocabulary.schema import DatabaseSchema

SCHEMA = pa.schema([pa.field("x", pa.int64())])


def batch(*values: int) -> pa.RecordBatch:
    return pa.record_batch([pa.array(values, pa.int64())], schema=SCHEMA)


class ScriptedEngine(Engine):
    """Runs whatever ``run`` says on a pretend session, and records what happened to it."""

    def __init__(self, run: Callable[[Query, threading.Event], Iterator[pa.RecordBatch]]) -> None:
        super().__init__()
        self.run = run
        self.events: list[Any] = []
        self.interrupted = threading.Event()

    def _start(self, query: Query) -> Started:
        def interrupt() -> None:
            self.events.append("interrupt")
            self.interrupted.set()

        def release() -> None:
            self.events.append(("release", query.failed, query.deadline.expired))

        query.hold(
            interrupt=interrupt,
            release=release,
            translate=lambda exc: QueryError(f"driver said: {exc}"),
        )
        return Started(columns_from_schema(SCHEMA), SCHEMA, self.run(query, self.interrupted))

    @classmethod
    def from_spec(cls, spec: Any, settings: Any) -> ScriptedEngine:
        raise NotImplementedError

    def _read_schema(self) -> DatabaseSchema:
        return DatabaseSchema(())

    def close(self) -> None:
        pass


def test_rows_then_one_release() -> None:
    def run(query: Query, interrupted: threading.Event) -> Iterator[pa.RecordBatch]:
        yield batch(1, 2)
        yield batch(3)

    engine = ScriptedEngine(run)
    stream = engine.stream("SELECT x", None, timeout=5, row_limit=None)
    assert sum(b.num_rows for b in stream) == 3
    stream.close()
    assert engine.events == [("release", False, False)]


def test_a_driver_error_before_the_first_batch_raises_translated_and_releases() -> None:
    def run(query: Query, interrupted: threading.Event) -> Iterator[pa.RecordBatch]:
        raise RuntimeError("no such table")
        yield batch()  # pragma: no cover

    engine = ScriptedEngine(run)
    with pytest.raises(QueryError, match="driver said: no such table"):
        engine.stream("SELECT x", None, timeout=5, row_limit=None)
    assert engine.events == [("release", True, False)]


def test_a_driver_error_while_reading_is_translated_and_marks_the_session() -> None:
    def run(query: Query, interrupted: threading.Event) -> Iterator[pa.RecordBatch]:
        yield batch(1)
        raise RuntimeError("disk read error")

    engine = ScriptedEngine(run)
    stream = engine.stream("SELECT x", None, timeout=5, row_limit=None)
    with pytest.raises(QueryError, match="driver said: disk read error"):
        list(stream)
    assert engine.events == [("release", True, False)]


def test_domain_errors_pass_unchanged() -> None:
    refused = SqlNotAllowed("no", reason="not_read_only")

    def run(query: Query, interrupted: threading.Event) -> Iterator[pa.RecordBatch]:
        raise refused
        yield batch()  # pragma: no cover

    with pytest.raises(SqlNotAllowed) as caught:
        ScriptedEngine(run).stream("SELECT x", None, timeout=5, row_limit=None)
    assert caught.value is refused


def test_after_the_deadline_fires_any_error_is_the_timeout() -> None:
    def run(query: Query, interrupted: threading.Event) -> Iterator[pa.RecordBatch]:
        yield batch(1)
        assert interrupted.wait(10)
        raise RuntimeError("statement interrupted")

    engine = ScriptedEngine(run)
    stream = engine.stream("SELECT x", None, timeout=0.05, row_limit=None)
    with pytest.raises(QueryTimeout, match=r"timeout of 0\.05 s"):
        list(stream)
    assert engine.events == ["interrupt", ("release", True, True)]


def test_a_result_that_came_back_after_the_interrupt_is_not_an_answer() -> None:
    def run(query: Query, interrupted: threading.Event) -> Iterator[pa.RecordBatch]:
        assert interrupted.wait(10)
        query.check()  # a killed MySQL SLEEP() returns normally
        yield batch(1)  # pragma: no cover

    with pytest.raises(QueryTimeout):
        ScriptedEngine(run).stream("SELECT x", None, timeout=0.05, row_limit=None)


def test_a_session_taken_after_the_deadline_passed_is_given_back() -> None:
    query = Query("SELECT 1", timeout=0.01)
    query.start()  # counting the wait for a session, as PostgreSQL does
    threading.Event().wait(0.2)
    released: list[bool] = []
    with pytest.raises(QueryTimeout) as caught:
        query.hold(
            interrupt=lambda: None, release=lambda: released.append(True), translate=QueryError
        )
    failure = query.fail(caught.value)
    assert failure is caught.value and released == [True]
