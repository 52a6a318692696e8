"""What the OpenAPI schema says of every route, added once for the whole app.

Each route's decorator documents what is particular to it (a 409, seven's 502-504);
what follows from the route's shape is added here, so no route can forget it: every
documented route can answer 422 (app.lib.nul_guard refuses a NUL, app.lib.strict_query
a query parameter it does not declare), every ``/v1`` route 401 and 503 (a statement cut
by ``DATABASE_STATEMENT_TIMEOUT_SECONDS``), a route with inputs 400 (Litestar's own 400
entry, with its different body, is replaced), every write 413 (``MAX_BODY_BYTES``;
Litestar reads a DELETE's body too), and a route with a path parameter or behind the
admin guard 404 (tenant keys get a 404 from admin routes, never a 403; a malformed id in
a path is a 404 too, as a path that does not exist).

Examples are real-looking values, never generated ones: :class:`RealisticExamples` gives
money, times and ids theirs, and a response's generated examples are switched off.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from litestar import Litestar
from litestar.constants import RESERVED_KWARGS
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
)
from litestar.plugins import OpenAPISchemaPlugin
from litestar.routes import HTTPRoute
from litestar.typing import FieldDefinition

from app.lib.auth_middleware import admin_only
from app.lib.error_answers import error_responses

# Every method that changes something: each may carry a body, so each may meet the limit.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def document_errors(app: Litestar, api_prefix: str = "/v1") -> None:
    """Merge the implied error responses into every handler's ``responses``."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            codes = _implied_statuses(handler, route, api_prefix)
            # The decorator's own entries win: they may describe a status more precisely.
            limit = handler.resolve_request_max_body_size() or 0
            implied = error_responses(*codes, max_body_bytes=limit)
            responses = {**implied, **(handler.responses or {})}
            handler.responses = {
                status: _without_generated_examples(spec) for status, spec in responses.items()
            }
            if handler.operation_class is Operation:
                handler.operation_class = OptionalBodyTruthful


def _implied_statuses(handler: HTTPRouteHandler, route: HTTPRoute, api_prefix: str) -> list[int]:
    if "OPTIONS" in handler.http_methods:
        return []
    codes = [422]
    if handler.http_methods & WRITE_METHODS and handler.resolve_request_max_body_size():
        codes.append(413)
    if not route.path.startswith(api_prefix):
        return codes
    codes += [401, 503]
    if _takes_input(handler):
        codes.append(400)
    if route.path_parameters or _admin_only(handler):
        codes.append(404)
    return codes


def _without_generated_examples(spec: ResponseSpec) -> ResponseSpec:
    # Litestar's generated examples are random strings and numbers (a month
    # "DwEkQQHiBrmXZcSFtoJx"); the schema's own examples say more.
    if not spec.generate_examples:
        return spec
    return dataclasses.replace(spec, generate_examples=False)


def _admin_only(handler: HTTPRouteHandler) -> bool:
    # Litestar wraps each resolved guard in an AsyncCallable holding it as ``func``.
    return any(getattr(guard, "func", guard) is admin_only for guard in handler.resolve_guards())


def _takes_input(handler: HTTPRouteHandler) -> bool:
    # ``data`` is the request body: an input, though Litestar reserves the name.
    injected = set(handler.resolve_dependencies()) | (RESERVED_KWARGS - {"data"})
    return any(name not in injected for name in handler.parsed_fn_signature.parameters)


# -- examples ------------------------------------------------------------------------

_EXAMPLES: dict[type, Schema] = {
    # Money: EUR as a decimal string, never a float.
    Decimal: Schema(type=OpenAPIType.STRING, examples=["4.90"]),
    datetime: Schema(
        type=OpenAPIType.STRING,
        format=OpenAPIFormat.DATE_TIME,
        examples=["2026-03-01T09:30:00Z"],
    ),
    uuid.UUID: Schema(
        type=OpenAPIType.STRING,
        format=OpenAPIFormat.UUID,
        examples=["3f2b8c1e-5d4a-4e7b-9c6f-0a1b2c3d4e5f"],
    ),
}


class RealisticExamples(OpenAPISchemaPlugin):
    """Money, times and ids documented with an example such as the API answers."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return field_definition.annotation in _EXAMPLES

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        return dataclasses.replace(_EXAMPLES[field_definition.annotation])


@dataclass
class OptionalBodyTruthful(Operation):
    """Litestar documents every body as required; a handler whose body may be null
    (``data: KeyCreate | None = None``) takes a request without one, and says so."""

    def __post_init__(self) -> None:
        if self.request_body is None or isinstance(self.request_body, Reference):
            return
        for media in (self.request_body.content or {}).values():
            schema = media.schema
            if isinstance(schema, Schema) and any(
                isinstance(option, Schema) and option.type == OpenAPIType.NULL
                for option in schema.one_of or []
            ):
                self.request_body.required = False


@dataclass
class AlsoCsv(OptionalBodyTruthful):
    """``operation_class`` of a route that answers ``Accept: text/csv`` with CSV."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for status, response in (self.responses or {}).items():
            if status.startswith("2") and not isinstance(response, dict):
                content = getattr(response, "content", None)
                if content is not None:
                    content["text/csv"] = OpenAPIMediaType(
                        schema=Schema(type=OpenAPIType.STRING, description="The same rows as CSV")
                    )
