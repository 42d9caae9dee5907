"""Scopes a key can carry, and the scopes each member role grants."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    QUERY_EXECUTE = "query:execute"
    QUERY_VALIDATE = "query:validate"
    CONNECTIONS_READ = "connections:read"
    CONNECTIONS_WRITE = "connections:write"
    TEAM_READ = "team:read"
    ADMIN = "admin"


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    EDITOR = "editor"
    VIEWER = "viewer"


ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.OWNER: frozenset(Scope),
    Role.ADMIN: frozenset(Scope),
    Role.EDITOR: frozenset(
        {Scope.QUERY_EXECUTE, Scope.QUERY_VALIDATE, Scope.CONNECTIONS_READ, Scope.TEAM_READ}
    ),
    Role.VIEWER: frozenset({Scope.QUERY_VALIDATE, Scope.CONNECTIONS_READ, Scope.TEAM_READ}),
}

#: Higher ranks may do everything lower ones may; nobody grants a role above their own.
ROLE_RANK: dict[Role, int] = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2, Role.OWNER: 3}


def at_most(role: Role, ceiling: Role) -> bool:
    """Whether ``role`` is no higher than ``ceiling``."""
    return ROLE_RANK[role] <= ROLE_RANK[ceiling]


def parse_scopes(text: str) -> frozenset[Scope]:
    """Scopes stored space-separated; unknown names (from a newer version) are ignored."""
    known = {s.value for s in Scope}
    return frozenset(Scope(s) for s in text.split() if s in known)


def format_scopes(scopes: frozenset[Scope] | set[Scope]) -> str:
    return " ".join(sorted(s.value for s in scopes))
