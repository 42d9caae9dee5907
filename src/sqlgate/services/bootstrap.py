"""First-run setup shared by the CLI: the demo connection."""

from __future__ import annotations

from pathlib import Path

from sqlgate.errors import NotFound
from sqlgate.services.connections import ConnectionInfo, ConnectionService

DEMO_CONNECTION = "demo"


def demo_database_path(data_dir: Path) -> Path:
    return data_dir / "demo" / "demo.duckdb"


def ensure_demo_connection(
    connections: ConnectionService, data_dir: Path, org_id: str
) -> ConnectionInfo | None:
    """Register the generated demo database as connection ``demo`` of ``org_id``, if the demo
    database exists and the org has no connection of that name yet."""
    path = demo_database_path(data_dir)
    if not path.is_file():
        return None
    try:
        return connections.get(org_id, DEMO_CONNECTION)
    except NotFound:
        return connections.create(
            org_id, name=DEMO_CONNECTION, type="duckdb", database=str(path), trusted_path=True
        )
