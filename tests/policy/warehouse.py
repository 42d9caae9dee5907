"""One warehouse serving two tenants, on DuckDB, SQLite and PostgreSQL, and its reference copy.

The *shared* database holds tenant A's rows (org_id 1) and tenant B's (org_id 2), and a table no
policy lists. Every text column of B's rows (and of the unlisted table) carries the canary
``CANARY``, every number B alone has starts with 777, so a leak is visible in any answer. The
*copy* is a physically separate database holding exactly what tenant A may see under
:data:`POLICY`: A's rows, without the hidden columns, with ``email`` already masked. A query
tenant A runs on the shared connection must either be refused or answer as the copy does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from fastapi.testclient import TestClient

from sqlgate.app import create_app
from sqlgate.container import Services
from sqlgate.services import orgs
from tests.conftest import make_settings

CANARY = "CANARY"
B_NUMBER = "777"

POLICY = """
tables:
  orders:
    tenant: {column: org_id, attribute: tenant_id}
    columns: {note: hide}
  users:
    tenant: {column: org_id, attribute: tenant_id}
    columns: {pw_hash: hide, email: {mask: "'***'"}}
default: deny
"""

SHARED_DDL = [
    "CREATE TABLE orders (id INTEGER, org_id INTEGER, customer TEXT, amount INTEGER, note TEXT)",
    "CREATE TABLE users (id INTEGER, org_id INTEGER, name TEXT, email TEXT, pw_hash TEXT)",
    "CREATE TABLE secrets (id INTEGER, org_id INTEGER, secret TEXT)",
]
A_ORDERS = [(1, 1, "alice", 10, "a-note"), (2, 1, "bob", 20, None), (3, 1, "carol", 30, "c")]
B_ORDERS = [(7771, 2, CANARY, 777001, CANARY), (7772, 2, CANARY, 777002, CANARY)]
A_USERS = [(1, 1, "alice", "alice@a.test", "hash-a"), (2, 1, "bob", "bob@a.test", "hash-b")]
B_USERS = [(7771, 2, CANARY, f"{CANARY}@b.test", CANARY)]
SECRETS = [(7779, 2, CANARY)]

COPY_DDL = [
    "CREATE TABLE orders (id INTEGER, org_id INTEGER, customer TEXT, amount INTEGER)",
    "CREATE TABLE users (id INTEGER, org_id INTEGER, name TEXT, email TEXT)",
]


def _inserts(copy: bool) -> list[tuple[str, list[tuple[Any, ...]]]]:
    if copy:
        return [
            ("orders", [r[:4] for r in A_ORDERS]),
            ("users", [(*r[:3], "***") for r in A_USERS]),
        ]
    return [
        ("orders", A_ORDERS + B_ORDERS),
        ("users", A_USERS + B_USERS),
        ("secrets", SECRETS),
    ]


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def statements(copy: bool) -> list[str]:
    out = list(COPY_DDL if copy else SHARED_DDL)
    for table, rows in _inserts(copy):
        values = ", ".join("(" + ", ".join(_literal(v) for v in row) + ")" for row in rows)
        out.append(f"INSERT INTO {table} VALUES {values}")
    return out


def build_file(engine: str, path: Path, copy: bool) -> None:
    if engine == "duckdb":
        con = duckdb.connect(str(path))
        for sql in statements(copy):
            con.execute(sql)
        con.close()
    else:
        lite = sqlite3.connect(path)
        for sql in statements(copy):
            lite.execute(sql)
        lite.commit()
        lite.close()


@dataclass
class Tenant:
    org_id: str
    key: str
    connection: str  # the shared warehouse, as this organization names it

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class Warehouse:
    engine: str
    client: TestClient
    services: Services
    a: Tenant
    b: Tenant
    nobody: Tenant  # an organization without a tenant_id attribute
    copy: str  # tenant A's connection to the reference copy (no policy)
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def run(self, tenant: Tenant, sql: str, connection: str | None = None) -> Any:
        return self.client.post(
            f"/api/v1/query/{connection or tenant.connection}",
            json={"query": sql},
            headers=tenant.headers(),
        )

    def deploy(self, text: str, *, tenants: tuple[Tenant, ...] | None = None) -> None:
        for tenant in tenants or (self.a, self.b, self.nobody):
            conn = self.services.connections.get(tenant.org_id, tenant.connection)
            self.services.policies.deploy(None, conn, text, "yaml")


def _connect(services: Services, org_id: str, name: str, spec: dict[str, Any]) -> str:
    return services.connections.create(org_id, name=name, trusted_path=True, **spec).id


@contextmanager
def open_warehouse(
    engine: str,
    data_dir: Path,
    shared: dict[str, Any],
    copy: dict[str, Any],
    **overrides: object,
) -> Iterator[Warehouse]:
    """An app whose three organizations reach ``shared`` under :data:`POLICY`; A also reaches
    ``copy`` (connection specs for ``connections.create``). ``overrides``: settings."""
    settings = make_settings(data_dir, **overrides)
    settings.ensure_data_dir()
    app = create_app(settings)
    services: Services = app.state.services
    tenants = []
    for name in ("tenant-a", "tenant-b", "tenant-c"):
        made = orgs.create_organization(services.store, name=name, owner_email=f"owner@{name}.test")
        assert made.key is not None
        conn = _connect(services, made.org_id, "warehouse", shared)
        tenants.append(Tenant(made.org_id, made.key.api_key, conn))
    a, b, nobody = tenants
    copy_id = _connect(services, a.org_id, "copy", copy)
    attributes = {a.org_id: {"tenant_id": 1}, b.org_id: {"tenant_id": 2}, nobody.org_id: {}}
    services.policies.attributes = lambda org, member: (attributes.get(org, {}), {})
    house = Warehouse(engine, None, services, a, b, nobody, copy_id, attributes)  # type: ignore[arg-type]
    house.deploy(POLICY)
    with TestClient(app, raise_server_exceptions=False) as client:
        house.client = client
        yield house
