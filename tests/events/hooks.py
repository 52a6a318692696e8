"""Helpers of the events tests: registering endpoints, waiting for receivers, making an
event for a tenant."""

from __future__ import annotations

from typing import Any

from tests.events.receiver import Receiver
from tests.support import tenancy
from tests.support.api import Client, Headers
from tests.support.polling import until
from tests.support.tenancy import create_pool, key_headers


async def register(
    client: Client, headers: Headers, url: str, events: list[str] | None = None, **body: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/webhook-endpoints",
        json={"url": url, "events": events or ["*"], **body},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def received(receiver: Receiver, count: int, within: float = 30.0) -> list[dict[str, Any]]:
    async def enough() -> list[dict[str, Any]] | None:
        events = receiver.events()
        return events if len(events) >= count else None

    return await until(enough, f"{count} requests at the receiver", within, every=0.05)


async def allocate_one(
    client: Client, admin: Headers, sessions: tenancy.Sessions, tenant_key: str, start: int = 0
) -> dict[str, Any]:
    """A number of a new pool allocated to the key's tenant: an ``allocation.granted``."""
    numbers = await tenancy.seed_numbers(sessions, tenancy.german_numbers(1, start=start))
    pool = await create_pool(client, admin, numbers, name=f"pool-{start}")
    response = await client.post(
        "/v1/allocations", json={"pool": pool}, headers=key_headers(tenant_key)
    )
    assert response.status_code == 201, response.text
    return response.json()
