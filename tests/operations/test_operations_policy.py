"""The retry policy on its own: how long each wait is, and how failures read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pytest import MonkeyPatch

from app.lib import backoff
from app.operations.policy import RetryPolicy, exhausted, failure_for
from app.seven.errors import (
    OrderRefused,
    RateLimited,
    RequestRefused,
    SevenAuthError,
    UpstreamUnavailable,
)


def test_waits_grow_are_capped_jittered_and_never_shorter_than_retry_after() -> None:
    policy = RetryPolicy(initial_seconds=1.0, max_seconds=8.0)
    error = UpstreamUnavailable("503")
    for attempt, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 8.0)):
        waits = {policy.delay(attempt, error) for _ in range(50)}
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
        assert len(waits) > 1  # jittered, so workers do not retry in lockstep
    assert policy.delay(1, RateLimited("429", retry_after=30.0)) >= 30.0


def test_the_jitter_spans_the_whole_upper_half_of_each_wait(monkeypatch: MonkeyPatch) -> None:
    # Drawn at either end, a wait is half its ceiling or the whole of it.
    policy = RetryPolicy(initial_seconds=1.0, max_seconds=8.0)
    error = UpstreamUnavailable("503")
    for end, share in ((min, 0.5), (max, 1.0)):
        monkeypatch.setattr(backoff.random, "uniform", lambda a, b, end=end: end(a, b))
        assert [policy.delay(attempt, error) for attempt in (1, 3, 10)] == [
            share * ceiling for ceiling in (1.0, 4.0, 8.0)
        ]


def test_an_unsettled_write_is_read_back_only_once_seven_can_be_done_with_it() -> None:
    policy = RetryPolicy(call_seconds=60.0, settle_seconds=15.0)
    sent = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    # A run that died during the call: the call may have lasted its whole timeout.
    assert policy.settle_after_sending(sent) == sent + timedelta(seconds=75)
    # An answer that came (unknown): only seven's own processing time is left.
    assert policy.settle_after_answer(sent) == sent + timedelta(seconds=15)


def test_failures_say_what_to_do_and_never_hold_the_key() -> None:
    rejected = failure_for(SevenAuthError("seven refused", code="invalid_api_key"))
    assert rejected.code == "seven_key_rejected"
    assert "SEVEN_API_KEY" in rejected.message
    refused = failure_for(OrderRefused("no", seven_message="Number is not available."))
    assert (refused.code, refused.message) == (
        "order_refused",
        "seven refused the order: Number is not available.",
    )
    delete = failure_for(RequestRefused("no", code="delete_refused", seven_message="Locked."))
    assert (delete.code, delete.message) == (
        "delete_refused",
        "seven refused the deletion: Locked.",
    )
    assert exhausted("rate_limited", "429", 8, 600, unsettled=False).code == "seven_rate_limited"
    for last in ("upstream_unavailable", "malformed_response", "seven_server_error"):
        assert exhausted(last, "503", 8, 600, unsettled=False).code == "seven_unavailable"
    assert exhausted("outcome_unknown", "t", 8, 600, unsettled=True).code == "outcome_unknown"
