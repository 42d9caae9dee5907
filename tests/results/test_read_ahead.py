"""Batches read by a thread ahead of their writer: in order, errors where they would have been,
and a source that is closed (once, on the reading thread) when the writer stops early."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from sqlgate.errors import QueryTimeout
from sqlgate.results.read_ahead import READ_AHEAD, read_ahead


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
