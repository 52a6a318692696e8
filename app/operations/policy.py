"""The one retry policy for calls to seven: what to retry, how long to wait, when to stop.

The seven client never retries (app/seven/client.py); the worker asks this module after
every failed call. Three answers:

* ``fail``: retrying cannot help (a rejected key, no credit, a refused order, an error
  we do not understand); the operation fails at once with a code a person can act on.
* ``retry``: nothing reached seven or seven asked us to wait (connection refused, 429,
  5xx); wait ``delay`` and try again.
* ``settle``: seven may have carried the request out (timeout after sending, dropped
  connection, garbled answer to a write); ask seven before anything is sent again.

The worker does not sleep through a wait: the job is deferred (arq's ``Retry``), so a
``Retry-After`` of minutes holds no worker slot and no database connection. Waits are
capped exponential backoff with "equal jitter" (half fixed, half random, so two
workers never retry in lockstep and no wait collapses to zero), never shorter than a
``Retry-After``. Attempts and total time are both bounded; the total runs from the
operation's first start, so worker restarts do not reset it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from app.settings import Settings
from app.seven.errors import (
    InsufficientCredit,
    MalformedResponse,
    OrderRefused,
    OutcomeUnknown,
    RateLimited,
    SevenAuthError,
    SevenError,
    UpstreamUnavailable,
)

Verdict = Literal["fail", "retry", "settle"]


@dataclass(frozen=True, slots=True)
class Failure:
    """Why an operation failed: a stable code and a message a person can act on."""

    code: str
    message: str


SETTLE_MARGIN_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    budget_seconds: float = 600.0
    initial_seconds: float = 1.0
    max_seconds: float = 60.0
    # How long a write sent by a run that then died may still be under way at seven: the
    # client gives up on a call after its total timeout; a little more for seven itself.
    settle_seconds: float = 65.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            max_attempts=settings.operation_max_attempts,
            budget_seconds=settings.operation_retry_budget_seconds,
            initial_seconds=settings.operation_backoff_initial_seconds,
            max_seconds=settings.operation_backoff_max_seconds,
            settle_seconds=settings.seven_total_timeout + SETTLE_MARGIN_SECONDS,
        )

    def delay(self, attempt: int, error: SevenError) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.max_seconds, self.initial_seconds * 2 ** (attempt - 1))
        wait = ceiling / 2 + random.uniform(0, ceiling / 2)
        if isinstance(error, RateLimited) and error.retry_after is not None:
            # seven said how long; a jittered backoff may only add to that.
            wait = max(wait, error.retry_after)
        return wait


def verdict(error: SevenError) -> Verdict:
    if isinstance(error, RateLimited | UpstreamUnavailable):
        return "retry"
    if isinstance(error, OutcomeUnknown) or (
        isinstance(error, MalformedResponse) and error.maybe_processed
    ):
        return "settle"
    if isinstance(error, MalformedResponse) or error.retryable:
        return "retry"
    return "fail"


def may_have_been_processed(error: SevenError) -> bool:
    """Could seven have carried out the write that raised ``error``?

    A 429 or a refused connection provably changed nothing; a 5xx may come from a
    gateway after seven committed, so it keeps the recovery point like a timeout does.
    """
    return error.maybe_processed or (error.status is not None and error.status >= 500)


def failure_for(error: SevenError) -> Failure:
    """The operation's error for a call that must not be retried."""
    if isinstance(error, SevenAuthError):
        return Failure(
            "seven_key_rejected",
            f"seven rejected the service's credentials ({error.code}): check SEVEN_API_KEY, "
            "the signing secret and seven's IP whitelist, then submit the operation again.",
        )
    if isinstance(error, InsufficientCredit):
        return Failure(
            "insufficient_credit",
            "The seven account has insufficient credit: top it up, then submit the operation "
            "again.",
        )
    if isinstance(error, OrderRefused):
        reason = error.seven_message or "no reason given"
        return Failure("order_refused", f"seven refused the order: {reason}")
    return Failure("seven_error", f"seven could not carry out the request: {error.message}")


def exhausted(code: str, message: str, attempts: int, seconds: float, unsettled: bool) -> Failure:
    """The operation's error once the attempts or the time budget are used up; ``code``
    and ``message`` are the last error's."""
    spent = f"after {attempts} attempt(s) over {seconds:.0f}s"
    if unsettled:
        return Failure(
            "outcome_unknown",
            f"seven did not confirm whether the request was carried out ({spent}; last: "
            f"{message}). The next sync shows the number as seven has it; check it "
            "before submitting again.",
        )
    if code == RateLimited.default_code:
        return Failure(
            "seven_rate_limited",
            f"seven kept rate limiting the service ({spent}); submit the operation again later.",
        )
    return Failure(
        "seven_unavailable",
        f"seven could not be reached or kept failing ({spent}; last: {message}); "
        "submit the operation again once seven is back.",
    )
