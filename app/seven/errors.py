"""Every way a call to seven can fail, as one typed hierarchy.

Each error has:

* ``code``: a stable, machine-readable string (stored on failed operations, shown to
  people, matched by the worker). Never changes once released.
* ``retryable``: True when sending the *same request again* is safe and may succeed
  (nothing was processed, or the request only reads). The client itself never
  retries: the worker is the one layer that does, so backoff and budgets live in one
  place.
* ``maybe_processed``: True when seven may have carried the request out even though
  we did not get an answer. For an order or a delete the worker must read before it
  writes again (``GET /numbers/active/:number``), because seven has no idempotency key.
* ``method``, ``path``, ``status``: safe context. Messages never contain the API key,
  request headers or httpx request objects; errors are raised ``from None`` so a
  traceback cannot print a chained httpx exception that carries the headers.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

__all__ = [
    "AUTH_CODES",
    "InsufficientCredit",
    "MalformedResponse",
    "NumberNotOnAccount",
    "OrderRefused",
    "OutcomeUnknown",
    "RateLimited",
    "SevenAuthError",
    "SevenError",
    "UpstreamError",
    "UpstreamUnavailable",
]

AuthReason = Literal["invalid_api_key", "signature_invalid", "access_denied", "ip_not_whitelisted"]

#: seven's bare numeric auth codes and what they mean.
AUTH_CODES: dict[int, AuthReason] = {
    900: "invalid_api_key",
    901: "signature_invalid",
    902: "access_denied",
    903: "ip_not_whitelisted",
}
#: The bare code seven answers when the account cannot pay.
INSUFFICIENT_CREDIT_CODE = 500


class SevenError(Exception):
    """Base of every error the seven client raises."""

    default_code: ClassVar[str] = "seven_error"
    default_retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        seven_code: int | None = None,
        retryable: bool | None = None,
        maybe_processed: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.method = method
        self.path = path
        self.status = status
        self.seven_code = seven_code
        self.retryable = self.default_retryable if retryable is None else retryable
        self.maybe_processed = maybe_processed

    def __str__(self) -> str:
        where = f" ({self.method} {self.path})" if self.method and self.path else ""
        return f"{self.message}{where}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class SevenAuthError(SevenError):
    """seven refused the credentials (bare 900-903 or HTTP 401/403). Fix config, not retry.

    ``code`` is the reason: ``invalid_api_key``, ``signature_invalid``,
    ``access_denied`` or ``ip_not_whitelisted``.
    """

    default_code = "invalid_api_key"

    @property
    def reason(self) -> str:
        return self.code


class InsufficientCredit(SevenError):
    """The account cannot pay (bare ``500`` body). A person has to top up."""

    default_code = "insufficient_credit"


class OrderRefused(SevenError):
    """seven answered an order with ``success: false``; ``seven_message`` says why."""

    default_code = "order_refused"

    def __init__(self, message: str, *, seven_message: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.seven_message = seven_message


class NumberNotOnAccount(SevenError):
    """The number is not (or no longer) on the account: 404, error body or bare code."""

    default_code = "number_not_on_account"

    def __init__(self, message: str, *, number: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.number = number


class RateLimited(SevenError):
    """HTTP 429. ``retry_after`` is seconds to wait (from ``Retry-After``) or None."""

    default_code = "rate_limited"
    default_retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class UpstreamUnavailable(SevenError):
    """seven could not be reached or answered 5xx; nothing was processed. Safe to retry."""

    default_code = "upstream_unavailable"
    default_retryable = True


class OutcomeUnknown(SevenError):
    """The request was sent but no answer came (timeout, connection lost).

    seven may have carried it out. ``retryable`` is True only for reads; for writes the
    worker must check seven's state first (``maybe_processed`` is always True).
    """

    default_code = "outcome_unknown"

    def __init__(self, message: str, **kw: Any) -> None:
        kw.setdefault("maybe_processed", True)
        super().__init__(message, **kw)


class MalformedResponse(SevenError):
    """seven's body could not be parsed or had an unexpected shape.

    A garbled 2xx answer to a write does not tell whether the write happened, so the
    client sets ``maybe_processed`` for writes; treat it like :class:`OutcomeUnknown`.
    """

    default_code = "malformed_response"


class UpstreamError(SevenError):
    """seven reported an error we do not recognise (other 4xx, unknown bare code)."""

    default_code = "upstream_error"
