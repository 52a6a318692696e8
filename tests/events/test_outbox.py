"""The outbox: every change of state writes its event in the same transaction, to the
tenant it belongs to; ``GET /v1/events`` shows a key its own and nobody else's."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from app.asgi import create_app
from app.db.vocabulary import EventType
from app.events.outbox import CHANNEL, NewEvent, emit, emit_all
from app.resources import Resources
from app.settings import Settings
from app.sync.service import run_sync
from tests.events.conftest import LOOPBACK
from tests.events.hooks import register
from tests.support.api import Client, Headers
from tests.support.db import connected
from tests.support.operations import available_numbers, fast, order, rent, wait_finished
from tests.support.sandbox import SandboxProcess
from tests.support.tenancy import create_pool, create_tenant, key_headers
from tests.support.webhooks import sms_mo
from tests.support.worker import WorkerProcess, run_burst
from tests.sync.test_sync_missing import held_numbers, ran, reads_fail


async def events_of(client: Client, headers: Headers, **query: str) -> list[dict[str, Any]]:
    """Every event the key sees, newest first, through every page."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {**query, "limit": "2", **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/events", params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        found += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def kinds(events: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """(type, tenant) of each event, oldest first."""
    return [(event["type"], event["tenant"]) for event in reversed(events)]


async def test_a_tenants_number_operations_are_its_events_and_nobody_elses(
    client: Client, admin_headers: Headers, settings: Settings, fresh_sandbox: SandboxProcess
) -> None:
    number = available_numbers(fresh_sandbox, 1)[0]
    tenant, key = await create_tenant(client, admin_headers, "acme")
    _, other_key = await create_tenant(client, admin_headers, "other")
    mine, theirs = key_headers(key), key_headers(other_key)

    with WorkerProcess(fast(settings)):
        ordered = await order(client, admin_headers, number, tenant=tenant)
        await wait_finished(client, admin_headers, ordered["id"])
        changed = await client.patch(
            f"/v1/numbers/{number}", json={"friendly_name": "Support"}, headers=mine
        )
        await wait_finished(client, admin_headers, changed.json()["id"])
        deleted = await client.delete(f"/v1/numbers/{number}", headers=mine)
        await wait_finished(client, admin_headers, deleted.json()["id"])

    seen = await events_of(client, mine)
    assert kinds(seen) == [
        ("allocation.granted", tenant),
        ("operation.succeeded", tenant),
        ("number.ordered", tenant),
        ("operation.succeeded", tenant),
        ("number.updated", tenant),
        ("operation.succeeded", tenant),
        ("number.deleting", tenant),
    ]
    by_type = {event["type"]: event for event in seen}
    # data: the resource as the API shows it to the tenant.
    assert by_type["number.updated"]["data"]["friendly_name"] == "Support"
    assert by_type["number.deleting"]["data"]["state"] == "deleting"
    assert by_type["number.ordered"]["data"]["billing"]["fees"]["basic_charge"] is not None
    assert by_type["allocation.granted"]["data"]["tenant"] == tenant
    assert (
        seen[-2]["data"]
        == (await client.get(f"/v1/operations/{ordered['id']}", headers=mine)).json()
    )
    assert {event["number"] for event in seen} == {number}
    assert len({event["id"] for event in seen}) == len(seen)

    # Another tenant sees none of them, not even by id; an admin sees them all.
    assert await events_of(client, theirs) == []
    one = seen[0]["id"]
    assert (await client.get(f"/v1/events/{one}", headers=mine)).json() == seen[0]
    hidden = await client.get(f"/v1/events/{one}", headers=theirs)
    assert (hidden.status_code, hidden.json()["code"]) == (404, "event_not_found")
    assert [e["id"] for e in await events_of(client, admin_headers)] == [e["id"] for e in seen]

    # The filters.
    updated = await events_of(client, mine, type="number.updated")
    assert [e["type"] for e in updated] == ["number.updated"]
    assert await events_of(client, mine, number="+49 151 00000000") == []
    assert len(await events_of(client, mine, number=number)) == len(seen)
    later = await events_of(client, mine, since="2999-01-01T00:00:00Z")
    assert later == []
    bad = await client.get("/v1/events", params={"type": "number.eaten"}, headers=mine)
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_type")


async def test_a_refused_order_is_operation_failed(
    client: Client, admin_headers: Headers, settings: Settings, fresh_sandbox: SandboxProcess
) -> None:
    number = available_numbers(fresh_sandbox, 1)[0]
    tenant, _ = await create_tenant(client, admin_headers, "acme")
    fresh_sandbox.add_fault("refuse", "order", message="No.")
    with WorkerProcess(fast(settings)):
        ordered = await order(client, admin_headers, number, tenant=tenant)
        assert (await wait_finished(client, admin_headers, ordered["id"]))["status"] == "failed"
    [failed] = await events_of(client, admin_headers)
    assert (failed["type"], failed["tenant"]) == ("operation.failed", tenant)
    assert failed["data"]["status"] == "failed" and failed["data"]["error"]["code"]
    assert failed["number"] == number


async def test_allocations_and_a_pool_running_dry(
    client: Client, admin_headers: Headers, fresh_sandbox: SandboxProcess, resources: Resources
) -> None:
    numbers = rent(fresh_sandbox, 2)
    await ran(resources)
    pool = await create_pool(client, admin_headers, numbers)
    tenant, key = await create_tenant(client, admin_headers, "acme")
    mine = key_headers(key)

    first = await client.post("/v1/allocations", json={"pool": pool}, headers=mine)
    assert kinds(await events_of(client, admin_headers)) == [("allocation.granted", tenant)]
    second = await client.post("/v1/allocations", json={"pool": pool}, headers=mine)
    released = await client.delete(f"/v1/allocations/{first.json()['number']}", headers=mine)
    assert released.status_code == 200, released.text

    assert kinds(await events_of(client, admin_headers)) == [
        ("allocation.granted", tenant),
        ("allocation.granted", tenant),
        ("pool.exhausted", None),
        ("allocation.released", tenant),
    ]
    exhausted = (await events_of(client, admin_headers, type="pool.exhausted"))[0]
    assert (exhausted["data"]["id"], exhausted["data"]["free"]) == (pool, 0)
    # The tenant's own: its allocations, not the pool's news.
    assert [e["type"] for e in await events_of(client, mine)] == [
        "allocation.released",
        "allocation.granted",
        "allocation.granted",
    ]
    [release] = await events_of(client, mine, type="allocation.released")
    assert release["data"] == released.json()
    assert release["number"] == first.json()["number"] != second.json()["number"]


async def test_the_sync_announces_missing_and_deleted_numbers_to_their_holder(
    client: Client, admin_headers: Headers, resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    held = await held_numbers(client, admin_headers, resources, fresh_sandbox, 2)
    gone, _ = held.numbers
    reads_fail(fresh_sandbox)
    fresh_sandbox.remove_active(gone)
    before = {e["id"] for e in await events_of(client, admin_headers)}

    missed = await ran(resources, window=1)
    await asyncio.sleep(1.1)
    await ran(resources, window=1)

    news = [e for e in await events_of(client, admin_headers) if e["id"] not in before]
    assert kinds(news) == [
        ("number.missing", held.tenant),
        ("sync.drift", None),
        ("number.deleted", held.tenant),
        ("sync.drift", None),
    ]
    missing, drift = news[-1], news[-2]
    assert (missing["number"], missing["data"]["state"]) == (gone, "missing")
    assert drift["data"]["run"] == str(missed.run_id)
    assert [(d["number"], d["kind"]) for d in drift["data"]["drift"]] == [(gone, "missing")]
    assert news[1]["data"]["state"] == "deleted"


async def test_a_change_rolled_back_leaves_no_event(
    client: Client, admin_headers: Headers, resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    held = await held_numbers(client, admin_headers, resources, fresh_sandbox, 2)
    before = await events_of(client, admin_headers)
    reads_fail(fresh_sandbox)
    for number in held.numbers:
        fresh_sandbox.remove_active(number)

    # The guard refuses the run: its writes (both numbers missing) are rolled back, and
    # their events with them.
    outcome = await run_sync(
        resources.engine, resources.seven, max_removed_share=0.5, confirm_missing_seconds=3600
    )
    assert outcome.error_code == "sync_guard_tripped"
    assert await events_of(client, admin_headers) == before


@pytest.fixture
async def unsigned_client(settings: Settings) -> AsyncIterator[Client]:
    allowed = dataclasses.replace(settings, webhooks_allow_unsigned=True)
    async with AsyncTestClient(app=create_app(allowed)) as test_client:
        yield test_client


async def test_an_inbound_sms_is_the_holders_message_and_an_unheld_numbers_the_admins(
    unsigned_client: Client,
    admin_headers: Headers,
    resources: Resources,
    fresh_sandbox: SandboxProcess,
) -> None:
    client = unsigned_client
    held = await held_numbers(client, admin_headers, resources, fresh_sandbox, 1)
    [number] = held.numbers
    unheld = rent(fresh_sandbox, 2)[1]
    await ran(resources)
    json_type = {"Content-Type": "application/json"}

    for event_id, to in (("sms-1", number), ("sms-1", number), ("sms-2", unheld)):
        response = await client.post(
            "/v1/webhooks/seven", content=sms_mo(event_id, to), headers=json_type
        )
        assert response.status_code == 200, response.text

    received = await events_of(client, admin_headers, type="message.received")
    assert kinds(received) == [("message.received", held.tenant), ("message.received", None)]
    mine, admins = received[1], received[0]
    assert mine["number"] == number
    assert {k: mine["data"][k] for k in ("id", "from", "to", "text")} == {
        "id": "sms-1",
        "from": "4917612345678",
        "to": number,
        "text": "hello & goodbye",
    }
    assert mine["data"]["received_at"] and admins["data"]["to"] == unheld


async def test_the_worker_forgets_events_older_than_the_retention(
    settings: Settings, database_url: str
) -> None:
    kept_for_5_days = dataclasses.replace(settings, event_retention_days=5)
    async with connected(database_url) as conn:
        await conn.executemany(
            "INSERT INTO events (type, data, created_at, number)"
            " VALUES ('sync.drift', '{}', now() - $1::interval, $2)",
            [(timedelta(days=5, hours=1), "old"), (timedelta(days=4, hours=23), "kept")],
        )
        await asyncio.to_thread(run_burst, kept_for_5_days)
        rows = await conn.fetch("SELECT number FROM events")
    assert [row["number"] for row in rows] == ["kept"]


async def test_a_sync_operation_ends_with_its_event(
    client: Client, admin_headers: Headers, settings: Settings, fresh_sandbox: SandboxProcess
) -> None:
    started = await client.post("/v1/sync", headers=admin_headers)
    assert started.status_code == 202, started.text
    with WorkerProcess(fast(settings)):
        await wait_finished(client, admin_headers, started.json()["id"])
    [ended] = await events_of(client, admin_headers, type="operation.succeeded")
    assert (ended["tenant"], ended["data"]["kind"], ended["data"]["id"]) == (
        None,
        "sync",
        started.json()["id"],
    )


async def test_a_transaction_that_writes_deliveries_wakes_the_dispatchers_when_it_commits(
    api: Client, admin_headers: Headers, resources: Resources, database_url: str
) -> None:
    await register(api, admin_headers, f"http://{LOOPBACK}:9/hooks", ["sync.drift"])
    async with connected(database_url) as listener:
        woken: asyncio.Queue[str] = asyncio.Queue()
        await listener.add_listener(CHANNEL, lambda *args: woken.put_nowait(args[2]))

        # No endpoint wants it: no delivery, nobody to wake.
        async with resources.sessions() as session:
            await emit(session, EventType.POOL_EXHAUSTED, tenant=None, data={})
            await session.commit()
        async with resources.sessions() as session:
            await emit(session, EventType.SYNC_DRIFT, tenant=None, data={})
            await asyncio.sleep(0.3)
            assert woken.empty(), "woken before the deliveries were committed"
            await session.commit()
        assert await asyncio.wait_for(woken.get(), 5) == CHANNEL
        await asyncio.sleep(0.3)
        assert woken.empty(), "one wake-up per transaction"


async def test_events_written_together_keep_their_order_data_and_endpoints(
    api: Client, admin_headers: Headers, resources: Resources, database_url: str
) -> None:
    tenant, _ = await create_tenant(api, admin_headers, "acme")
    admins = await register(api, admin_headers, f"http://{LOOPBACK}:9/a", ["sync.drift"])
    acmes = await register(api, admin_headers, f"http://{LOOPBACK}:9/b", ["*"], tenant=tenant)
    given = [
        NewEvent(
            EventType.SYNC_DRIFT if index % 3 else EventType.POOL_EXHAUSTED,
            uuid.UUID(tenant) if index % 2 else None,
            {"index": index, "at": datetime(2026, 11, 30, tzinfo=UTC), "fee": Decimal("1.50")},
            number=f"4915170000{index % 4:03d}" if index % 5 else None,
        )
        for index in range(30)
    ]
    async with resources.sessions() as session:
        ids = await emit_all(session, given)
        await session.commit()

    async with connected(database_url) as db:
        rows = await db.fetch("SELECT seq, id, type, tenant_id, number, data FROM events")
        deliveries = await db.fetch(
            "SELECT d.endpoint_id, e.id, d.key, d.status FROM deliveries d"
            " JOIN events e ON e.seq = d.event_seq"
        )
    # Ids in the order given, which is also the order of seq.
    assert [row["id"] for row in sorted(rows, key=lambda row: row["seq"])] == ids
    assert len(set(ids)) == len(given)
    by_id = {row["id"]: row for row in rows}
    for event_id, event in zip(ids, given, strict=True):
        row = by_id[event_id]
        assert (row["type"], row["tenant_id"], row["number"]) == (
            event.type,
            event.tenant,
            event.number,
        )
        assert json.loads(row["data"]) == {
            "index": event.data["index"],
            "at": "2026-11-30T00:00:00Z",
            "fee": "1.50",
        }
    # The admin's endpoint gets the admin's sync.drift events, the tenant's every one of
    # the tenant's; each keyed by its number, or by itself when it has none.
    wanted = {
        (admins["id"], event_id)
        for event_id, event in zip(ids, given, strict=True)
        if event.tenant is None and event.type == EventType.SYNC_DRIFT
    } | {
        (acmes["id"], event_id)
        for event_id, event in zip(ids, given, strict=True)
        if event.tenant is not None
    }
    assert {(str(d["endpoint_id"]), d["id"]) for d in deliveries} == wanted
    seq_of = {row["id"]: row["seq"] for row in rows}
    for delivery in deliveries:
        number = by_id[delivery["id"]]["number"]
        assert delivery["key"] == (number or f"event:{seq_of[delivery['id']]}")
        assert delivery["status"] == "pending"
