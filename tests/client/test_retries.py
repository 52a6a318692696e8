"""Retries, idempotency keys, the budget and waiting, against a real local HTTP server."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from seven_numbers_client import (
    ApiError,
    AsyncClient,
    Client,
    Conflict,
    NumberUnavailable,
    OperationTimeout,
    RateLimited,
    RetryPolicy,
    Unauthorized,
    Unavailable,
    Unreachable,
)

from tests.client.scripted import OPERATION, Answer, error, serving
from tests.support.sandbox import free_port

KEY = "sn_test_the_key_that_must_not_leak"
QUICK = RetryPolicy(max_attempts=3, max_total_seconds=5, backoff_initial_seconds=0.01)


def test_a_503_with_retry_after_is_retried_after_it_with_the_same_idempotency_key() -> None:
    with serving(
        error(503, "upstream_unavailable", **{"Retry-After": "1"}), Answer(202, OPERATION)
    ) as server:
        started = time.monotonic()
        with Client(base_url=server.url, api_key=KEY) as client:
            operation = client.orders.create(number="4915170000001", payment_interval="monthly")
        elapsed = time.monotonic() - started
    assert str(operation.id) == OPERATION["id"]
    first, second = server.requests
    assert (first.method, first.path) == (second.method, second.path) == ("POST", "/v1/orders")
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.body == second.body
    assert first.headers["X-Api-Key"] == KEY
    assert elapsed >= 1.0


def test_each_call_has_its_own_key_unless_the_caller_gives_one() -> None:
    with (
        serving(Answer(202, OPERATION)) as server,
        Client(base_url=server.url, api_key=KEY) as client,
    ):
        client.numbers.delete("4915170000001")
        client.numbers.delete("4915170000001")
        client.numbers.update("4915170000001", friendly_name="x", idempotency_key="mine")
        client.numbers.get("4915170000001")
    keys = [request.headers.get("Idempotency-Key") for request in server.requests]
    assert keys[0] and keys[1] and keys[0] != keys[1]
    assert keys[2:] == ["mine", None]


def test_a_429_with_an_http_date_is_retried() -> None:
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=1), usegmt=True)
    with (
        serving(
            error(429, "too_many_reports", **{"Retry-After": soon}),
            Answer(
                200,
                {
                    "month": "2026-11",
                    "basis": "cash",
                    "group_by": "tenant",
                    "currency": "EUR",
                    "rows": [],
                    "totals": {
                        "numbers": 0,
                        "recurring": "0.00",
                        "setup": "0.00",
                        "usage": "0.00",
                        "total": "0.00",
                    },
                },
            ),
        ) as server,
        Client(base_url=server.url, api_key=KEY) as client,
    ):
        report = client.costs.report(month="2026-11", group_by="tenant")
    assert report.totals.total == 0
    assert len(server.requests) == 2
    assert server.requests[0].path == "/v1/costs?month=2026-11&group_by=tenant"


def test_the_budget_bounds_attempts_and_time() -> None:
    with (
        serving(error(429, "too_many_reports", **{"Retry-After": "0"})) as server,
        Client(base_url=server.url, api_key=KEY, retry=QUICK) as client,
        pytest.raises(RateLimited) as raised,
    ):
        client.costs.report()
    assert len(server.requests) == QUICK.max_attempts
    assert raised.value.retry_after == 0
    # A wait beyond the time budget is not started: the 503 is the answer at once.
    started = time.monotonic()
    with (
        serving(error(503, "upstream_unavailable", **{"Retry-After": "60"})) as server,
        Client(base_url=server.url, api_key=KEY, retry=QUICK) as client,
        pytest.raises(Unavailable),
    ):
        client.numbers.get("4915170000001")
    assert len(server.requests) == 1
    assert time.monotonic() - started < 2


def test_other_4xx_are_never_retried_and_map_to_their_class() -> None:
    with (
        serving(error(409, "number_unavailable"), Answer(202, OPERATION)) as server,
        Client(base_url=server.url, api_key=KEY, retry=QUICK) as client,
        pytest.raises(NumberUnavailable) as raised,
    ):
        client.orders.create(number="4915170000001", payment_interval="monthly")
    assert len(server.requests) == 1
    error_ = raised.value
    assert isinstance(error_, Conflict)
    assert (error_.status, error_.code, error_.request) == (
        409,
        "number_unavailable",
        "POST /v1/orders",
    )
    assert KEY not in str(error_) and KEY not in repr(error_)


def test_a_refused_connection_is_retried_then_reported_without_the_key() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with Client(base_url=url, api_key=KEY, retry=QUICK) as client:
        assert KEY not in repr(client)
        with pytest.raises(Unreachable) as raised:
            client.orders.create(number="4915170000001", payment_interval="monthly")
    assert "ConnectError" in str(raised.value) and KEY not in str(raised.value)
    assert time.monotonic() - started < 3


def test_a_refused_connection_is_retried_until_the_service_answers() -> None:
    port = free_port()
    patient = RetryPolicy(max_attempts=8, max_total_seconds=10, backoff_initial_seconds=0.3)
    with (
        ThreadPoolExecutor(1) as background,
        Client(base_url=f"http://127.0.0.1:{port}", api_key=KEY, retry=patient) as client,
    ):
        ordering = background.submit(
            client.orders.create, number="4915170000001", payment_interval="monthly"
        )
        time.sleep(0.1)
        with serving(Answer(202, OPERATION), port=port) as server:
            operation = ordering.result(timeout=15)
    assert str(operation.id) == OPERATION["id"]
    assert len(server.requests) == 1


async def test_wait_gives_up_with_a_clear_error_and_follows_retry_after() -> None:
    running = {**OPERATION, "status": "running"}
    with serving(Answer(200, running, {"Retry-After": "0"})) as server:
        async with AsyncClient(base_url=server.url, api_key=KEY) as client:
            with pytest.raises(OperationTimeout) as raised:
                await client.operations.wait(OPERATION["id"], timeout=0.5)
    assert raised.value.operation.status == "running"
    assert "still running after 0.5 seconds" in str(raised.value)
    # Retry-After: 0 made it poll at once, far more often than its own backoff would.
    assert len(server.requests) > 10


def test_wait_stops_at_an_order_awaiting_approval() -> None:
    held = {**OPERATION, "status": "awaiting_approval"}
    with (
        serving(Answer(200, held)) as server,
        Client(base_url=server.url, api_key=KEY) as client,
    ):
        # An admin's decision may take hours: the caller hears of it at once.
        assert client.operations.wait(OPERATION["id"], timeout=5).status == "awaiting_approval"
    assert len(server.requests) == 1


def test_an_unknown_code_maps_by_its_status_and_a_foreign_body_still_raises() -> None:
    with (
        serving(error(409, "a_conflict_added_later"), Answer(418, "<html>teapot</html>")) as server,
        Client(base_url=server.url, api_key=KEY, retry=QUICK) as client,
    ):
        with pytest.raises(Conflict) as conflict:
            client.pools.create(name="pool")
        with pytest.raises(ApiError) as foreign:
            client.pools.create(name="pool")
    assert type(conflict.value) is Conflict and conflict.value.code == "a_conflict_added_later"
    assert type(foreign.value) is ApiError
    assert (foreign.value.status, foreign.value.code) == (418, "http_error")


def test_the_key_appears_in_no_log_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with (
        serving(error(503, "upstream_unavailable", **{"Retry-After": "0"}), error(401, "x")) as s,
        Client(base_url=s.url, api_key=KEY, retry=QUICK) as client,
        pytest.raises(Unauthorized),
    ):
        client.orders.create(number="4915170000001", payment_interval="monthly")
    assert caplog.records, "httpx logged nothing at DEBUG: the check would prove nothing"
    assert KEY not in caplog.text
