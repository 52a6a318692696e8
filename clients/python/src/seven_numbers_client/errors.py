"""The API's errors as exceptions: one class per ``code`` a caller acts on.

Every class is an ``ApiError`` carrying the answer's ``status``, ``code``, ``message`` and
``details``. A code this module does not know yet maps to the class of its status
(``NotFound`` for any 404, ``Conflict`` for any 409, ...), else to ``ApiError`` itself, so
``except Conflict`` keeps working when the service adds a conflict. No error carries the
API key: the request it came from is named by method and path only.
"""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """Anything this client raises on purpose."""


class ApiError(ClientError):
    """The service answered with its error body."""

    status: int = 0
    code: str = "error"

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str,
        details: Any = None,
        retry_after: float | None = None,
        request: str = "",
    ) -> None:
        super().__init__(f"{status} {code}: {message}" + (f" ({request})" if request else ""))
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        #: Seconds the service asked the caller to wait (``Retry-After``), when it did.
        self.retry_after = retry_after
        #: ``"METHOD /path"`` of the request that was refused.
        self.request = request


class BadRequest(ApiError):
    """400: the request is malformed (a body that is not JSON)."""


class Unauthorized(ApiError):
    """401: no API key, or an unknown or revoked one."""


class Forbidden(ApiError):
    """403."""


class NotFound(ApiError):
    """404: absent, or not visible to this key."""


class Conflict(ApiError):
    """409: the resource's state does not allow this now."""


class NumberUnavailable(Conflict):
    """409 ``number_unavailable``: the number cannot be ordered by this key."""


class NumberActive(Conflict):
    """409 ``number_active``: the number is already on the account."""


class NumberBeingOrdered(Conflict):
    """409 ``number_being_ordered``: an order for the number is already under way."""


class NumberAllocated(Conflict):
    """409 ``number_allocated``: a tenant holds the number."""


class LimitExceeded(Conflict):
    """409 ``limit_exceeded``: beyond one of the tenant's limits."""


class DeletionLocked(Conflict):
    """409 ``deletion_locked``: the number is locked against deletion."""


class PooledNumber(Conflict):
    """409 ``pooled_number``: a tenant key may not delete a number it holds from a pool;
    release it instead (``allocations.release``)."""


class NotAwaitingApproval(Conflict):
    """409 ``operation_not_awaiting_approval``: the operation was already approved,
    rejected or expired."""


class PriceUnknown(Conflict):
    """409 ``price_unknown``: the order could not be priced against the tenant's budget;
    send it again."""


class TenantNotEntitled(Conflict):
    """409 ``tenant_not_entitled``: the pool is not open to the tenant
    (``pools.set_tenants``)."""


class NumberBusy(Conflict):
    """409 ``number_busy``: another operation on the number is pending."""


class PoolExhausted(Conflict):
    """409 ``pool_exhausted``: no free number fits; ``details`` may say ``next_free_at``."""


class NameTaken(Conflict):
    """409 ``tenant_name_taken``/``pool_name_taken``."""


class IdempotencyKeyReused(ApiError):
    """422 ``idempotency_key_reused``: the same key was sent with another body."""


class ValidationError(ApiError):
    """422: an input is invalid; ``details`` names it (``parameter``, ``location``,
    ``expected``)."""


class PayloadTooLarge(ApiError):
    """413: the body is larger than the service accepts."""


class RateLimited(ApiError):
    """429: too many of these requests under way; ``retry_after`` says when to try again."""


class ServerError(ApiError):
    """500: a bug in the service."""


class UpstreamError(ApiError):
    """502: seven refused or answered with an error."""


class Unavailable(ApiError):
    """503: seven or the database is unavailable; retry later."""


class UpstreamTimeout(ApiError):
    """504: seven did not answer in time."""


class OperationTimeout(ClientError):
    """``operations.wait`` gave up before the operation reached a final state."""

    def __init__(self, operation: Any, timeout: float) -> None:
        super().__init__(
            f"operation {operation.id} is still {operation.status} after {timeout:g} seconds"
        )
        #: The operation as last read.
        self.operation = operation
        self.timeout = timeout


class WebhookVerificationError(ClientError):
    """A webhook delivery whose signature, timestamp or body does not verify."""


_BY_CODE: dict[str, type[ApiError]] = {
    "number_unavailable": NumberUnavailable,
    "number_active": NumberActive,
    "number_being_ordered": NumberBeingOrdered,
    "number_allocated": NumberAllocated,
    "limit_exceeded": LimitExceeded,
    "deletion_locked": DeletionLocked,
    "pooled_number": PooledNumber,
    "operation_not_awaiting_approval": NotAwaitingApproval,
    "price_unknown": PriceUnknown,
    "tenant_not_entitled": TenantNotEntitled,
    "number_busy": NumberBusy,
    "pool_exhausted": PoolExhausted,
    "tenant_name_taken": NameTaken,
    "pool_name_taken": NameTaken,
    "idempotency_key_reused": IdempotencyKeyReused,
}

_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: ValidationError,
    429: RateLimited,
    500: ServerError,
    502: UpstreamError,
    503: Unavailable,
    504: UpstreamTimeout,
}


def error_class(status: int, code: str) -> type[ApiError]:
    """The class for an answer: by its code, else by its status, else ``ApiError``."""
    return _BY_CODE.get(code) or _BY_STATUS.get(status) or ApiError


class Unreachable(ClientError):
    """The service could not be reached (or stopped answering) within the retry budget."""
