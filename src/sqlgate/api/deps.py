"""Dependencies shared by the routers: the services, and who is calling."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Header, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from sqlgate.auth.concurrency import request_closers
from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import Scope
from sqlgate.container import Services
from sqlgate.errors import AuthenticationError, AuthorizationError

log = logging.getLogger("sqlgate.api")

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <api key>`")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="`X-API-Key: <api key>`")
#: The same two ways of sending a key, for routes that take another kind (the operator's).
bearer_header, api_key_header = _bearer, _api_key


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


AppServices = Annotated[Services, Depends(get_services)]


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def requires(
    *scopes: Scope, group: str = "default", per: str = "key"
) -> Callable[..., AsyncIterator[Principal]]:
    """A dependency: authenticate the key, count the request against ``group``'s budgets (the
    key's, or the member's with ``per="member"``, and the organization's; 429 past either),
    and refuse unless it has one of ``scopes``. When the request has ended (response sent or
    client gone), it closes what the services tied to the request (a streamed export's result
    stream, and so its concurrent-query slot)."""
    if per not in ("key", "member"):
        raise ValueError(f"per must be 'key' or 'member', not {per!r}")

    async def dependency(
        services: AppServices,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
        api_key: Annotated[str | None, Security(_api_key)],
        x_org_id: Annotated[
            str | None,
            Header(alias="X-ORG-ID", description="Optional; must be the key's organization."),
        ] = None,
    ) -> AsyncIterator[Principal]:
        key = (bearer.credentials if bearer else None) or api_key
        if not key:
            raise AuthenticationError(
                "Missing API key: send `Authorization: Bearer <key>` or `X-API-Key: <key>`"
            )
        principal = services.authenticator.cached(key)
        if principal is None:
            principal = await run_in_threadpool(services.authenticator.authenticate, key)
        if x_org_id is not None and not principal.owns_org(x_org_id):
            raise AuthorizationError("X-ORG-ID does not match the API key's organization")
        await admit(services, principal, scopes, group, per)
        closers = request_closers()
        try:
            yield principal
        finally:
            await run_closers(closers)

    # Read by sqlgate.api.declared to publish each route's scopes in the OpenAPI document.
    dependency.required_scopes = scopes  # type: ignore[attr-defined]
    return dependency


async def admit(
    services: Services, principal: Principal, scopes: tuple[Scope, ...], group: str, per: str
) -> None:
    """Count the request against ``group``'s budgets (429 past either), then check the scopes."""
    if services.limiter.blocking:  # Redis: network I/O off the event loop
        await run_in_threadpool(services.limiter.admit, principal, group, per)
    else:
        services.limiter.admit(principal, group, per)
    if scopes:
        principal.require(*scopes)


async def run_closers(closers: list[Callable[[], None]]) -> None:
    """Close what the services tied to a request that has ended."""
    for close in closers:
        try:
            await run_in_threadpool(close)
        except Exception:
            log.exception("closing a result stream after its request failed")
