"""``POST /v1/webhooks/seven``: inbound SMS counted once per event, signatures enforced."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.asgi import create_app
from app.numbers.mirror import SEVEN_TIME_ZONE
from app.settings import Settings
from app.seven.signing import sign_headers
from tests.integration.test_costs import store
from tests.unit.test_cost_model import FIRST_MONTH

Client = AsyncTestClient[Litestar]
SECRET = "webhook-signing-secret"
PATH = "/v1/webhooks/seven"
# 12 March 2026, 23:30 in Berlin (22:30 UTC): a Berlin day, whatever the UTC date.
SENT = int(datetime(2026, 3, 12, 23, 30, tzinfo=SEVEN_TIME_ZONE).timestamp())


def sms_mo(event_id: str, system: str = "+49 151 000 003 10", sent: int = SENT) -> bytes:
    """An ``sms_mo`` event as seven sends it (seven-api.md)."""
    return json.dumps(
        {
            "webhook_event": "sms_mo",
            "webhook_timestamp": "2026-03-12 23:30:01",
            "data": {
                "id": event_id,
                "sender": "4917612345678",
                "system": system,
                "text": "hello",
                "time": sent,
                "message_type": "sms",
            },
        }
    ).encode()


async def usage(database_url: str) -> list[tuple[str, date, int]]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT number, day, sms_mo FROM number_usage_daily ORDER BY 1, 2")
    finally:
        await conn.close()
    return [(row["number"], row["day"], row["sms_mo"]) for row in rows]


@pytest.fixture
async def signed_client(settings: Settings) -> AsyncIterator[Client]:
    app = create_app(dataclasses.replace(settings, seven_signing_secret=SECRET))
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


def signed(client: Client, body: bytes, **overrides: Any) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        **sign_headers(SECRET, "POST", f"{client.base_url}{PATH}", body, **overrides),
    }


async def test_a_replayed_event_is_counted_once(client: Client, database_url: str) -> None:
    # No API key: seven cannot send one.
    first = await client.post(PATH, content=sms_mo("evt-1"))
    again = await client.post(PATH, content=sms_mo("evt-1"))
    other = await client.post(PATH, content=sms_mo("evt-2"))
    assert [r.status_code for r in (first, again, other)] == [200, 200, 200]
    assert [r.json()["status"] for r in (first, again, other)] == [
        "counted",
        "duplicate",
        "counted",
    ]
    assert await usage(database_url) == [("4915100000310", date(2026, 3, 12), 2)]


async def test_signed_events_are_verified(signed_client: Client, database_url: str) -> None:
    body = sms_mo("evt-signed")
    headers = signed(signed_client, body)
    response = await signed_client.post(PATH, content=body, headers=headers)
    assert (response.status_code, response.json()["status"]) == (200, "counted")
    # The same signed request again, inside its 30 s window: a replay, counted once.
    replay = await signed_client.post(PATH, content=body, headers=headers)
    assert replay.json()["status"] == "duplicate"

    tampered = sms_mo("evt-tampered")
    refused = [
        await signed_client.post(PATH, content=tampered, headers=headers),  # other body
        await signed_client.post(PATH, content=tampered),  # unsigned
        await signed_client.post(
            PATH,
            content=tampered,
            headers=signed(signed_client, tampered, timestamp=int(time.time()) - 120),  # stale
        ),
        await signed_client.post(
            PATH,
            content=tampered,
            headers={**signed(signed_client, tampered), "X-Signature": "0" * 64},
        ),
    ]
    assert [(r.status_code, r.json()["code"]) for r in refused] == [(401, "invalid_signature")] * 4
    assert await usage(database_url) == [("4915100000310", date(2026, 3, 12), 1)]


async def test_other_events_are_ignored_and_garbage_is_refused(
    client: Client, database_url: str
) -> None:
    ignored = await client.post(PATH, content=b'{"webhook_event": "dlr", "data": {}}')
    assert ignored.json()["status"] == "ignored"
    for body in (
        b"not json",
        b'{"webhook_event": "sms_mo", "data": {"id": "x"}}',
        sms_mo("x", "abc"),
        sms_mo("x", sent=10**20),
    ):
        response = await client.post(PATH, content=body)
        assert (response.status_code, response.json()["code"]) == (422, "invalid_event")
    assert await usage(database_url) == []


async def test_counted_sms_are_charged_at_sms_mo(
    client: Client, database_url: str, admin_headers: dict[str, str]
) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await store(conn, [dataclasses.replace(FIRST_MONTH, usage={})])
    finally:
        await conn.close()
    for event in ("a", "b", "c", "a"):
        await client.post(PATH, content=sms_mo(event))
    response = await client.get(
        "/v1/costs",
        params={"month": "2026-03", "group_by": "number", "basis": "cash"},
        headers=admin_headers,
    )
    [row] = response.json()["rows"]
    assert row["usage"] == "0.15"  # 3 SMS at 0.05
    assert row["total"] == "30.15"
