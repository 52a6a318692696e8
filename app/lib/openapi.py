"""Error responses every route documents, added once for the whole app.

Each route's decorator documents what is particular to it (a 409, seven's 502-504);
what follows from the route's shape is added here, so no route can forget it: every
``/v1`` route can answer 401, 422 (app.lib.nul_guard refuses a NUL in any request) and
503 (a statement cut by ``DATABASE_STATEMENT_TIMEOUT_SECONDS``),
a route with inputs 400 (Litestar's own 400 entry, with its different body, is
replaced), a route that takes a body 413 (``MAX_BODY_BYTES``), and a route with a path
parameter or behind the admin guard 404 (tenant keys get a 404 from admin routes, never
a 403).
"""

from __future__ import annotations

from litestar import Litestar
from litestar.constants import RESERVED_KWARGS
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute

from app.lib.auth import admin_only
from app.lib.errors import error_responses
from app.lib.nul_guard import METHODS_WITH_BODY


def document_errors(app: Litestar, api_prefix: str = "/v1") -> None:
    """Merge the implied error responses into every handler's ``responses``."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            codes = _implied_statuses(handler, route, api_prefix)
            # The decorator's own entries win: they may describe a status more precisely.
            handler.responses = {**error_responses(*codes), **(handler.responses or {})}


def _implied_statuses(handler: HTTPRouteHandler, route: HTTPRoute, api_prefix: str) -> list[int]:
    if not route.path.startswith(api_prefix) or "OPTIONS" in handler.http_methods:
        return []
    codes = [401, 422, 503]
    if _takes_input(handler):
        codes.append(400)
    if handler.http_methods & METHODS_WITH_BODY:
        # Other methods meet the limit only when they send a body anyway, outside the contract.
        codes.append(413)
    if route.path_parameters or _admin_only(handler):
        codes.append(404)
    return codes


def _admin_only(handler: HTTPRouteHandler) -> bool:
    # Litestar wraps each resolved guard in an AsyncCallable holding it as ``func``.
    return any(getattr(guard, "func", guard) is admin_only for guard in handler.resolve_guards())


def _takes_input(handler: HTTPRouteHandler) -> bool:
    # ``data`` is the request body: an input, though Litestar reserves the name.
    injected = set(handler.resolve_dependencies()) | (RESERVED_KWARGS - {"data"})
    return any(name not in injected for name in handler.parsed_fn_signature.parameters)
