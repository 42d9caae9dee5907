"""SQLite rows are read one reader at a time in a process (Python's sqlite3 hands the
interpreter lock over at every row, and readers side by side made each row a hand-over between
threads); readers side by side still get every row of their own answer, and one that waits
longer than a moment for another goes ahead beside it, so a long read holds nobody up."""

from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from sqlgate.engines import sqlite as sqlite_engine
from sqlgate.engines.sqlite import SQLiteEngine

ROWS = 3000


@pytest.fixture(scope="module")
def lite(tmp_path_factory: pytest.TempPathFactory) -> SQLiteEngine:
    path = tmp_path_factory.mktemp("readers") / "loaves.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE loaf (id INTEGER PRIMARY KEY, name TEXT, grams INTEGER)")
        db.executemany(
            "INSERT INTO loaf VALUES (?, ?, ?)",
            [(i, f"loaf {i}", 400 + i % 7) for i in range(ROWS)],
        )
    return SQLiteEngine(path)


def _ids(engine: SQLiteEngine, offset: int) -> list[int]:
    sql = f"SELECT id FROM loaf WHERE id >= {offset} ORDER BY id LIMIT 1000"
    result = engine.execute(sql, None, timeout=30, row_limit=1000)
    return [row["id"] for row in result.table.to_pylist()]


def test_readers_side_by_side_each_get_their_own_rows(lite: SQLiteEngine) -> None:
    offsets = [i * 100 for i in range(16)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda o: _ids(lite, o), offsets))
    for offset, ids in zip(offsets, answers, strict=True):
        assert ids == list(range(offset, offset + 1000))


def test_a_reader_goes_ahead_when_another_holds_the_rows_long(lite: SQLiteEngine) -> None:
    # Another read holding the rows for far longer than a moment (a large export's batch).
    assert sqlite_engine._READING.acquire(timeout=5)
    try:
        started = time.monotonic()
        ids = _ids(lite, 0)
        waited = time.monotonic() - started
    finally:
        sqlite_engine._READING.release()
    assert ids == list(range(1000))
    assert waited < 5  # went ahead instead of waiting for the holder to let go


def test_rows_are_read_under_the_lock_when_it_is_free(lite: SQLiteEngine) -> None:
    held: list[bool] = []
    fetchmany = sqlite3.Cursor.fetchmany

    class Watching(sqlite3.Cursor):
        def fetchmany(self, size: int = 1) -> list[object]:  # type: ignore[override]
            held.append(sqlite_engine._READING.locked())
            return fetchmany(self, size)

    fetch = sqlite_engine._one_reader(
        sqlite3.connect(":memory:", check_same_thread=False).cursor(Watching)
    )
    thread = threading.Thread(target=fetch, args=(5,))
    thread.start()
    thread.join()
    assert held == [True]
