"""Dashboards (seed 002 ``/v1/dashboards``) as a use case: create, change and delete them
(checked whole, see :mod:`sqlgate.library.dashboard_spec`), show them with every widget's
current data (:mod:`sqlgate.library.dashboard_data`), and share them read-only through signed,
expiring, revocable links."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Role, Scope
from sqlgate.errors import AuthorizationError, NotFound, SqlgateError, ValidationError
from sqlgate.library.dashboard_data import WidgetRunner
from sqlgate.library.dashboard_filters import bind
from sqlgate.library.dashboard_spec import Lookups, validate
from sqlgate.library.dashboard_store import (
    DashboardInfo,
    DashboardPage,
    DashboardStore,
    ShareInfo,
)
from sqlgate.library.saved_queries import SavedQueries
from sqlgate.results.signing import LinkSigner
from sqlgate.services.connections import ConnectionService
from sqlgate.services.query import analyze_sql
from sqlgate.settings import Settings
from sqlgate.sql.guard import refusal

SHARE_PURPOSE = b"sqlgate shared dashboard links v1"
SHARE_PREFIX = "/v1/shared/dashboards"
SHARE_DEFAULT_SECONDS = 7 * 24 * 3600
SHARE_MAX_SECONDS = 90 * 24 * 3600


@dataclass(frozen=True)
class Shown:
    """A dashboard and, unless not asked for, each query widget's ``data`` or ``error``."""

    dashboard: DashboardInfo
    results: dict[str, dict[str, Any]] | None


@dataclass(frozen=True)
class SharedLink:
    share: ShareInfo
    url: str  # relative: /v1/shared/dashboards/{id}?expires=...&signature=...


