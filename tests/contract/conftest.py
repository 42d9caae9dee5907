"""One app for the contract suite and a `backend` fixture that registers Chinook on each engine
through the public API, as a client would."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from tests.conftest import CHINOOK_SQLITE, Env, open_env
from tests.contract.chinook import (
    ServerLogin,
    build_duckdb,
    chinook_mysql,
    chinook_postgres,
    postgres_names,
    reference,
    translate,
)

BACKENDS = [
    "duckdb",
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgres),
    "mysql",
]


@dataclass
class Backend:
    """A Chinook connection on one engine, and how to speak to it."""

    kind: str
    connection: str
    client: TestClient
    headers: dict[str, str]
    names: dict[str, str] = field(default_factory=dict)  # PascalCase → this engine's name

    def sql(self, query: str) -> str:
        """``query``, written with Chinook's PascalCase names, in this engine's names."""
        return translate(query, self.names)

    def name(self, identifier: str) -> str:
        return self.names.get(identifier, identifier)

    def param(self, name: str) -> str:
        """A named placeholder as this engine spells it (README: `$name` in DuckDB)."""
        return f"${name}" if self.kind == "duckdb" else f":{name}"

    def post(self, route: str, query: str, **body: Any) -> httpx2.Response:
        """POST ``query`` (translated) to ``/api/v1/query/{connection}{route}``."""
        return self.client.post(
            f"/api/v1/query/{self.connection}{route}",
            json={"query": self.sql(query), **body},
            headers=self.headers,
        )

    def run(self, query: str, **body: Any) -> dict[str, Any]:
        response = self.post("", query, **body)
        assert response.status_code == 200, f"{self.kind}: {response.text}"
        data: dict[str, Any] = response.json()
        return data


@pytest.fixture(scope="session")
def contract_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield from open_env(tmp_path_factory.mktemp("contract"))


@pytest.fixture(scope="session")
def chinook_duckdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once per session, then copied into the app's data root."""
    return build_duckdb(tmp_path_factory.mktemp("chinook") / "chinook.duckdb")


@pytest.fixture(scope="session")
def ref() -> Iterator[sqlite3.Connection]:
    """The shipped SQLite file, read directly: the expected answers."""
    con = reference()
    yield con
    con.close()


@contextmanager
def _file_copy(kind: str, source: Path, env: Env) -> Iterator[dict[str, Any]]:
    target = env.settings.roots[0] / f"chinook.{kind}"
    shutil.copyfile(source, target)
    yield {"type": kind, "database": target.name}


@contextmanager
def _server(loaded: AbstractContextManager[ServerLogin]) -> Iterator[dict[str, Any]]:
    with loaded as login:
        yield login.connection_body()


def _database(
    kind: str, request: pytest.FixtureRequest, env: Env
) -> AbstractContextManager[dict[str, Any]]:
    """The Chinook database for ``kind``, as the body fields that register it."""
    if kind == "duckdb":
        return _file_copy(kind, request.getfixturevalue("chinook_duckdb"), env)
    if kind == "sqlite":
        return _file_copy(kind, CHINOOK_SQLITE, env)
    return _server(chinook_postgres() if kind == "postgresql" else chinook_mysql())


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest, contract_env: Env) -> Iterator[Backend]:
    kind: str = request.param
    env = contract_env
    name = f"chinook_{kind}"
    headers = env.org.headers()
    with _database(kind, request, env) as body:
        created = env.client.post("/v1/connections", json={**body, "name": name}, headers=headers)
        assert created.status_code == 201, f"{kind}: {created.text}"
        try:
            names = postgres_names() if kind == "postgresql" else {}
            yield Backend(kind, name, env.client, headers, names)
        finally:
            env.client.delete(f"/v1/connections/{name}", headers=headers)
