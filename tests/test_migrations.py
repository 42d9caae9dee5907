"""Upgrading a store that holds data: every revision keeps what is there (SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from sqlgate.auth.keys import display_prefix, generate_key, hash_key
from sqlgate.auth.principal import Principal, authenticate
from sqlgate.auth.scopes import Role
from sqlgate.services import orgs
from sqlgate.services.threads import Threads
from sqlgate.store.db import MIGRATIONS, Store
from tests.services import fresh_pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'meta.db'}")
        yield s
        s.close()
        return
    with fresh_pg_database() as url:
        s = Store(url)
        try:
            yield s
        finally:
            s.close()


def _upgrade(store: Store, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def test_upgrading_from_0001_keeps_members_and_keys(store: Store) -> None:
    _upgrade(store, "0001")
    secret = generate_key()
    now = datetime.now(UTC)
    with store.engine.begin() as db:
        db.execute(
            text("INSERT INTO organizations (id, name, slug, created_at) "
                 "VALUES ('org_1', 'A', 'a', :now)"), {"now": now}
        )  # fmt: skip
        db.execute(
            text("INSERT INTO members (id, org_id, email, role, created_at) "
                 "VALUES ('mem_1', 'org_1', 'a@a.test', 'owner', :now)"), {"now": now}
        )  # fmt: skip
        db.execute(
            text("INSERT INTO api_keys (id, org_id, member_id, name, prefix, key_hash, scopes, "
                 "created_at) VALUES ('key_1', 'org_1', 'mem_1', 'k', :prefix, :hash, "
                 "'admin query:execute', :now)"),
            {"prefix": display_prefix(secret), "hash": hash_key(secret), "now": now},
        )  # fmt: skip
    store.migrate()  # to head
    principal = authenticate(store, secret)  # the key survived (no table rebuild cascaded)
    assert principal.member_id == "mem_1" and principal.role == "owner"
    with store.engine.connect() as db:
        row = db.execute(text("SELECT kind, status FROM members WHERE id = 'mem_1'")).one()
    assert tuple(row) == ("person", "active")


def test_upgrading_from_0005_keeps_threads_under_their_ids(store: Store) -> None:
    _upgrade(store, "0005")
    now = datetime.now(UTC)
    with store.engine.begin() as db:
        db.execute(
            text("INSERT INTO organizations (id, name, slug, created_at) "
                 "VALUES ('org_1', 'A', 'a', :now)"), {"now": now}
        )  # fmt: skip
        db.execute(
            text("INSERT INTO nl_threads (id, org_id, member_id, connection_id, created_at) "
                 "VALUES ('t-1', 'org_1', 'mem_1', 'con_1', :now)"), {"now": now}
        )  # fmt: skip
        db.execute(
            text("INSERT INTO nl_turns (thread_id, question, created_at) "
                 "VALUES ('t-1', 'How many tracks?', :now)"), {"now": now}
        )  # fmt: skip
    store.migrate()
    principal = Principal(
        key_id="key_1", org_id="org_1", org_slug="a", member_id="mem_1", role=Role.OWNER,
        scopes=frozenset(),
    )  # fmt: skip
    threads = Threads(store)
    thread = threads.open(principal, "con_1", "t-1")  # the same thread, its turn kept
    assert [t.question for t in threads.history(thread)] == ["How many tracks?"]


def test_upgrading_from_0008_keeps_orgs_members_and_connections(store: Store) -> None:
    _upgrade(store, "0008")
    now = datetime.now(UTC)
    with store.engine.begin() as db:
        db.execute(
            text("INSERT INTO organizations (id, name, slug, created_at) "
                 "VALUES ('org_1', 'A', 'a', :now)"), {"now": now}
        )  # fmt: skip
        db.execute(
            text("INSERT INTO members (id, org_id, email, role, created_at) "
                 "VALUES ('mem_1', 'org_1', 'a@a.test', 'owner', :now)"), {"now": now}
        )  # fmt: skip
        db.execute(
            text("INSERT INTO connections (id, org_id, name, type, database, created_at, "
                 "updated_at) VALUES ('conn_1', 'org_1', 'main', 'sqlite', '/x.db', :now, :now)"),
            {"now": now},
        )  # fmt: skip
        db.execute(
            text("INSERT INTO semantic_models (id, org_id, connection_id, version, format, "
                 "source, document, created_at) VALUES ('sm_1', 'org_1', 'conn_1', 1, 'yaml', "
                 "'x', '{}', :now)"), {"now": now}
        )  # fmt: skip
    store.migrate()
    with store.engine.connect() as db:
        org = db.execute(text("SELECT status FROM organizations WHERE id = 'org_1'")).one()
        shared = db.execute(text("SELECT shared FROM connections WHERE id = 'conn_1'")).one()
        models = db.execute(text("SELECT count(*) FROM semantic_models")).scalar()
    assert org.status == "active" and not shared.shared and models == 1
    assert orgs.attributes_for(store, "org_1", "mem_1") == ({}, {})
