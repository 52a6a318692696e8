"""A run that died mid-write leaves seven possibly still carrying the write out: the next
run must not read seven (and order again) before that write can no longer be under way."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import create_engine, create_session_factory
from app.operations.executor import OperationRunner, Wait
from app.operations.policy import RetryPolicy
from app.settings import Settings
from app.seven.client import SevenClient
from tests.support.sandbox import SandboxProcess
from tests.support.tenancy import seed_numbers, seed_operation

CALL, SETTLE = 20.0, 10.0  # an orphaned write is read back CALL + SETTLE after it was sent


async def _orphaned_order(engine: AsyncEngine, number: str, sent_ago: float) -> uuid.UUID:
    """An order whose run committed the recovery point, then died (no error, no outcome)."""
    sessions = create_session_factory(engine)
    sent = datetime.now(UTC) - timedelta(seconds=sent_ago)
    operation_id = await seed_operation(
        sessions,
        number,
        kind="order",
        status="running",
        attempts=1,
        params={"payment_interval": "monthly"},
        submitted_at=sent,
        started_at=sent,
    )
    await seed_numbers(sessions, [number], state="ordering", pending_operation_id=operation_id)
    return operation_id


async def _run(
    settings: Settings, sandbox: SandboxProcess, sent_ago: float, max_attempts: int = 8
) -> object:
    engine = create_engine(settings.database_url)
    number = sandbox.available()[0]["number"]
    try:
        operation_id = await _orphaned_order(engine, number, sent_ago)
        async with SevenClient(sandbox.api_key, base_url=sandbox.base_url) as seven:
            runner = OperationRunner(
                engine,
                seven,
                RetryPolicy(max_attempts=max_attempts, call_seconds=CALL, settle_seconds=SETTLE),
            )
            return await runner.run(operation_id)
    finally:
        await engine.dispose()


async def test_a_fresh_orphaned_order_waits_without_asking_or_ordering(
    settings: Settings, fresh_sandbox: SandboxProcess
) -> None:
    outcome = await _run(settings, fresh_sandbox, sent_ago=5)
    assert isinstance(outcome, Wait)
    # What is left of CALL + SETTLE from the send, 5 s ago (less the moments a loaded host
    # takes between the insert and the run's reading of the clock).
    assert CALL + SETTLE - 5 - 3 < outcome.seconds <= CALL + SETTLE - 5
    assert fresh_sandbox.requests("active_get") == []
    assert fresh_sandbox.requests("order") == []


async def test_a_fresh_orphaned_order_out_of_attempts_waits_before_giving_up(
    settings: Settings, fresh_sandbox: SandboxProcess
) -> None:
    # Giving up reads seven as well: it must not read (and fail an order that seven may
    # still carry out) before the orphaned write is over either.
    outcome = await _run(settings, fresh_sandbox, sent_ago=5, max_attempts=1)
    assert isinstance(outcome, Wait)
    assert fresh_sandbox.requests("active_get") == []
    assert fresh_sandbox.requests("order") == []


async def test_an_old_orphaned_order_is_settled_by_asking_then_ordered_once(
    settings: Settings, fresh_sandbox: SandboxProcess
) -> None:
    outcome = await _run(settings, fresh_sandbox, sent_ago=CALL + SETTLE + 1)
    assert outcome == "succeeded"
    endpoints = [request["endpoint"] for request in fresh_sandbox.requests()]
    endpoints.remove("available")  # the test's own pick of a number
    assert endpoints[0] == "active_get"  # asked first
    assert endpoints.count("order") == 1
