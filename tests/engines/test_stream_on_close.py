"""ResultStream.on_close: what the query service hangs on a stream (the concurrency slot, the
audit row) runs once, after the engine session is released, even when releasing it fails."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pytest

from sqlgate.engines.base import ResultStream


def _stream(close: Callable[[], None]) -> ResultStream:
    batch = pa.record_batch({"x": [1, 2, 3]})
    return ResultStream([], batch.schema, iter([batch]), close)


def test_callbacks_run_once_in_order_after_the_session_closes() -> None:
    calls: list[str] = []
    stream = _stream(lambda: calls.append("session"))
    stream.on_close(lambda: calls.append("slot"))
    stream.on_close(lambda: calls.append(f"audit {stream.rows}"))
    assert sum(b.num_rows for b in stream) == 3  # iterating to the end closes
    stream.close()
    assert calls == ["session", "slot", "audit 3"]


def test_callbacks_run_when_the_session_close_fails() -> None:
    calls: list[str] = []

    def fail() -> None:
        raise RuntimeError("connection lost")

    stream = _stream(fail)
    stream.on_close(lambda: calls.append("slot"))
    with pytest.raises(RuntimeError):
        stream.close()
    assert calls == ["slot"]
    stream.close()
    assert calls == ["slot"]
