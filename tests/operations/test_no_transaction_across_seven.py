"""No database transaction stays open while seven answers.

The sandbox delays the call (a ``latency`` fault) while the test watches
``pg_stat_activity`` for a session of the service sitting ``idle in transaction``: a
transaction held across the call would sit there for the whole delay.
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
DELAY_MS = 1500
# Longer than any gap between two statements of one transaction, far shorter than the delay.
HELD_SECONDS = 0.5

_HELD = """
    SELECT query FROM pg_stat_activity
    WHERE datname = current_database() AND application_name = 'seven-numbers'
      AND state = 'idle in transaction' AND now() - state_change > make_interval(secs => $1)
"""


async def _watching(database_url: str, work: Awaitable[T]) -> tuple[T, list[str]]:
    """Run ``work`` while looking for held transactions; its result and what was seen."""
    watcher = await asyncpg.connect(database_url)
    task = asyncio.ensure_future(work)
    held: list[str] = []
    try:
        while not task.done():
            held += [row["query"] for row in await watcher.fetch(_HELD, HELD_SECONDS)]
            await asyncio.sleep(0.05)
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
    response, held = await _watching(database_url, asyncio.to_thread(asyncio.run, allocation))

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

    _, held = await _watching(database_url, asyncio.to_thread(run_burst, settings))

    assert held == []
    done = await wait_finished(client, admin_headers, changed.json()["id"])
    assert done["status"] == "succeeded", done
