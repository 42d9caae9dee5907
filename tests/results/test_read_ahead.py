"""Batches read by a thread ahead of their writer: in order, errors where they would have been,
and a source that is closed (once, on the reading thread) when the writer stops early."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from sqlgate.errors import QueryTimeout
from sqlgate.results.read_ahead import READ_AHEAD, map_ahead, read_ahead


class Source:
    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.n, self.fail_at = n, fail_at
        self.pulled = 0
        self.closed_on: list[str] = []

    def __iter__(self) -> Iterator[int]:
        try:
            for i in range(self.n):
                if i == self.fail_at:
                    raise QueryTimeout("stopped", timeout=1)
                self.pulled += 1
                yield i
        finally:
            self.closed_on.append(threading.current_thread().name)


def test_items_come_in_order_and_the_source_ends_on_the_reading_thread() -> None:
    source = Source(100)
    assert list(read_ahead(source)) == list(range(100))
    assert source.closed_on == ["sqlgate-read-ahead"]


def test_an_error_raises_after_the_items_before_it() -> None:
    source = Source(10, fail_at=4)
    got = []
    with pytest.raises(QueryTimeout):  # noqa: PT012 - raised mid-iteration
        for item in read_ahead(source):
            got.append(item)
    assert got == [0, 1, 2, 3]


def test_stopping_early_closes_the_source_and_reads_only_a_few_ahead() -> None:
    source = Source(1_000_000)
    items = read_ahead(source)
    assert next(items) == 0
    items.close()  # the writer stops (the client went away)
    assert source.closed_on == ["sqlgate-read-ahead"]  # closed, and waited for
    assert source.pulled <= 1 + READ_AHEAD + 1


# --- map_ahead: a function applied ahead, on the encoder threads, results in order ----------


def _slow_square(x: int) -> int:
    # Later items finish first: the order handed on must still be the items' order.
    threading.Event().wait(0.002 * (x % 3))
    return x * x


def test_mapped_results_come_in_order_and_are_computed_on_the_encoder_threads() -> None:
    names: set[str] = set()

    def square(x: int) -> int:
        names.add(threading.current_thread().name)
        return _slow_square(x)

    assert list(map_ahead(square, range(50))) == [x * x for x in range(50)]
    assert names and all(name.startswith("sqlgate-encode") for name in names)


def test_a_function_error_raises_at_its_items_turn() -> None:
    def fragile(x: int) -> int:
        if x == 5:
            raise QueryTimeout("stopped", timeout=1)
        return x

    got = []
    with pytest.raises(QueryTimeout):  # noqa: PT012 - raised mid-iteration
        for item in map_ahead(fragile, range(10)):
            got.append(item)
    assert got == [0, 1, 2, 3, 4]


def test_a_source_error_raises_after_the_items_read_before_it() -> None:
    got = []
    with pytest.raises(QueryTimeout):  # noqa: PT012 - raised mid-iteration
        for item in map_ahead(_slow_square, Source(10, fail_at=6)):
            got.append(item)
    assert got == [x * x for x in range(6)]


def test_stopping_early_pulls_only_a_few_items_ahead() -> None:
    source = Source(1_000_000)
    results = map_ahead(_slow_square, source, depth=2)
    assert next(results) == 0
    results.close()
    assert source.pulled <= 1 + 2 + 1
