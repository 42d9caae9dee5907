"""Parts of the execute fast path (api/fastpath.py).

Its thread pool (``Threads``): a call runs off the event loop in the caller's context, its
result or its error comes back to the awaiting task, a call cancelled before it started does
not run, and no more threads start than allowed. Its OpenTelemetry check: asked again once a
second."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from sqlgate.api.fastpath import Threads

WHO: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")


def test_result_error_and_context() -> None:
    pool = Threads(2, "test-pool")

    def where(suffix: str) -> tuple[str, str]:
        return WHO.get() + suffix, threading.current_thread().name

    def fails() -> None:
        raise LookupError("from the thread")

    async def main() -> None:
        WHO.set("caller")
        value, thread = await pool.run(where, "!")
        assert value == "caller!"
        assert thread.startswith("test-pool") and thread != threading.current_thread().name
        with pytest.raises(LookupError, match="from the thread"):
            await pool.run(fails)

    asyncio.run(main())


def test_a_cancelled_call_does_not_run_and_threads_are_capped() -> None:
    pool = Threads(2, "test-capped")
    release = threading.Event()
    ran: list[int] = []
    busy: set[str] = set()

    def hold(n: int) -> int:
        busy.add(threading.current_thread().name)
        release.wait(10)
        ran.append(n)
        return n

    async def main() -> None:
        first = [pool.run(hold, n) for n in range(4)]
        late = pool.run(hold, 99)
        late.cancel()  # still queued behind the others: never runs
        await asyncio.sleep(0.2)
        assert len(busy) == 2  # two threads at most, the other calls wait their turn
        release.set()
        assert await asyncio.gather(*first) == [0, 1, 2, 3]
        await asyncio.sleep(0.1)
        assert 99 not in ran and late.cancelled()

    asyncio.run(main())


def test_telemetry_is_asked_again_once_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whether FastAPI's OpenTelemetry instrumentation is on is reused for a second, then
    asked again: a provider configured while the server runs is seen."""
    from sqlgate.api import fastpath

    class Telemetry:
        on = False
        asked = 0

        def enabled(self) -> bool:
            self.asked += 1
            return self.on

    app = fastpath.App()
    telemetry = Telemetry()
    monkeypatch.setattr(app, "_native_telemetry", telemetry)
    clock = [1000.0]
    monkeypatch.setattr(fastpath.time, "monotonic", lambda: clock[0])
    assert app._instrumented() is False
    telemetry.on = True
    clock[0] += fastpath.TELEMETRY_RECHECK / 2
    assert app._instrumented() is False and telemetry.asked == 1
    clock[0] += fastpath.TELEMETRY_RECHECK
    assert app._instrumented() is True and telemetry.asked == 2
