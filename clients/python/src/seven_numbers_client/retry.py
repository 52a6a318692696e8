"""When to send a request again, and after how long: one policy for both clients.

Retried: a connection that could not be made (the request never left), any transport
failure of a read, 429 and 503. The wait is the answer's ``Retry-After`` (seconds or an HTTP
date) when it gives one, else an exponential backoff with full jitter. The budget bounds
both the attempts and the total time; a wait that would overrun it is not started.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

RETRIED_STATUSES = frozenset({429, 503})

#: The request never reached the service, so sending it again is safe for any method.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    #: Attempts in all, the first included (1: never retry).
    max_attempts: int = 4
    #: Seconds from the first attempt after which no further attempt starts.
    max_total_seconds: float = 30.0
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 8.0

    def backoff(self, retry_number: int) -> float:
        """Full jitter over a doubling ceiling (AWS's "exponential backoff and jitter")."""
        ceiling = min(self.backoff_max_seconds, self.backoff_initial_seconds * 2**retry_number)
        return random.uniform(0, ceiling)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None if absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retryable_failure(error: httpx.TransportError, method: str) -> bool:
    """A transport failure worth another attempt: the request never left, or it was a
    read (sending a write again after it may have arrived is left to the caller)."""
    return isinstance(error, NOT_SENT) or method == "GET"
