"""Reaching the MySQL/MariaDB server the tests use, or skipping with a reason (as services.py).

Each database comes with its own non-root user holding ALL PRIVILEGES on that database only, the
way production credentials often can write: the engine's read-only session has to stop them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlgate.engines.base import ConnectionSpec
from tests.services import unavailable

MYSQL_ADMIN_URL = os.environ.get("SQLGATE_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306")
USER_HOSTS = ("127.0.0.1", "localhost")


def admin_options() -> dict[str, Any]:
    url = urlsplit(MYSQL_ADMIN_URL)
    return {
        "host": url.hostname or "127.0.0.1",
        "port": url.port or 3306,
        "user": unquote(url.username or "root"),
        "password": unquote(url.password or ""),
    }


@dataclass(frozen=True)
class MySQLDatabase:
    name: str
    user: str
    password: str = field(repr=False)
    host: str
    port: int

    def spec(self, **overrides: Any) -> ConnectionSpec:
        """A connection as the database's own (non-root) user."""
        values: dict[str, Any] = {
            "id": f"conn_{self.name}",
            "type": "mysql",
            "database": self.name,
            "updated_at": datetime.now(UTC),
            "host": self.host,
            "port": self.port,
            "username": self.user,
            "password": self.password,
        }
        values.update(overrides)
        return ConnectionSpec(**values)

    def admin(self) -> Any:
        """A root connection to the database (autocommit), for setup and for checking effects."""
        import pymysql

        return pymysql.connect(**admin_options(), database=self.name, autocommit=True)


def create_user(admin: Any, user: str, password: str, grant: str) -> None:
    """``user`` at every local host, granted ``grant`` (e.g. ``SELECT ON `db`.*``)."""
    with admin.cursor() as cursor:
        for host in USER_HOSTS:
            cursor.execute(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY %s", (password,))
            cursor.execute(f"GRANT {grant} TO '{user}'@'{host}'")


def drop_user(admin: Any, user: str) -> None:
    with admin.cursor() as cursor:
        for host in USER_HOSTS:
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'{host}'")


@contextmanager
def fresh_mysql_database() -> Iterator[MySQLDatabase]:
    """A new, empty database and its user; both dropped afterwards."""
    import pymysql

    suffix = secrets.token_hex(4)
    db = MySQLDatabase(
        name=f"sqlgate_test_{suffix}",
        user=f"sqlgate_t_{suffix}",
        password=secrets.token_urlsafe(18),
        host=admin_options()["host"],
        port=admin_options()["port"],
    )
    try:
        admin = pymysql.connect(**admin_options(), connect_timeout=3, autocommit=True)
    except pymysql.MySQLError as exc:
        unavailable("MySQL/MariaDB", exc)
        raise
    with admin:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{db.name}`")
        try:
            # `_` is a wildcard in a grant's database name: escaped, the grant is this one only.
            grant = f"ALL PRIVILEGES ON `{escaped_name(db.name)}`.*"
            create_user(admin, db.user, db.password, grant)
            yield db
        finally:
            drop_user(admin, db.user)
            with admin.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{db.name}`")


def escaped_name(name: str) -> str:
    return name.replace("_", "\\_").replace("%", "\\%")
