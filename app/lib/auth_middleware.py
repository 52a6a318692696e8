"""The API's side of app.lib.auth: the middleware that resolves each request's key to a
Principal, and the guard of admin routes (kept apart so the worker imports no web
framework)."""

from __future__ import annotations

import hmac
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from app.lib.auth import (
    BOOTSTRAP_ADMIN,
    Actor,
    Principal,
    current_actor,
    key_from_headers,
    principal_for_key,
)
from app.lib.request_context import request_id_of

_UNAUTHORIZED = "The API key is not valid or has been revoked."
PUBLIC_PATHS = ("^/$", "^/health", "^/metrics", "^/schema", "^/v1/webhooks/seven$")


class ApiKeyAuthentication(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        key = key_from_headers(connection.headers)
        if key is None:
            raise NotAuthorizedException("An API key is required: send it as X-Api-Key.")
        state = connection.app.state
        admin_key: str | None = state.settings.admin_api_key
        if admin_key is not None and hmac.compare_digest(key.encode(), admin_key.encode()):
            principal: Principal | None = BOOTSTRAP_ADMIN
        else:
            principal = await principal_for_key(state.sessions, key, cache=state.key_cache)
        if principal is None:
            raise NotAuthorizedException(_UNAUTHORIZED)
        current_actor.set(Actor(principal, request_id_of(connection.scope)))
        return AuthenticationResult(user=principal, auth=principal.key_id)


def admin_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard for admin routes. A tenant key gets the same 404 as a path that does not
    exist, word for word, and its message repeats nothing of the path (which may hold
    another tenant's id): tenant keys learn nothing, never a 403."""
    user = connection.scope.get("user")
    if not isinstance(user, Principal) or not user.is_admin:
        raise NotFoundException()  # what Litestar's router raises for an unknown path
