"""The one retry policy for calls to seven: how long to wait, when to stop, what to tell.

The seven client never retries and sorts every answer into success, refusal or unknown
(``app/seven/errors.py``); the executor decides from that sort what happens next, and asks
this module how long to wait and how a failure reads:

* a transient refusal (429, seven unreachable) or an unknown answer to a read: wait
  ``delay`` and ask again;
* an unknown answer to a paid or destructive write: wait until seven can no longer be
  carrying it out (``settle_after_answer``), then read seven before anything is sent again;
* a final refusal (rejected key, no credit, a refused order or delete): the operation
  fails at once with a code a person can act on (``failure_for``).

The worker does not sleep through a wait: the job is deferred (arq's ``Retry``), so a
``Retry-After`` of minutes holds no worker slot and no database connection. Waits are
capped exponential backoff with "equal jitter" (half fixed, half random, so two
workers never retry in lockstep and no wait collapses to zero), never shorter than a
``Retry-After``. Attempts and total time are both bounded; the total runs from the
operation's first start, so worker restarts do not reset it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.lib.backoff import equal_jitter
from app.operations.lifecycle import Failure
from app.settings import Settings
from app.seven.errors import (
    InsufficientCredit,
    OrderRefused,
    RateLimited,
    RequestRefused,
    SevenAuthError,
    SevenError,
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    budget_seconds: float = 600.0
    initial_seconds: float = 1.0
    max_seconds: float = 60.0
    # The longest one call to seven may take (the client's total timeout): a run that
    # died during a write may have left it under way for that long.
    call_seconds: float = 60.0
    # How long seven may still be carrying out a write after its answer was lost.
    settle_seconds: float = 15.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            max_attempts=settings.operation_max_attempts,
            budget_seconds=settings.operation_retry_budget_seconds,
            initial_seconds=settings.operation_backoff_initial_seconds,
            max_seconds=settings.operation_backoff_max_seconds,
            call_seconds=settings.seven_total_timeout,
            settle_seconds=settings.seven_settle_seconds,
        )

    def delay(self, attempt: int, error: SevenError) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        wait = equal_jitter(attempt, self.initial_seconds, self.max_seconds)
        if isinstance(error, RateLimited) and error.retry_after is not None:
            # seven said how long; a jittered backoff may only add to that.
            wait = max(wait, error.retry_after)
        return wait

    def settle_after_sending(self, sent_at: datetime) -> datetime:
        """The earliest moment a write sent at ``sent_at`` by a run that then died may be
        settled by reading: the call may have run its full time, and seven needs its own."""
        return sent_at + timedelta(seconds=self.call_seconds + self.settle_seconds)

    def settle_after_answer(self, answered_at: datetime) -> datetime:
        """The earliest moment a write whose answer was unknown at ``answered_at`` may be
        settled by reading: seven may still be carrying it out."""
        return answered_at + timedelta(seconds=self.settle_seconds)


def failure_for(error: SevenError) -> Failure:
    """The operation's error for a refusal that retrying cannot change."""
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
    if isinstance(error, RequestRefused):
        what = {
            "update_refused": "the change",
            "delete_refused": "the deletion",
        }.get(error.code, "the order" if isinstance(error, OrderRefused) else "the request")
        reason = error.seven_message or "no reason given"
        return Failure(error.code, f"seven refused {what}: {reason}")
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
