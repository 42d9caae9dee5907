"""The warehouse fixture, once per engine per session (see tests/policy/warehouse.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from tests.policy.warehouse import Warehouse, build_file, open_warehouse, statements
from tests.services import PG_ADMIN_URL, fresh_pg_database

ENGINES = ("duckdb", "sqlite", "postgres")


def _pg(stack: ExitStack, copy: bool) -> dict[str, object]:
    import psycopg

    url = stack.enter_context(fresh_pg_database())
    with psycopg.connect(url, autocommit=True) as con:
        for sql in statements(copy):
            con.execute(sql)
    host = PG_ADMIN_URL.split("@", 1)[1].split("/", 1)[0].split(":", 1)[0]
    return {
        "type": "postgresql",
        "host": host,
        "port": 5432,
        "username": "postgres",
        "database": url.rsplit("/", 1)[1],
    }


@pytest.fixture(scope="session", params=ENGINES)
def house(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Warehouse]:
    engine = request.param
    data_dir = tmp_path_factory.mktemp(f"policy-{engine}")
    with ExitStack() as stack:
        if engine == "postgres":
            shared, copy = _pg(stack, False), _pg(stack, True)
        else:
            suffix = "duckdb" if engine == "duckdb" else "sqlite"
            files = data_dir / "files"
            files.mkdir()
            specs = []
            for name, is_copy in (("shared", False), ("copy", True)):
                path = files / f"{name}.{suffix}"
                build_file(engine, path, is_copy)
                specs.append({"type": engine, "database": str(path)})
            shared, copy = specs
        with open_warehouse(engine, data_dir / "app", shared, copy) as warehouse:
            yield warehouse
