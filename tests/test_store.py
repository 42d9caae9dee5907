"""The metadata store: migrations on SQLite and PostgreSQL, init, keys, auth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select

from sqlgate.app import create_app
from sqlgate.auth.principal import authenticate
from sqlgate.auth.scopes import Scope
from sqlgate.container import Services
from sqlgate.errors import AuthenticationError, ValidationError
from sqlgate.services import orgs
from sqlgate.store.models import ApiKey
from tests.conftest import build_corpus_duckdb, make_settings
from tests.services import fresh_pg_database

TABLES = {"organizations", "members", "api_keys", "connections", "audit_events", "alembic_version"}


def exercise(services: Services) -> None:
    """Init an org, issue keys, authenticate, register a connection, run and audit a query."""
    first = orgs.init_organization(services.store, name="Acme Corp", owner_email="o@acme.test")
    assert first.created and first.key is not None
    assert first.org_slug == "acme-corp"
    again = orgs.init_organization(services.store, name="Other", owner_email="x@y.z")
    assert not again.created and again.org_id == first.org_id and again.key is None

    principal = authenticate(services.store, first.key.api_key)
    assert principal.org_id == first.org_id and Scope.ADMIN in principal.scopes

    # Stored hashed: the secret appears nowhere in the store.
    with services.store.session() as session:
        stored = session.scalars(select(ApiKey)).all()
    assert all(first.key.api_key not in (k.key_hash, k.prefix) for k in stored)
    assert stored[0].prefix.startswith("sqg_")

    limited = orgs.create_key(
        services.store, first.org_id, name="ro", scopes={Scope.QUERY_VALIDATE}
    )
    assert authenticate(services.store, limited.api_key).scopes == {Scope.QUERY_VALIDATE}

    expired = orgs.create_key(
        services.store,
        first.org_id,
        name="old",
        expires_at=datetime.now(UTC) - timedelta(seconds=1),
    )
    with pytest.raises(AuthenticationError):
        authenticate(services.store, expired.api_key)

    path = build_corpus_duckdb(services.settings.data_dir / "databases" / "c.duckdb")
    info = services.connections.create(first.org_id, name="c", type="duckdb", database=str(path))
    assert info.is_default


def test_sqlite_store(tmp_path: Path) -> None:
    services = Services.build(make_settings(tmp_path))
    try:
        assert set(inspect(services.store.engine).get_table_names()) >= TABLES
        exercise(services)
        services.store.migrate()  # idempotent
    finally:
        services.close()
    assert (tmp_path / "sqlgate.db").exists()
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_postgres_store(tmp_path: Path) -> None:
    with fresh_pg_database() as url:
        settings = make_settings(tmp_path, database_url=url)
        app = create_app(settings)
        services: Services = app.state.services
        try:
            assert set(inspect(services.store.engine).get_table_names()) >= TABLES
            exercise(services)
            org = orgs.first_organization(services.store)
            assert org is not None
            key = orgs.create_key(services.store, org.id, name="k").api_key
            with TestClient(app) as client:
                r = client.post(
                    "/api/v1/query/c",
                    json={"query": "SELECT count(*) AS n FROM users"},
                    headers={"X-API-Key": key},
                )
                assert r.status_code == 200, r.text
                assert r.json()["rows"] == [[4]]
        finally:
            services.close()


def test_scopes_cannot_exceed_role(tmp_path: Path) -> None:
    services = Services.build(make_settings(tmp_path))
    try:
        init = orgs.init_organization(services.store, name="A", owner_email="a@a.test")
        from sqlgate.store.models import Member, new_id

        with services.store.session() as session:
            session.add(
                Member(id=new_id("mem"), org_id=init.org_id, email="v@a.test", role="viewer")
            )
        with pytest.raises(ValidationError):
            orgs.create_key(
                services.store, init.org_id, name="x", member_email="v@a.test", scopes={Scope.ADMIN}
            )
        key = orgs.create_key(services.store, init.org_id, name="x", member_email="v@a.test")
        assert authenticate(services.store, key.api_key).scopes == {
            Scope.QUERY_VALIDATE,
            Scope.CONNECTIONS_READ,
            Scope.TEAM_READ,
        }
    finally:
        services.close()


def test_secret_key_persists(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    first = settings.resolved_secret_key()
    assert first == make_settings(tmp_path).resolved_secret_key()
    assert len(first) > 40
