"""Helpers shared by the operations tests: fast worker settings and polling."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.settings import Settings
from tests.support.sandbox import SandboxProcess

Client = AsyncTestClient[Litestar]
FINISHED = ("succeeded", "failed")


def fast(settings: Settings, **overrides: Any) -> Settings:
    """Settings for a worker that retries and reconciles in fractions of a second."""
    values: dict[str, Any] = {
        "operation_backoff_initial_seconds": 0.05,
        "operation_backoff_max_seconds": 0.2,
        "operation_max_attempts": 6,
        "operation_retry_budget_seconds": 30.0,
        "operation_stale_seconds": 1,
        "reconcile_interval_seconds": 1,
        **overrides,
    }
    return dataclasses.replace(settings, **values)


def available_numbers(sandbox: SandboxProcess, count: int) -> list[str]:
    numbers = [n["number"] for n in sandbox.available()]
    assert len(numbers) >= count, "the sandbox offers too few numbers"
    return numbers[:count]


def rent(sandbox: SandboxProcess, count: int, **fields: Any) -> list[str]:
    """Numbers put on the account at seven, as if bought in seven's web interface."""
    numbers = available_numbers(sandbox, count)
    for number in numbers:
        sandbox.put_active(number, **fields)
    return numbers


async def order(
    client: Client, headers: dict[str, str], number: str, **body: Any
) -> dict[str, Any]:
    response = await client.post("/v1/orders", json={"number": number, **body}, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()


async def wait_finished(
    client: Client, headers: dict[str, str], operation_id: str, within: float = 20.0
) -> dict[str, Any]:
    """Poll the operation until it succeeded or failed (short intervals, no fixed sleeps)."""
    deadline = time.monotonic() + within
    while True:
        body = (await client.get(f"/v1/operations/{operation_id}", headers=headers)).json()
        if body["status"] in FINISHED or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.05)


async def number_of(client: Client, headers: dict[str, str], number: str) -> dict[str, Any]:
    response = await client.get(f"/v1/numbers/{number}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()
