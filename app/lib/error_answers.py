"""The one error shape every endpoint answers with, and the handlers that produce it.

Body: ``{"status": 409, "code": "number_active", "message": "...", "details": ...}``.
``code`` is stable and machine-readable; ``message`` is for a person. A 500 never
carries the exception's text (it may hold a key or a query); it is logged instead.
seven's errors (app.seven.errors) become answers here too, so a service lets them pass
up rather than translating them itself; every 429 and 503 says when to try again
(``Retry-After``).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import msgspec
import structlog
from asyncpg import PostgresError
from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    SerializationException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Example
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap
from sqlalchemy.exc import DBAPIError

from app.lib import validation
from app.lib.errors import DEFAULT_RETRY_AFTER_SECONDS, InvalidInput, ServiceError
from app.seven.errors import (
    MalformedResponse,
    OutcomeUnknown,
    RateLimited,
    SevenError,
    SevenServerError,
    UpstreamUnavailable,
)

log = structlog.get_logger(__name__)


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """The body of every 4xx/5xx answer (documented in the OpenAPI schema)."""

    status: int
    code: str
    message: str
    # Per-error context: the invalid parameter of a 422, the blocking operation of a 409.
    details: Annotated[
        Any,
        msgspec.Meta(
            description="For a 422 of an input: `parameter` (its name), `location` (`path`,"
            " `query`, `header` or `body`) and `expected` (what it takes)"
        ),
    ] = None


# What each documented error status means for any route, with a typical body.
_ERROR_DOCS: dict[int, tuple[str, str, str]] = {
    400: ("The request is malformed (e.g. the body is not JSON)", "bad_request", "Bad Request"),
    401: ("No API key, or an unknown or revoked one", "unauthorized", "An API key is required."),
    404: (
        "Not found, not visible to this key, or a path id that is not an id at all",
        "not_found",
        "Not found.",
    ),
    409: ("The resource's state does not allow this now", "conflict", "Conflict."),
    413: (
        "The request body is larger than the service accepts (MAX_BODY_BYTES)",
        "payload_too_large",
        "",  # names the limit: too_large_message()
    ),
    422: (
        "A path, query or body parameter is invalid, or the query names one the route does not"
        " take; `details` names it (`parameter`, `location`, `expected`)",
        "invalid_country",
        "invalid country 'XX': expected an ISO 3166-1 alpha-2 country code such as DE",
    ),
    429: (
        "Too many of these requests under way for this key; retry after Retry-After seconds",
        "too_many_reports",
        "At most 2 cost reports run at once for one API key; try again in 2 seconds.",
    ),
    502: ("seven answered with an error", "upstream_error", "seven refused the call."),
    503: (
        "seven or the database is unavailable, or the database did not answer in time; retry later",
        "upstream_unavailable",
        "Retry later.",
    ),
    504: ("seven did not answer in time", "upstream_timeout", "seven timed out."),
}


_DETAILS_EXAMPLES: dict[int, dict[str, Any]] = {
    422: {
        "parameter": "country",
        "location": "query",
        "expected": "an ISO 3166-1 alpha-2 country code such as DE",
    },
}


def too_large_message(limit: int) -> str:
    return f"The request body is larger than {limit} bytes, the most this service accepts."


def error_responses(*status_codes: int, max_body_bytes: int = 65536) -> dict[int, ResponseSpec]:
    """OpenAPI responses for the given error statuses, each with the ``ErrorBody`` schema;
    a 413's example names ``max_body_bytes``, the route's limit."""
    responses = {}
    for status in status_codes:
        description, code, message = _ERROR_DOCS[status]
        example: dict[str, Any] = {"status": status, "code": code, "message": message}
        if status in _DETAILS_EXAMPLES:
            example["details"] = _DETAILS_EXAMPLES[status]
        if status == 413:
            example["message"] = too_large_message(max_body_bytes)
            example["details"] = {"max_body_bytes": max_body_bytes}
        responses[status] = ResponseSpec(
            ErrorBody,
            description=description,
            generate_examples=False,
            examples=[Example(value=example)],
        )
    return responses


def error_response(
    status_code: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"status": status_code, "code": code, "message": message}
    if details is not None:
        body["details"] = details
    if status_code in (429, 503) and "Retry-After" not in (headers or {}):
        headers = {**(headers or {}), "Retry-After": str(DEFAULT_RETRY_AFTER_SECONDS)}
    return Response(body, status_code=status_code, media_type=MediaType.JSON, headers=headers)


def _service_error(request: Request[Any, Any, Any], exc: ServiceError) -> Response[dict[str, Any]]:
    details = exc.details
    if isinstance(exc, InvalidInput) and isinstance(details, dict):
        details = validation.locate(request, details)
    return error_response(exc.status_code, exc.code, exc.message, details, exc.headers)


def _seven_error(_: Request[Any, Any, Any], exc: SevenError) -> Response[dict[str, Any]]:
    """seven's failure as the answer a caller gets: 503 try later (with seven's own wait
    when it said one), 504 no answer, else 502. The message is the client's, which never
    contains the API key."""
    headers = None
    if isinstance(exc, RateLimited) and exc.retry_after is not None:
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
    if isinstance(exc, RateLimited | UpstreamUnavailable | SevenServerError):
        status = 503
    elif isinstance(exc, OutcomeUnknown) and not isinstance(exc, MalformedResponse):
        status = 504
    else:
        # Refused credentials, a garbled body, an unknown error: seven answered, but not usefully.
        status = 502
    return error_response(status, exc.code, f"seven could not answer: {exc.message}", None, headers)


def _validation_error(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    found = validation.litestar_problem(request, exc)
    if found is None:
        return error_response(422, "validation_error", exc.detail)
    message, details = found
    return error_response(422, "validation_error", message, details)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def _body_too_large(
    request: Request[Any, Any, Any], exc: RequestEntityTooLarge
) -> Response[dict[str, Any]]:
    # The limit Litestar enforced for this route (request_max_body_size, MAX_BODY_BYTES).
    limit = request.route_handler.resolve_request_max_body_size()
    assert limit is not None, "Litestar raises it only over a route's limit"
    message = too_large_message(limit)
    return error_response(413, "payload_too_large", message, {"max_body_bytes": limit})


def _http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    if status >= 500:
        return _internal_error(_, exc)
    code = _HTTP_CODES.get(status, "http_error")
    if isinstance(exc.__cause__, SerializationException):  # Litestar's 400 for a body
        message, details = validation.undecodable_body(str(exc.__cause__))
        return error_response(status, code, message, details)
    return error_response(status, code, exc.detail, headers=exc.headers)


def _internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.error(
        "unhandled_error",
        path=request.url.path,
        method=request.method,
        error_type=type(exc).__name__,
        exc_info=exc,
    )
    return error_response(
        HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", "Something went wrong on our side."
    )


# SQLSTATEs of a statement cut by statement_timeout (query_canceled) and of a session
# ended by idle_in_transaction_session_timeout.
_DATABASE_TIMEOUTS = frozenset({"57014", "25P03"})


def _database_error(
    request: Request[Any, Any, Any], exc: DBAPIError | PostgresError
) -> Response[dict[str, Any]]:
    """A database timeout is the service being slow, not broken: a 503 without the
    statement or a traceback. Any other database error is an internal one."""
    # SQLAlchemy wraps the driver's error (``orig``); the cost reports' raw asyncpg
    # statements raise it as it is.
    sqlstate = getattr(getattr(exc, "orig", exc), "sqlstate", None)
    if sqlstate not in _DATABASE_TIMEOUTS:
        return _internal_error(request, exc)
    log.warning("database_timeout", path=request.url.path, method=request.method, sqlstate=sqlstate)
    return error_response(
        503, "database_timeout", "The database did not answer in time; try again later."
    )


def _not_authorized(
    _: Request[Any, Any, Any], exc: NotAuthorizedException
) -> Response[dict[str, Any]]:
    return error_response(401, "unauthorized", exc.detail, headers={"WWW-Authenticate": "Bearer"})


def _not_found(_: Request[Any, Any, Any], exc: NotFoundException) -> Response[dict[str, Any]]:
    # Litestar's own 404 (no route matched, a malformed id included) says only "Not Found".
    # The path is not repeated: a tenant key's 404 must not echo another tenant's ids.
    message = exc.detail
    if message == "Not Found":
        message = "Nothing is at this path: check it and any id in it."
    return error_response(404, "not_found", message)


def _forbidden(
    _: Request[Any, Any, Any], exc: PermissionDeniedException
) -> Response[dict[str, Any]]:
    return error_response(403, "forbidden", exc.detail)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    ServiceError: _service_error,
    SevenError: _seven_error,
    ValidationException: _validation_error,
    NotAuthorizedException: _not_authorized,
    PermissionDeniedException: _forbidden,
    NotFoundException: _not_found,
    RequestEntityTooLarge: _body_too_large,
    HTTPException: _http_error,
    DBAPIError: _database_error,
    PostgresError: _database_error,
    Exception: _internal_error,
}
