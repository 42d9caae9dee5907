"""A store at the newest migration is told so without Alembic, from the migration files; when
they do not read plainly, or the store is behind or new, Alembic decides (SQLite, PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from sqlgate.store._head import at_newest, newest_revision
from sqlgate.store.db import MIGRATIONS, Store
from tests.test_migrations import _upgrade
from tests.test_migrations import store as store  # the same SQLite and PostgreSQL stores

VERSIONS = MIGRATIONS / "versions"


def test_the_newest_revision_is_alembics_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert newest_revision(VERSIONS) == ScriptDirectory.from_config(config).get_current_head()


def _revisions(folder: Path, *sources: str) -> Path:
    for i, source in enumerate(sources):
        (folder / f"{i:04d}_step.py").write_text(source)
    return folder


def test_annotated_and_single_quoted_assignments_read(tmp_path: Path) -> None:
    folder = _revisions(
        tmp_path,
        'revision: str = "a1"\ndown_revision: str | None = None\n',
        "revision = 'b2'\ndown_revision = 'a1'\n",
    )
    assert newest_revision(folder) == "b2"


@pytest.mark.parametrize(
    "sources",
    [
        # a revision assigned in a way not read plainly
        ('revision = "a1"\ndown_revision = None\n', 'revision = make()\ndown_revision = "a1"\n'),
        # two heads
        (
            'revision = "a1"\ndown_revision = None\n',
            'revision = "b2"\ndown_revision = "a1"\n',
            'revision = "c3"\ndown_revision = "a1"\n',
        ),
        # a merge revision (a tuple), or one that revises something not there
        ('revision = "a1"\ndown_revision = None\n', 'revision = "b2"\ndown_revision = ("a1",)\n'),
        ('revision = "a1"\ndown_revision = None\n', 'revision = "b2"\ndown_revision = "zz"\n'),
        # the same revision twice
        ('revision = "a1"\ndown_revision = None\n', 'revision = "a1"\ndown_revision = None\n'),
    ],
)
def test_unclear_files_leave_it_to_alembic(tmp_path: Path, sources: tuple[str, ...]) -> None:
    assert newest_revision(_revisions(tmp_path, *sources)) is None


def _stored(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def test_a_new_store_is_migrated(store: Store) -> None:
    assert not at_newest(store.engine, VERSIONS)
    store.migrate()
    assert _stored(store) == [newest_revision(VERSIONS)]
    assert at_newest(store.engine, VERSIONS)


def test_a_store_behind_is_brought_to_the_newest_revision(store: Store) -> None:
    _upgrade(store, "0009")
    assert not at_newest(store.engine, VERSIONS)
    store.migrate()
    assert _stored(store) == [newest_revision(VERSIONS)]
    with store.engine.connect() as conn:  # the last revision's table is there
        conn.execute(text("SELECT count(*) FROM access_policies")).scalar_one()
