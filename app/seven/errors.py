"""Every way a call to seven can fail, as one typed hierarchy of two kinds.

An answer from seven is a clear success (the client returns it), a **clear refusal**
(:class:`Refused`: seven's documented refusal shape, or an answer that proves the request
was not processed) or **unknown** (:class:`OutcomeUnknown`: anything else, including
timeouts and dropped connections after the request went out). The client decides which,
in one place; callers act on the kind:

* ``outcome``: ``"refused"`` (nothing happened at seven) or ``"unknown"`` (it may have).
  An unknown answer to a paid or destructive write is settled by reading seven, never by
  guessing; an unknown answer to a read only says "ask again".
* ``transient``: asking again later may get another answer (429, unreachable, unknown).
* ``code``: a stable, machine-readable string (stored on failed operations, shown to
  people, used as a metrics label). Never changes once released.
* ``method``, ``path``, ``status``, ``seven_code``: safe context. Messages never contain
  the API key, request headers or httpx request objects; errors are raised ``from None``
  so a traceback cannot print a chained httpx exception that carries the headers.

The client itself never retries: the worker is the one layer that does.
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
    "Refused",
    "RequestRefused",
    "SevenAuthError",
    "SevenError",
    "SevenServerError",
    "UpstreamUnavailable",
]

Outcome = Literal["refused", "unknown"]
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
    outcome: ClassVar[Outcome] = "unknown"
    transient: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        seven_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.method = method
        self.path = path
        self.status = status
        self.seven_code = seven_code

    @property
    def refused(self) -> bool:
        """seven (or the network, before sending) proves the request was not carried out."""
        return self.outcome == "refused"

    def __str__(self) -> str:
        where = f" ({self.method} {self.path})" if self.method and self.path else ""
        return f"{self.message}{where}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


# -- clear refusals: nothing happened at seven ---------------------------------------


class Refused(SevenError):
    """seven clearly did not carry the request out."""

    default_code = "seven_refused"
    outcome = "refused"


class SevenAuthError(Refused):
    """seven refused the credentials (bare 900-903 or HTTP 401/403). Fix config, not retry.

    ``code`` is the reason: ``invalid_api_key``, ``signature_invalid``,
    ``access_denied`` or ``ip_not_whitelisted``.
    """

    default_code = "invalid_api_key"

    @property
    def reason(self) -> str:
        return self.code


class InsufficientCredit(Refused):
    """The account cannot pay (bare ``500`` body). A person has to top up."""

    default_code = "insufficient_credit"


class RequestRefused(Refused):
    """seven refused this request in its documented shape: ``{"success": false, "error":
    "<text>"}`` with HTTP 200, or a 4xx carrying its JSON error body. ``seven_message``
    is seven's text."""

    default_code = "request_refused"

    def __init__(self, message: str, *, seven_message: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.seven_message = seven_message


class OrderRefused(RequestRefused):
    """seven refused an order (the number is taken, the interval invalid, ...)."""

    default_code = "order_refused"


class NumberNotOnAccount(Refused):
    """The documented not-found answer on a per-number call: HTTP 404 with seven's JSON
    error body. Nothing else is read as "not on the account"."""

    default_code = "number_not_on_account"

    def __init__(self, message: str, *, number: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.number = number


class RateLimited(Refused):
    """HTTP 429: seven did not process the request. ``retry_after`` is seconds to wait
    (from ``Retry-After``) or None."""

    default_code = "rate_limited"
    transient = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class UpstreamUnavailable(Refused):
    """seven could not be reached: the request provably never went out."""

    default_code = "upstream_unavailable"
    transient = True


# -- unknown: seven may have carried it out -------------------------------------------


class OutcomeUnknown(SevenError):
    """No answer that says what happened: the request went out and the connection was
    lost or timed out. For a write, read seven before sending it again."""

    default_code = "outcome_unknown"
    transient = True


class SevenServerError(OutcomeUnknown):
    """HTTP 5xx: a gateway or seven failed, possibly after seven committed the request."""

    default_code = "seven_server_error"


class MalformedResponse(OutcomeUnknown):
    """An answer that fits no documented shape for the call: HTML or other non-JSON (even
    with HTTP 200), ``{}``, an unknown bare code, a success shape with missing fields."""

    default_code = "malformed_response"
