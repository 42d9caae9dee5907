"""The operator's changes on a PostgreSQL metadata store: delete cascades through every table
that names the organization, and a suspension refuses its keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from sqlgate.auth.principal import authenticate
from sqlgate.container import Services
from sqlgate.errors import AuthenticationError, AuthorizationError
from sqlgate.jobs.service import JobSpec
from sqlgate.store.models import ApiKey, Base, Member
from tests.conftest import build_corpus_duckdb, make_settings
from tests.services import fresh_pg_database


def test_delete_and_suspend_on_postgresql(tmp_path: Path) -> None:
    with fresh_pg_database() as url:
        settings = make_settings(tmp_path, database_url=url)
        settings.ensure_data_dir()
        build_corpus_duckdb(settings.data_dir / "databases" / "corpus.duckdb")
        services = Services.build(settings)
        try:
            stay, stay_key = services.organizations.create("Stays", attrs={"tenant_id": 1})
            gone, gone_key = services.organizations.create("Goes", attrs={"tenant_id": 2})
            for org in (stay, gone):
                services.connections.create(
                    org.id, name="duck", type="duckdb", database="corpus.duckdb"
                )
            principal = authenticate(services.store, gone_key.api_key)
            job = services.jobs.submit(principal, "duck", JobSpec("SELECT 1 AS one")).job
            services.dashboards.create(gone.id, principal.member_id, {"name": "board"})

            services.organizations.suspend("goes")
            with pytest.raises(AuthorizationError):
                authenticate(services.store, gone_key.api_key)
            services.organizations.resume("goes")
            assert authenticate(services.store, gone_key.api_key).org_id == gone.id

            services.organizations.delete("goes")
            with pytest.raises(AuthenticationError):
                authenticate(services.store, gone_key.api_key)
            with services.store.session() as session:
                for table in Base.metadata.sorted_tables:
                    if "org_id" in table.c:
                        left = session.scalar(
                            select(func.count()).select_from(table).where(table.c.org_id == gone.id)
                        )
                        assert left == 0, table.name
                assert session.scalar(select(func.count()).select_from(Member)) == 2 - 1
                assert session.scalar(select(func.count()).select_from(ApiKey)) == 1
            assert services.jobs.peek(job.id) is None
            assert authenticate(services.store, stay_key.api_key).org_id == stay.id
            assert services.organizations.get("stays").attributes == {"tenant_id": 1}
        finally:
            services.close()
