"""SIGTERM mid-flow: the API finishes the request in flight, the worker the order in flight."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.settings import Settings
from tests.integration.operations_support import available_numbers, order, wait_finished
from tests.support.api import ApiProcess
from tests.support.sandbox import SandboxProcess
from tests.support.worker import WorkerProcess

Client = AsyncTestClient[Litestar]
SLOW_MS = 1500


async def until(condition: Callable[[], bool], within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_sigterm_lets_the_api_finish_a_request_in_flight(
    settings: Settings,
    admin_headers: dict[str, str],
    fresh_sandbox: SandboxProcess,
    tmp_path: Path,
) -> None:
    fresh_sandbox.add_fault("latency", "available", ms=SLOW_MS)
    log = tmp_path / "api.log"
    with ApiProcess(settings, log_path=log) as api:
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
            search = asyncio.create_task(http.get("/v1/available-numbers", headers=admin_headers))
            # In flight: the sandbox has the API's call and holds it for SLOW_MS.
            await until(lambda: bool(fresh_sandbox.requests("available")))
            started = time.monotonic()
            api.terminate()
            response = await search
        assert response.status_code == 200, response.text
        assert response.json()["items"]
        # uvicorn shuts down cleanly, then re-raises the signal it caught (exit by SIGTERM).
        assert await asyncio.to_thread(api.wait, 30) in (0, -signal.SIGTERM)
    assert "Finished server process" in log.read_text()
    # It waited for the call, and no longer than it needed to.
    assert time.monotonic() - started < SLOW_MS / 1000 + 5


async def test_sigterm_lets_the_worker_finish_an_order_in_flight_once(
    client: Client,
    admin_headers: dict[str, str],
    settings: Settings,
    fresh_sandbox: SandboxProcess,
) -> None:
    number = available_numbers(fresh_sandbox, 1)[0]
    fresh_sandbox.add_fault("latency", "order", ms=SLOW_MS)
    worker = WorkerProcess(settings).start()
    try:
        ordered = await order(client, admin_headers, number)
        await until(lambda: bool(fresh_sandbox.requests("order")))
        worker.signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 30) == 0
        # Finished by the worker that was stopped, not handed to another.
        done = (await client.get(f"/v1/operations/{ordered['id']}", headers=admin_headers)).json()
    finally:
        worker.kill()
    assert done["status"] == "succeeded", done
    assert fresh_sandbox.orders_of(number) == 1
    number_row = await client.get(f"/v1/numbers/{number}", headers=admin_headers)
    assert number_row.json()["state"] == "active"


async def test_an_order_cut_off_by_shutdown_is_handed_back_and_ordered_once(
    client: Client,
    admin_headers: dict[str, str],
    settings: Settings,
    fresh_sandbox: SandboxProcess,
) -> None:
    # No time to finish: the job is cancelled mid-order, and arq puts it back in the queue.
    impatient = dataclasses.replace(settings, worker_shutdown_wait_seconds=0)
    number = available_numbers(fresh_sandbox, 1)[0]
    fresh_sandbox.add_fault("latency", "order", ms=SLOW_MS)
    first = WorkerProcess(impatient).start()
    try:
        ordered = await order(client, admin_headers, number)
        await until(lambda: bool(fresh_sandbox.requests("order")))
        first.signal(signal.SIGTERM)
        assert await asyncio.to_thread(first.wait, 30) == 0
        cut = (await client.get(f"/v1/operations/{ordered['id']}", headers=admin_headers)).json()
        assert cut["status"] == "running"
    finally:
        first.kill()
    # The cut-off request still reaches seven. (A run that read back before seven had
    # finished it would see no order yet; this test is about the hand-back, not that race.)
    await until(lambda: fresh_sandbox.orders_of(number) == 1)
    with WorkerProcess(settings):
        done = await wait_finished(client, admin_headers, ordered["id"])
    assert done["status"] == "succeeded", done
    assert fresh_sandbox.orders_of(number) == 1
