"""Shared fixtures: real DuckDB and SQLite files, a real metadata store, an org and its keys."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from sqlgate.app import create_app
from sqlgate.container import Services
from sqlgate.services import orgs
from sqlgate.settings import Settings


def _find_shared() -> Path:
    """The shared folder (security corpus, Chinook data): $SQLGATE_SHARED, else the nearest
    `shared/` beside an ancestor of this checkout, else the workplace's /work/shared."""
    override = os.environ.get("SQLGATE_SHARED")
    if override:
        return Path(override)
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "security" / "corpus.jsonl").is_file():
            return parent / "shared"
    return Path("/work/shared")


SHARED = _find_shared()
CORPUS = Path(os.environ.get("SQLGATE_CORPUS", SHARED / "security" / "corpus.jsonl"))
CHINOOK_SQLITE = SHARED / "data" / "chinook" / "Chinook_Sqlite.sqlite"


def corpus_cases(*engines: str) -> list[dict[str, str]]:
    cases = [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]
    return [c for c in cases if c["engine"] in engines]


# The tables the corpus assumes (shared/security/README.md). `users` also gets the columns
# "drop" and "select" so the allowed case `SELECT "drop", "select" FROM users AS "update"` runs.
CORPUS_DDL = """
CREATE TABLE users (id INTEGER PRIMARY KEY, org_id INTEGER NOT NULL, name TEXT, email TEXT,
    pw_hash TEXT, created_at TIMESTAMP, "drop" TEXT, "select" TEXT);
CREATE TABLE orders (id INTEGER PRIMARY KEY, org_id INTEGER, user_id INTEGER, amount NUMERIC(10,2),
    total NUMERIC(10,2), note TEXT, created_at TIMESTAMP);
CREATE TABLE events (id INTEGER, payload JSON);
CREATE TABLE "insert" ("drop" TEXT, "delete" TEXT, "update" TEXT);
CREATE TABLE "update" ("drop" TEXT, "select" TEXT);
"""
CORPUS_ROWS = """
INSERT INTO users VALUES
 (1, 1, 'Ada', 'ada@example.com', 'h1', '2024-01-02 10:00:00', 'd1', 's1'),
 (2, 1, 'O''Brien; DROP TABLE users', 'ob@example.com', 'h2', '2024-02-03 11:00:00', NULL, NULL),
 (3, 2, 'alan', 'alan@example.com', 'h3', '2024-03-04 12:00:00', NULL, NULL),
 (4, 2, '=HYPERLINK("http://evil")', 'x@example.com', 'h4', '2024-04-05 13:00:00', NULL, NULL);
INSERT INTO orders VALUES
 (1, 1, 1, 120.50, 120.50, 'first; order', '2024-01-10 09:00:00'),
 (2, 1, 1, 15.25, 15.25, NULL, '2024-02-11 09:30:00'),
 (3, 2, 3, 300.00, 310.00, '-5 discount', '2024-03-12 10:00:00');
INSERT INTO events VALUES (1, '{"a": 1}');
INSERT INTO "insert" VALUES ('a', 'b', 'c');
INSERT INTO "update" VALUES ('x', 'y');
"""


def build_corpus_duckdb(path: Path) -> Path:
    con = duckdb.connect(str(path))
    con.execute(CORPUS_DDL)
    con.execute(CORPUS_ROWS)
    con.close()
    return path


def build_corpus_sqlite(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.executescript(CORPUS_DDL + CORPUS_ROWS)
    con.commit()
    con.close()
    return path


@dataclass
class Org:
    """A ready organization: its id and an owner key, plus helpers to call the API."""

    id: str
    slug: str
    key: str
    services: Services

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}

    def key_with(self, *scopes: str) -> str:
        from sqlgate.auth.scopes import Scope

        issued = orgs.create_key(
            self.services.store, self.id, name="test", scopes={Scope(s) for s in scopes}
        )
        return issued.api_key


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    base: dict[str, object] = {
        "data_dir": data_dir,
        "rate_limits": {
            "query": "100000/minute",
            "admin_sql": "100000/minute",
            "default": "100000/minute",
        },
    }
    base.update(overrides)
    return Settings(**base)  # type: ignore[arg-type]


@dataclass
class Env:
    client: TestClient
    org: Org
    settings: Settings


def open_env(data_dir: Path, **overrides: object) -> Iterator[Env]:
    settings = make_settings(data_dir, **overrides)
    settings.ensure_data_dir()
    dbs = settings.data_dir / "databases"
    build_corpus_duckdb(dbs / "corpus.duckdb")
    build_corpus_sqlite(dbs / "corpus.sqlite")
    app = create_app(settings)
    services: Services = app.state.services
    init = orgs.init_organization(services.store, name="Acme", owner_email="owner@acme.test")
    assert init.key is not None
    org = Org(init.org_id, init.org_slug, init.key.api_key, services)
    services.connections.create(org.id, name="duck", type="duckdb", database="corpus.duckdb")
    services.connections.create(org.id, name="lite", type="sqlite", database="corpus.sqlite")
    services.connections.create(
        org.id, name="chinook", type="sqlite", database=str(CHINOOK_SQLITE), trusted_path=True
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Env(client, org, settings)


@pytest.fixture(scope="session")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """One app for the many tests that do not change settings."""
    yield from open_env(tmp_path_factory.mktemp("sqlgate"))


@pytest.fixture
def client(env: Env) -> TestClient:
    return env.client


@pytest.fixture
def org(env: Env) -> Org:
    return env.org
