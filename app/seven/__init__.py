"""The upstream: seven's phone-number API (client, payload types, errors, signing).

Nothing in here imports the service; the service imports from here.
"""

from app.seven.client import DEFAULT_BASE_URL, SevenClient, parse_retry_after
from app.seven.errors import (
    InsufficientCredit,
    MalformedResponse,
    NumberNotOnAccount,
    OrderRefused,
    OutcomeUnknown,
    RateLimited,
    Refused,
    RequestRefused,
    SevenAuthError,
    SevenError,
    SevenServerError,
    UpstreamUnavailable,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "InsufficientCredit",
    "MalformedResponse",
    "NumberNotOnAccount",
    "OrderRefused",
    "OutcomeUnknown",
    "RateLimited",
    "Refused",
    "RequestRefused",
    "SevenAuthError",
    "SevenClient",
    "SevenError",
    "SevenServerError",
    "UpstreamUnavailable",
    "parse_retry_after",
]
