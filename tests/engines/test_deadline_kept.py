"""The deadline holds even when an engine does not stop, and a result cut short by its row
limit is not computed to its end behind the client's back."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from sqlgate.engines._runner import GRACE
from sqlgate.engines.base import Engine, Query, Started
from sqlgate.engines.duckdb import DuckDBEngine
from sqlgate.errors import QueryTimeout, ServiceUnavailable
from sqlgate.vocabulary.schema import DatabaseSchema


class _Stubborn(Engine):
    """An engine whose statement ignores its interrupt until the test lets it go."""

    type = "stubborn"
    summary = "a test engine"
    dialect = "duckdb"
    location = "file"
    parameter_style = "$name"

    def __init__(self) -> None:
        super().__init__()
        self.go = threading.Event()
        self.interrupted = threading.Event()
        self.released: list[bool] = []  # query.failed at release

    @classmethod
    def from_spec(cls, spec, settings):  # type: ignore[no-untyped-def, override]
        raise NotImplementedError

    def _start(self, query: Query) -> Started:
        query.hold(
            interrupt=self.interrupted.set,
            release=lambda: self.released.append(query.failed),
            translate=lambda exc: exc,
        )
        self.go.wait(30)
        batch = pa.record_batch({"x": [1]})
        return Started([], batch.schema, iter([batch]))

    def _read_schema(self) -> DatabaseSchema:
        return DatabaseSchema(())

    def close(self) -> None:
        self.go.set()


@pytest.mark.parametrize("how", ["execute", "stream"])
def test_the_caller_gets_the_timeout_on_time_and_the_session_is_discarded(how: str) -> None:
    engine = _Stubborn()
    started = time.monotonic()
    run = engine.execute if how == "execute" else engine.stream
    with pytest.raises(QueryTimeout):
        run("SELECT 1", None, timeout=0.5, row_limit=10)
    waited = time.monotonic() - started
    assert 0.5 <= waited < 0.5 + GRACE + 0.3
    assert engine.interrupted.is_set()
    assert engine.released == []  # still unwinding: nothing handed back yet
    engine.go.set()
    for _ in range(100):
        if engine.released:
            break
        time.sleep(0.02)
    assert engine.released == [True]  # released as failed: closed, not pooled


def test_a_query_that_ends_in_time_is_answered_as_usual() -> None:
    engine = _Stubborn()
    engine.go.set()
    result = engine.execute("SELECT 1", None, timeout=2, row_limit=10)
    assert result.row_count == 1
    assert engine.released == [False]


def test_queries_still_unwinding_are_capped_per_engine() -> None:
    """Each query left running past its deadline may hold memory the engine cannot cap; at two
    the engine takes no new query until one ends."""
    engine = _Stubborn()
    for _ in range(2):
        with pytest.raises(QueryTimeout):
            engine.execute("SELECT 1", None, timeout=0.2, row_limit=10)
    with pytest.raises(ServiceUnavailable, match="still stopping 2 earlier queries") as caught:
        engine.execute("SELECT 1", None, timeout=0.2, row_limit=10)
    assert caught.value.status == 503 and caught.value.headers["Retry-After"] == "1"
    engine.go.set()
    for _ in range(100):
        if len(engine.released) == 2:
            break
        time.sleep(0.02)
    assert engine.execute("SELECT 1", None, timeout=2, row_limit=10).row_count == 1


@pytest.fixture
def duck(tmp_path: Path) -> DuckDBEngine:
    path = tmp_path / "d.duckdb"
    duckdb.connect(str(path)).close()
    return DuckDBEngine(path)


def test_a_recursive_cte_cut_at_the_row_limit_answers_at_once(duck: DuckDBEngine) -> None:
    """DuckDB computes a result to its end when its reader is dropped unless it is interrupted
    first: the client waited seconds for ten rows that took milliseconds."""
    sql = (
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 100000000) "
        "SELECT n FROM t"
    )
    for _ in range(3):
        started = time.monotonic()
        result = duck.execute(sql, None, timeout=2, row_limit=10)
        elapsed = time.monotonic() - started
        assert result.row_count == 10 and result.truncated
        assert elapsed < 1.0, elapsed
    stream = duck.stream(sql, None, timeout=2, row_limit=10)
    assert sum(batch.num_rows for batch in stream) == 10
    started = time.monotonic()
    stream.close()
    assert time.monotonic() - started < 0.5
