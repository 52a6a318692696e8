"""SIGTERM mid-flow: the API finishes the request in flight, the worker the order in flight."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import time
from pathlib import Path
from typing import Any

import httpx

from app.settings import Settings
from tests.support.api import ApiProcess, Client
from tests.support.operations import available_numbers, order, wait_finished
from tests.support.polling import until
from tests.support.sandbox import SandboxProcess
from tests.support.worker import WorkerProcess

SLOW_MS = 1500


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
            await until(
                lambda: fresh_sandbox.requests("available"), "the search to reach seven", 15
            )
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


async def _order_stopped_mid_call(
    client: Client, admin_headers: dict[str, str], settings: Settings, sandbox: SandboxProcess
) -> tuple[str, dict[str, Any]]:
    """An order whose worker gets SIGTERM while seven holds the order call: the number and
    the operation as that worker left it."""
    number = available_numbers(sandbox, 1)[0]
    sandbox.add_fault("latency", "order", ms=SLOW_MS)
    worker = WorkerProcess(settings).start()
    try:
        ordered = await order(client, admin_headers, number)
        await until(lambda: sandbox.requests("order"), "the order to reach seven", 15)
        worker.signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 30) == 0
        left = await client.get(f"/v1/operations/{ordered['id']}", headers=admin_headers)
    finally:
        worker.kill()
    return number, left.json()


async def test_sigterm_lets_the_worker_finish_an_order_in_flight_once(
    client: Client,
    admin_headers: dict[str, str],
    settings: Settings,
    fresh_sandbox: SandboxProcess,
) -> None:
    number, done = await _order_stopped_mid_call(client, admin_headers, settings, fresh_sandbox)
    # Finished by the worker that was stopped, not handed to another.
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
    number, cut = await _order_stopped_mid_call(client, admin_headers, impatient, fresh_sandbox)
    assert cut["status"] == "running", cut
    # The cut-off request still reaches seven. (A run that read back before seven had
    # finished it would see no order yet; this test is about the hand-back, not that race.)
    await until(lambda: fresh_sandbox.orders_of(number) == 1, "seven to have the order", 15)
    with WorkerProcess(settings):
        done = await wait_finished(client, admin_headers, cut["id"])
    assert done["status"] == "succeeded", done
    assert fresh_sandbox.orders_of(number) == 1