class DashboardService:
    def __init__(
        self,
        settings: Settings,
        store: DashboardStore,
        saved: SavedQueries,
        connections: ConnectionService,
        runner: WidgetRunner,
        admit: Callable[[Principal], None] | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._saved = saved
        self._connections = connections
        self._runner = runner
        #: Counts a shared link's request in the `query` rate-limit group (per link).
        self._admit = admit
        self._signer = LinkSigner(settings.resolved_secret_key(), SHARE_PURPOSE)

    # --- the documented API ----------------------------------------------------------------------

    def create(self, org_id: str, member_id: str, body: Any) -> DashboardInfo:
        fields = validate(body, self.lookups(org_id))
        return self._store.create(org_id, member_id, fields)

    def page(self, org_id: str, *, limit: int, cursor: str | None) -> DashboardPage:
        return self._store.page(org_id, limit=limit, cursor=cursor)

    def get(self, org_id: str, dashboard_id: str) -> DashboardInfo:
        return self._store.get(org_id, dashboard_id)

    def update(self, principal: Principal, dashboard_id: str, body: Any) -> DashboardInfo:
        """Rename, describe, replace the widgets (a widget keeps its ``widget_id`` when the
        body gives it back; one left out is removed) or the filters. All or nothing."""
        current = self._store.get(principal.org_id, dashboard_id)
        fields = validate(body, self.lookups(principal.org_id), current=current.stored())
        return self._store.replace(principal.org_id, dashboard_id, fields)

    def delete(self, principal: Principal, dashboard_id: str) -> None:
        """Editors delete their own dashboards; admins anyone's."""
        current = self._store.get(principal.org_id, dashboard_id)
        if current.member_id != principal.member_id and Scope.ADMIN not in principal.scopes:
            raise AuthorizationError("Only its author or an admin may delete a dashboard")
        self._store.delete(principal.org_id, dashboard_id)

    def show(
        self,
        principal: Principal,
        dashboard_id: str,
        filters: Mapping[str, Any],
        *,
        refresh: bool = False,
        data: bool = True,
    ) -> Shown:
        """The dashboard with its widgets' current data, run as ``principal``."""
        dashboard = self._store.get(principal.org_id, dashboard_id)
        params = bind(dashboard.filters, filters)
        if not data:
            return Shown(dashboard, None)
        results = self._runner.run_all(
            principal,
            dashboard.widgets,
            params,
            default_ttl=dashboard.refresh_interval,
            refresh=refresh,
        )
        return Shown(dashboard, results)

    # --- shared links ----------------------------------------------------------------------------

    def share(
        self, principal: Principal, dashboard_id: str, seconds: int | None = None
    ) -> SharedLink:
        seconds = SHARE_DEFAULT_SECONDS if seconds is None else seconds
        if not 1 <= seconds <= SHARE_MAX_SECONDS:
            raise ValidationError(
                f"expires_in must be from 1 to {SHARE_MAX_SECONDS} seconds", field="expires_in"
            )
        expires = (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0)
        share = self._store.add_share(principal.org_id, dashboard_id, principal.member_id, expires)
        return SharedLink(share, self._url(share))

    def shares(self, org_id: str, dashboard_id: str) -> list[SharedLink]:
        return [SharedLink(s, self._url(s)) for s in self._store.shares(org_id, dashboard_id)]

    def revoke(self, org_id: str, dashboard_id: str, share_id: str) -> ShareInfo:
        return self._store.revoke_share(org_id, dashboard_id, share_id)

    def shared(
        self,
        share_id: str,
        expires: int | None,
        signature: str | None,
        filters: Mapping[str, Any],
        *,
        refresh: bool = False,
    ) -> Shown:
        """What a shared link shows, run as the member who created it. A forged, expired or
        revoked link is a 403 that says which."""
        if expires is None or not signature:
            raise AuthorizationError("This shared link is not valid (missing signature)")
        if not self._signer.verify(share_id, "dashboard", expires, signature):
            raise AuthorizationError("This shared link is not valid (wrong signature)")
        share = self._store.share(share_id)
        if share is None or int(share.expires_at.timestamp()) != expires:
            raise NotFound("This shared link no longer exists")
        if share.revoked_at is not None:
            raise AuthorizationError("This shared link has been revoked", reason="revoked")
        if share.expires_at <= datetime.now(UTC):
            raise AuthorizationError("This shared link has expired", reason="expired")
        sharer = self._store.sharer(share.org_id, share.member_id)
        if sharer is None:
            raise AuthorizationError("This shared link is no longer valid", reason="revoked")
        principal = Principal(
            org_id=share.org_id,
            org_slug=sharer.org_slug,
            member_id=share.member_id,
            role=Role(sharer.role),
            key_id=share.id,
            scopes=frozenset(),
        )
        if self._admit is not None:
            self._admit(principal)
        return self.show(principal, share.dashboard_id, filters, refresh=refresh)

    def _url(self, share: ShareInfo) -> str:
        expires = int(share.expires_at.timestamp())
        signature = self._signer.signature(share.id, "dashboard", expires)
        return f"{SHARE_PREFIX}/{share.id}?expires={expires}&signature={signature}"

    # --- what a body names -----------------------------------------------------------------------

    def lookups(self, org_id: str) -> Lookups:
        def saved_query(query_id: str) -> str | None:
            try:
                saved = self._saved.get(org_id, query_id)
            except NotFound:
                return f"no saved query {query_id!r} in this organization"
            if saved.sql is None:
                return f"saved query {query_id!r} has no SQL (its question did not map to data)"
            return None

        def connection(ref: str | None) -> str | None:
            try:
                self._connections.get(org_id, ref)
            except SqlgateError as exc:
                return exc.message
            return None

        def sql(text: str, ref: str | None) -> str | None:
            if len(text) > self._settings.max_sql_chars:
                return f"longer than {self._settings.max_sql_chars} characters"
            dialect = self._connections.get(org_id, ref).dialect
            analysis = analyze_sql(text, dialect)
            if self._settings.sql_guard and not analysis.is_valid:
                return refusal(analysis).message
            return None

        return Lookups(saved_query, connection, sql)
