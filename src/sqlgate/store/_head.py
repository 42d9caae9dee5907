"""Whether the metadata store is at the newest migration, told without importing Alembic.

Alembic (with Mako, which it loads) stays about 10 MB resident in a process that imported it,
and a server only needs it when there is a migration to apply. The newest revision is read from
the migration files' ``revision = "..."`` and ``down_revision = "..."`` lines; when any file
does not read plainly that way, or the revisions do not form one chain, nothing is assumed and
Alembic decides, as it does for a store that is behind.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

_ASSIGNED = r"^{name}(?:\s*:[^=\n]*)?\s*=\s*(?:\"([^\"\n]*)\"|'([^'\n]*)'|(None))\s*$"
_REVISION = re.compile(_ASSIGNED.format(name="revision"), re.MULTILINE)
_DOWN = re.compile(_ASSIGNED.format(name="down_revision"), re.MULTILINE)


def _assigned(pattern: re.Pattern[str], source: str) -> tuple[bool, str | None]:
    """Whether ``source`` has exactly one plain assignment matching ``pattern``, and the string
    (or None) it assigns."""
    found = pattern.findall(source)
    if len(found) != 1:
        return False, None
    double, single, none = found[0]
    return True, None if none else (double or single)


def newest_revision(versions: Path) -> str | None:
    """The one revision no other revision revises, or None when that cannot be told plainly."""
    revisions: dict[str, str | None] = {}
    for path in sorted(versions.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        (plain, revision), (plain_down, down) = (
            _assigned(_REVISION, source),
            _assigned(_DOWN, source),
        )
        if not (plain and plain_down and revision) or revision in revisions:
            return None
        revisions[revision] = down
    revised = set(revisions.values())
    heads = [r for r in revisions if r not in revised]
    roots = [r for r, down in revisions.items() if down is None]
    chained = all(down is None or down in revisions for down in revisions.values())
    if len(heads) != 1 or len(roots) != 1 or not chained:
        return None
    return heads[0]


def at_newest(engine: Engine, versions: Path) -> bool:
    """Whether the store's recorded revision is the newest one (False when unsure)."""
    newest = newest_revision(versions)
    if newest is None:
        return False
    try:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except SQLAlchemyError:  # no such table yet: a new store
        return False
    return stored == [newest]
