"""Publishing what each route requires, from the dependency that enforces it.

Every authenticated route depends on ``requires(*scopes)``; this walks a router's routes,
finds that dependency and writes its scopes into the operation as ``x-required-scopes`` (any
one of them suffices), so the OpenAPI document states exactly what the code enforces. Routes
without it are marked ``x-public: true`` and must be listed in ``PUBLIC``: adding a route that
forgets its scope fails at start-up instead of shipping open.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

#: (method, path) of the routes that need no API key, and why.
PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "liveness probe",
    ("POST", "/v1/team/invitations/accept"): "the one-time invitation token is the credential",
    ("GET", "/v1/results/{job_id}/{file}"): "the signed, expiring link is the credential",
    ("GET", "/v1/shared/dashboards/{share_id}"): "the signed, revocable link is the credential",
}


def _calls(dependant: Dependant) -> Iterator[object]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def required_scopes(route: APIRoute) -> tuple[str, ...] | None:
    """The scopes ``route`` checks (any one suffices; empty: any valid key), or None when it
    does not authenticate at all."""
    for call in _calls(route.dependant):
        scopes = getattr(call, "required_scopes", None)
        if scopes is not None:
            return tuple(str(s) for s in scopes)
    return None


def declare(router: APIRouter) -> None:
    """Annotate every route of ``router`` (before it is included) with its scopes."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        scopes = required_scopes(route)
        extra = dict(route.openapi_extra or {})
        if scopes is None:
            for method in route.methods or ():
                if (method, route.path) not in PUBLIC:
                    raise RuntimeError(
                        f"{method} {route.path} checks no API key and is not in "
                        "sqlgate.api.declared.PUBLIC"
                    )
            extra["x-public"] = True
        else:
            extra["x-required-scopes"] = list(scopes)
        route.openapi_extra = extra
