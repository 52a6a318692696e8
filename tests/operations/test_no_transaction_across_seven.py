"""No database transaction stays open while seven answers.

The sandbox holds the call (a ``latency`` fault). Once the call has reached it, the test
looks in ``pg_stat_activity`` for a session of the service sitting ``idle in transaction``
in a transaction begun before the call arrived: one held across the call sits there
until seven answers. Looking only while seven holds the call, the test does not mistake a
slow moment of a loaded host, after seven answered, for a transaction held across it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import asyncpg

from app.settings import Settings
from tests.support.api import Client
from tests.support.operations import rent, wait_finished
from tests.support.sandbox import SandboxProcess
from tests.support.tenancy import Sessions, create_pool, create_tenant, key_headers, seed_numbers
from tests.support.worker import run_burst

T = TypeVar("T")
DELAY_MS = 2000
# How long after the call's arrival the test looks: well inside the delay, and long after
# any statement that was under way when the call went out.
LOOK_AFTER_SECONDS = 0.5

_HELD = """
    SELECT query FROM pg_stat_activity
    WHERE datname = current_database() AND application_name = 'seven-numbers'
      AND state = 'idle in transaction' AND xact_start < $1
"""


async def _held_across_call(
    database_url: str, sandbox: SandboxProcess, endpoint: str, work: Awaitable[T]
) -> tuple[T, list[str]]:
    """Run ``work``, which calls seven's ``endpoint`` once; its result, and the last
    statements of the transactions that were open across that call."""
    before = len(sandbox.requests(endpoint))
    task = asyncio.ensure_future(work)
    watcher = await asyncpg.connect(database_url)
    try:
        while len(await asyncio.to_thread(sandbox.requests, endpoint)) == before:
            assert not task.done(), f"seven's {endpoint} was never called"
            await asyncio.sleep(0.02)
        arrived = await watcher.fetchval("SELECT clock_timestamp()")
        await asyncio.sleep(LOOK_AFTER_SECONDS)
        held = [row["query"] for row in await watcher.fetch(_HELD, arrived)]
        # Looked too late to tell, if seven had answered already.
        looked_at = await watcher.fetchval("SELECT clock_timestamp()")
        assert (looked_at - arrived).total_seconds() < DELAY_MS / 1000, "looked too late"
    finally:
        await watcher.close()
    return await task, held


async def test_order_if_empty_holds_no_transaction_while_seven_searches(
    client: Client,
    admin_headers: dict[str, str],
    database_url: str,
    fresh_sandbox: SandboxProcess,
) -> None:
    pool = await create_pool(client, admin_headers, country="DE")
    _, key = await create_tenant(client, admin_headers, "acme")
    fresh_sandbox.add_fault("latency", "available", ms=DELAY_MS)

    # The test client answers a request on its own thread's loop, blocking the caller's
    # until it is done: sent from another thread, the watching goes on meanwhile.
    allocation = client.post(
        "/v1/allocations",
        json={"pool": pool, "order_if_empty": True, "payment_interval": "monthly"},
        headers=key_headers(key),
    )
    response, held = await _held_across_call(
        database_url, fresh_sandbox, "available", asyncio.to_thread(asyncio.run, allocation)
    )

    assert response.status_code == 202, response.text
    assert held == []


async def test_the_worker_holds_no_transaction_while_seven_carries_out_a_change(
    client: Client,
    admin_headers: dict[str, str],
    settings: Settings,
    database_url: str,
    fresh_sandbox: SandboxProcess,
    sessions: Sessions,
) -> None:
    (number,) = rent(fresh_sandbox, 1)
    await seed_numbers(sessions, [number])
    changed = await client.patch(
        f"/v1/numbers/{number}", json={"friendly_name": "desk"}, headers=admin_headers
    )
    assert changed.status_code == 202, changed.text
    fresh_sandbox.add_fault("latency", "update", ms=DELAY_MS)

    _, held = await _held_across_call(
        database_url, fresh_sandbox, "update", asyncio.to_thread(run_burst, settings)
    )

    assert held == []
    done = await wait_finished(client, admin_headers, changed.json()["id"])
    assert done["status"] == "succeeded", done
