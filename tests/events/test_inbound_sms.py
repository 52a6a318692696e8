"""An inbound SMS (seven's sms_mo webhook) reaches the endpoint of the tenant holding the
number, and nobody else's; one on a number nobody holds goes to the admin endpoints."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from app.asgi import create_app
from app.settings import Settings
from tests.events.hooks import allocate_one, received, register
from tests.events.receiver import receiving
from tests.support import tenancy
from tests.support.api import Client, Headers
from tests.support.tenancy import create_tenant, key_headers
from tests.support.webhooks import sms_mo
from tests.support.worker import WorkerProcess

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def sms_settings(hooks_settings: Settings) -> Settings:
    return dataclasses.replace(hooks_settings, webhooks_allow_unsigned=True)


@pytest.fixture
async def sms_api(sms_settings: Settings) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(sms_settings)) as test_client:
        yield test_client


async def test_an_inbound_sms_reaches_the_holding_tenants_endpoint_only(
    sms_api: Client, admin_headers: Headers, sms_settings: Settings, sessions: tenancy.Sessions
) -> None:
    api = sms_api
    holder, holder_key = await create_tenant(api, admin_headers, "holder")
    _, other_key = await create_tenant(api, admin_headers, "other")
    number = (await allocate_one(api, admin_headers, sessions, holder_key))["number"]
    [unheld] = await tenancy.seed_numbers(sessions, tenancy.german_numbers(1, start=40))
    with receiving() as mine, receiving() as theirs, receiving() as admins:
        await register(api, key_headers(holder_key), mine.url, ["message.received"])
        await register(api, key_headers(other_key), theirs.url, ["message.received"])
        await register(api, admin_headers, admins.url, ["message.received"])
        for event_id, to in (("mo-1", number), ("mo-1", number), ("mo-2", unheld)):
            sent = await api.post("/v1/webhooks/seven", content=sms_mo(event_id, to), headers=JSON)
            assert sent.status_code == 200, sent.text
        with WorkerProcess(sms_settings):
            [message] = await received(mine, 1)
            [unheld_message] = await received(admins, 1)
            await asyncio.sleep(1.0)

    assert (message["type"], message["tenant"], message["number"]) == (
        "message.received",
        holder,
        number,
    )
    data = message["data"]
    assert (data["id"], data["from"], data["to"], data["text"]) == (
        "mo-1",
        "4917612345678",
        number,
        "hello & goodbye",
    )
    assert data["received_at"].endswith("Z")
    assert (unheld_message["tenant"], unheld_message["data"]["to"]) == (None, unheld)
    # seven's retry of mo-1 was counted once and announced once; the other tenant got none.
    assert len(mine.requests) == 1 and len(admins.requests) == 1
    assert theirs.requests == []
