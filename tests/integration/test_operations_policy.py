"""The retry policy on its own: which errors are retried, and how long each wait is."""

from __future__ import annotations

from app.operations.policy import RetryPolicy, exhausted, failure_for, verdict
from app.seven.errors import (
    InsufficientCredit,
    MalformedResponse,
    OrderRefused,
    OutcomeUnknown,
    RateLimited,
    SevenAuthError,
    UpstreamError,
    UpstreamUnavailable,
)


def test_each_error_gets_its_verdict() -> None:
    assert verdict(RateLimited("429")) == "retry"
    assert verdict(UpstreamUnavailable("503", status=503)) == "retry"
    assert verdict(MalformedResponse("garbled read")) == "retry"
    assert verdict(OutcomeUnknown("timeout")) == "settle"
    assert verdict(MalformedResponse("garbled write", maybe_processed=True)) == "settle"
    for error in (
        SevenAuthError("900", code="invalid_api_key"),
        InsufficientCredit("500"),
        OrderRefused("no", seven_message="Number is not available."),
        UpstreamError("418"),
    ):
        assert verdict(error) == "fail"


def test_waits_grow_are_capped_jittered_and_never_shorter_than_retry_after() -> None:
    policy = RetryPolicy(initial_seconds=1.0, max_seconds=8.0)
    error = UpstreamUnavailable("503")
    for attempt, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 8.0)):
        waits = {policy.delay(attempt, error) for _ in range(50)}
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
        assert len(waits) > 1  # jittered, so workers do not retry in lockstep
    assert policy.delay(1, RateLimited("429", retry_after=30.0)) >= 30.0


def test_failures_say_what_to_do_and_never_hold_the_key() -> None:
    rejected = failure_for(SevenAuthError("seven refused", code="invalid_api_key"))
    assert rejected.code == "seven_key_rejected"
    assert "SEVEN_API_KEY" in rejected.message
    refused = failure_for(OrderRefused("no", seven_message="Number is not available."))
    assert (refused.code, refused.message) == (
        "order_refused",
        "seven refused the order: Number is not available.",
    )
    assert exhausted("rate_limited", "429", 8, 600, unsettled=False).code == "seven_rate_limited"
    assert exhausted("upstream_unavailable", "503", 8, 600, unsettled=False).code == (
        "seven_unavailable"
    )
    assert exhausted("outcome_unknown", "t", 8, 600, unsettled=True).code == "outcome_unknown"
