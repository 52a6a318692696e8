"""Operations as the tests drive them: fast worker settings, numbers at seven, orders,
waiting for an operation to finish."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx

from app.settings import Settings
from tests.support.api import Client
from tests.support.polling import until
from tests.support.sandbox import SandboxProcess
from tests.support.worker import WorkerProcess

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
    """The 202 of ``POST /v1/orders``; billed annually unless ``body`` says otherwise."""
    body.setdefault("payment_interval", "annually")
    response = await client.post("/v1/orders", json={"number": number, **body}, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()


async def wait_finished(
    client: httpx.AsyncClient, headers: dict[str, str], operation_id: str, within: float = 20.0
) -> dict[str, Any]:
    """The operation once it succeeded or failed."""

    async def finished() -> dict[str, Any] | None:
        body = (await client.get(f"/v1/operations/{operation_id}", headers=headers)).json()
        return body if body["status"] in FINISHED else None

    return await until(finished, f"operation {operation_id} to finish", within, every=0.05)


async def carried_out(
    client: Client,
    headers: dict[str, str],
    settings: Settings,
    operation_id: str,
    **fast_overrides: Any,
) -> dict[str, Any]:
    """The operation once a worker (``fast`` settings with ``fast_overrides``) finished it."""
    with WorkerProcess(fast(settings, **fast_overrides)):
        return await wait_finished(client, headers, operation_id)


async def number_of(client: Client, headers: dict[str, str], number: str) -> dict[str, Any]:
    response = await client.get(f"/v1/numbers/{number}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()
