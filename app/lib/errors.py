"""The service's errors, which any capability raises: each says the status, stable code and
message it answers with. app.lib.error_answers turns them (and seven's errors, and the
framework's) into the one error shape; this module knows no web framework, so the worker
imports none."""

from __future__ import annotations

from typing import Any

#: ``Retry-After`` of a 429 or 503 whose cause named no wait of its own: long enough for
#: a brief outage or a burst to pass, short enough that a client does not give up.
DEFAULT_RETRY_AFTER_SECONDS = 5


class ServiceError(Exception):
    """A failure a caller can act on; services raise it, the API renders it."""

    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details
        # Sent with the answer, e.g. a Retry-After.
        self.headers = headers


class InvalidInput(ServiceError):
    status_code = 422
    code = "validation_error"


class NotFound(ServiceError):
    status_code = 404
    code = "not_found"


class Conflict(ServiceError):
    status_code = 409
    code = "conflict"


class Unauthorized(ServiceError):
    status_code = 401
    code = "unauthorized"


class Forbidden(ServiceError):
    status_code = 403
    code = "forbidden"


class TooManyRequests(ServiceError):
    """The caller has too much under way at once; it may try again after ``retry_after``."""

    status_code = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code, headers={"Retry-After": str(retry_after)})
