"""Refuse query parameters a route does not declare, once for every route.

A parameter the route does not know was silently ignored (``?format=csv`` answered
JSON, a misspelt ``?contry=DE`` answered every country): the caller never learnt that
it was not heard. Each route accepts exactly the query parameters its handler (and its
dependencies) declare, as Litestar's kwargs model of the handler knows them, so a
parameter added to a handler is accepted without a list to keep here.

A route called by others than our callers (seven's webhook, whose GET carries seven's
fields, ``data[...]`` included, in the query string) opts out with ``opt=OPEN_QUERY``.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request
from litestar.enums import ParamType
from litestar.routes import HTTPRoute

from app.lib.errors import InvalidInput
from app.lib.validation import DECLARED_QUERY

#: ``opt`` of a handler that reads its query string itself and accepts any parameter.
OPEN_QUERY: dict[str, Any] = {DECLARED_QUERY: None}


def declare_query_parameters(app: Litestar) -> None:
    """Record on every handler the query parameters it accepts (once, at start-up)."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler, kwargs_model in route.route_handler_map.values():
            if DECLARED_QUERY in handler.opt:  # opted out, or a handler serving two methods
                continue
            if "query" in kwargs_model.expected_reserved_kwargs:
                # The handler takes the whole query mapping: it decides for itself.
                handler.opt[DECLARED_QUERY] = None
                continue
            handler.opt[DECLARED_QUERY] = frozenset(
                p.field_alias
                for p in kwargs_model.expected_query_params
                if p.param_type is ParamType.QUERY
            )


def reject_unknown_query(request: Request[Any, Any, Any]) -> None:
    """A 422 naming the query parameters the matched route does not declare."""
    if not request.scope["query_string"]:  # the hot path: nothing to check
        return
    accepted = request.route_handler.opt.get(DECLARED_QUERY)
    if accepted is None:
        return
    unknown = sorted({key for key in request.query_params if key not in accepted})
    if not unknown:
        return
    names = ", ".join(sorted(accepted))
    takes = f"takes only {names}" if accepted else "takes no query parameters"
    raise InvalidInput(
        f"unknown query parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: "
        f"this route {takes}",
        code="validation_error",
        details={
            "parameter": unknown[0],
            "location": "query",
            "expected": f"one of {names}" if accepted else "no query parameters",
            "unknown": unknown,
            "accepted": sorted(accepted),
        },
    )
