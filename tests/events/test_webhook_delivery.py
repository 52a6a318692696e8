"""Webhook endpoints and delivery, by the real worker to a real HTTP receiver: signed as
the Standard Webhooks spec has it, retried, in order per number, at least once whatever
happens to the worker or Redis, to the owner only, never to a refused address."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import uuid
from typing import Any

import pytest
import redis.asyncio as redis
from standardwebhooks import Webhook

from app.db.vocabulary import EventType
from app.events.delivery import Deliverer, DeliveryPolicy, Lanes
from app.events.dispatch import dispatch
from app.events.outbox import emit
from app.resources import Resources
from app.settings import Settings
from tests.events.hooks import allocate_one, received, register
from tests.events.receiver import receiving
from tests.support import tenancy
from tests.support.api import Client, Headers
from tests.support.polling import until
from tests.support.tenancy import create_tenant, key_headers
from tests.support.worker import WorkerProcess


async def test_a_receiver_failing_twice_gets_the_event_on_the_third_attempt_signed(
    api: Client, admin_headers: Headers, hooks_settings: Settings, sessions: tenancy.Sessions
) -> None:
    tenant, key = await create_tenant(api, admin_headers, "acme")
    with receiving([503, 503]) as receiver:
        endpoint = await register(api, key_headers(key), receiver.url, ["allocation.granted"])
        assert endpoint["secret"].startswith("whsec_") and endpoint["tenant"] == tenant
        await allocate_one(api, admin_headers, sessions, key)
        with WorkerProcess(hooks_settings):
            requests = await received(receiver, 3)
            await asyncio.sleep(0.5)  # nothing more comes

    assert len(receiver.requests) == 3
    [event] = (await api.get("/v1/events", headers=key_headers(key))).json()["items"]
    ids = {request.headers["webhook-id"] for request in receiver.requests}
    assert ids == {event["id"]}
    assert requests[2] == event and event["type"] == "allocation.granted"
    verifier = Webhook(endpoint["secret"])
    for request in receiver.requests:
        assert verifier.verify(request.body, request.headers) == event

    deliveries = await api.get(
        f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=key_headers(key)
    )
    [delivery] = deliveries.json()["items"]
    assert (delivery["event"], delivery["status"], delivery["attempts"]) == (
        event["id"],
        "delivered",
        3,
    )
    log = delivery["attempt_log"]
    assert [a["status_code"] for a in log] == [503, 503, 200]
    assert all(a["latency_ms"] is not None for a in log)
    # The first KiB of what the receiver answered, no more.
    assert log[0]["response"] == "x" * 1024 and log[2]["response"] == '{"ok": true}'


async def test_the_secret_is_shown_once_and_a_tenant_manages_only_its_own(
    api: Client, admin_headers: Headers
) -> None:
    _, key = await create_tenant(api, admin_headers, "acme")
    _, other = await create_tenant(api, admin_headers, "other")
    endpoint = await register(api, key_headers(key), "https://hooks.example.com/in")
    shown = await api.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=key_headers(key))
    assert shown.status_code == 200 and "secret" not in shown.json()
    for method in ("GET", "PATCH", "DELETE"):
        response = await api.request(
            method,
            f"/v1/webhook-endpoints/{endpoint['id']}",
            headers=key_headers(other),
            json={"enabled": False} if method == "PATCH" else None,
        )
        assert (response.status_code, response.json()["code"]) == (404, "endpoint_not_found")
    assert (await api.get("/v1/webhook-endpoints", headers=key_headers(other))).json() == []
    admin_sees = await api.get("/v1/webhook-endpoints", headers=admin_headers)
    assert [e["id"] for e in admin_sees.json()] == [endpoint["id"]]
    changed = await api.patch(
        f"/v1/webhook-endpoints/{endpoint['id']}",
        json={"enabled": False, "events": ["number.deleted"]},
        headers=key_headers(key),
    )
    assert (changed.json()["enabled"], changed.json()["events"]) == (False, ["number.deleted"])
    bad = await api.patch(
        f"/v1/webhook-endpoints/{endpoint['id']}", json={"events": ["x"]}, headers=key_headers(key)
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_events")
    gone = await api.delete(f"/v1/webhook-endpoints/{endpoint['id']}", headers=key_headers(key))
    assert gone.status_code == 204


async def test_registering_changing_and_removing_an_endpoint_is_audited_without_secrets(
    api: Client, admin_headers: Headers
) -> None:
    tenant, key = await create_tenant(api, admin_headers, "acme")
    url = "https://hooks.example.com/in/token-in-the-path"
    endpoint = await register(api, key_headers(key), url, ["number.deleted"])
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    changed = {"enabled": False, "events": ["message.received"]}
    assert (await api.patch(path, json=changed, headers=key_headers(key))).is_success
    bad = await api.patch(path, json={"events": ["x"]}, headers=key_headers(key))
    assert bad.json()["code"] == "invalid_events"
    assert (await api.delete(path, headers=key_headers(key))).status_code == 204

    trail = await api.get("/v1/audit", headers=admin_headers)
    rows = [r for r in trail.json()["items"] if r["action"].startswith("webhook_endpoint.")]
    assert [(r["action"], r["outcome"]) for r in reversed(rows)] == [
        ("webhook_endpoint.create", "ok"),
        ("webhook_endpoint.update", "ok"),
        ("webhook_endpoint.update", "invalid_events"),
        ("webhook_endpoint.delete", "ok"),
    ]
    assert {(r["target"], r["tenant"]) for r in rows} == {
        (f"webhook_endpoint:{endpoint['id']}", tenant)
    }
    created, updated = rows[-1], rows[-2]
    assert created["details"] == {"url": "https://hooks.example.com", "events": ["number.deleted"]}
    assert updated["details"] == {
        "enabled": {"before": True, "after": False},
        "events": {"before": ["number.deleted"], "after": ["message.received"]},
    }
    # Neither the signing secret nor the URL's path, which may carry a receiver's token.
    assert endpoint["secret"] not in trail.text and "token-in-the-path" not in trail.text


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/in",  # not https
        "https://10.1.2.3/in",  # private
        "https://127.0.0.1/in",  # loopback, not allowed for https either
        "https://169.254.169.254/latest",  # link-local (cloud metadata)
        "https://[::1]/in",
        "https://localhost/in",
        "https://user:pw@hooks.example.com/in",
    ],
)
async def test_refused_urls_are_not_registered(
    client: Client, admin_headers: Headers, url: str
) -> None:
    response = await client.post(
        "/v1/webhook-endpoints", json={"url": url, "events": ["*"]}, headers=admin_headers
    )
    assert (response.status_code, response.json()["code"]) == (422, "invalid_url"), url


async def test_an_endpoint_on_a_refused_address_is_never_called(
    api: Client, admin_headers: Headers, hooks_settings: Settings
) -> None:
    with receiving() as receiver:
        # Registered while loopback was allowed; the worker allows it no more.
        endpoint = await register(api, admin_headers, receiver.url)
        pinged = await api.post(
            f"/v1/webhook-endpoints/{endpoint['id']}/test", headers=admin_headers
        )
        assert pinged.status_code == 202, pinged.text
        refusing = dataclasses.replace(hooks_settings, webhook_allowed_hosts=None)
        with WorkerProcess(refusing):

            async def refused() -> dict[str, Any] | None:
                page = await api.get(
                    f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=admin_headers
                )
                [delivery] = page.json()["items"]
                return delivery if delivery["attempts"] >= 2 else None

            delivery = await until(refused, "two refused attempts", 30, every=0.1)
    assert receiver.requests == []
    assert delivery["attempt_log"][0]["status_code"] is None
    assert delivery["attempt_log"][0]["error"].startswith("address_refused")


async def test_a_tenant_never_receives_another_tenants_events(
    api: Client, admin_headers: Headers, hooks_settings: Settings, sessions: tenancy.Sessions
) -> None:
    tenant_a, key_a = await create_tenant(api, admin_headers, "a")
    _, key_b = await create_tenant(api, admin_headers, "b")
    with receiving() as mine, receiving() as theirs, receiving() as admins:
        await register(api, key_headers(key_a), mine.url)
        await register(api, key_headers(key_b), theirs.url)
        await register(api, admin_headers, admins.url)
        allocation = await allocate_one(api, admin_headers, sessions, key_a)
        with WorkerProcess(hooks_settings):
            [granted] = await received(mine, 1)
            [exhausted] = await received(admins, 1)
            await asyncio.sleep(1.0)
    assert (granted["type"], granted["tenant"]) == ("allocation.granted", tenant_a)
    assert granted["data"]["number"] == allocation["number"]
    assert (exhausted["type"], exhausted["tenant"]) == ("pool.exhausted", None)
    assert theirs.requests == [] and len(mine.requests) == len(admins.requests) == 1


async def test_every_event_arrives_though_the_worker_dies_mid_delivery_and_redis_is_flushed(
    api: Client,
    admin_headers: Headers,
    hooks_settings: Settings,
    resources: Resources,
    redis_url: str,
) -> None:
    with receiving(delay=3.0) as receiver:
        endpoint = await register(api, admin_headers, receiver.url)
        for _ in range(3):
            await api.post(f"/v1/webhook-endpoints/{endpoint['id']}/test", headers=admin_headers)
        events = (await api.get("/v1/events", headers=admin_headers)).json()["items"]
        # The endpoint's job is in Redis (as a worker's dispatcher would put it), then
        # Redis loses it: Postgres still has every delivery.
        assert (await dispatch(resources.engine, resources.queue))[0] == 1
        async with redis.from_url(redis_url) as connection:
            await connection.flushdb()
        worker = WorkerProcess(hooks_settings).start()
        try:
            await received(receiver, 1)
            worker.kill()  # while the receiver has not answered yet
        finally:
            worker.kill()
        with WorkerProcess(hooks_settings):

            async def all_arrived() -> bool:
                got = {request.headers["webhook-id"] for request in receiver.requests}
                return got >= {event["id"] for event in events} or None  # type: ignore[return-value]

            await until(all_arrived, "every event at the receiver", 30, every=0.1)
    ids = [request.headers["webhook-id"] for request in receiver.requests]
    assert set(ids) == {event["id"] for event in events}
    assert len(ids) >= 3


async def test_one_numbers_events_arrive_in_order_under_concurrency(
    api: Client, admin_headers: Headers, hooks_settings: Settings, resources: Resources
) -> None:
    numbers = [f"4915170000{i:03d}" for i in range(6)]
    random.seed(7)
    # Every fourth request fails at first: retries must not let a later event overtake.
    statuses = [503 if random.random() < 0.25 else 200 for _ in range(200)]
    with receiving(statuses) as receiver:
        await register(api, admin_headers, receiver.url)

        async def write(number: str, index: int) -> None:
            async with resources.sessions() as session:
                await emit(
                    session, EventType.SYNC_DRIFT, tenant=None, number=number, data={"i": index}
                )
                await session.commit()

        with WorkerProcess(hooks_settings):
            for index in range(10):
                await asyncio.gather(*(write(number, index) for number in numbers))

            async def all_accepted() -> list[dict[str, Any]] | None:
                events = receiver.accepted()
                return events if len(events) >= 60 else None

            accepted = await until(all_accepted, "60 events accepted", 60, every=0.1)

    assert any(request.status == 503 for request in receiver.requests)
    delivered: dict[str, list[int]] = {}
    for event in accepted:
        delivered.setdefault(event["number"], []).append(event["data"]["i"])
    assert delivered == {number: list(range(10)) for number in numbers}


async def test_an_endpoint_failing_too_long_is_disabled_and_a_failed_delivery_can_be_retried(
    api: Client, admin_headers: Headers, hooks_settings: Settings
) -> None:
    _, key = await create_tenant(api, admin_headers, "acme")
    impatient = dataclasses.replace(
        hooks_settings, webhook_retry_window_seconds=1, webhook_disable_after_seconds=2
    )
    with receiving([500] * 1000) as failing, receiving() as admins:
        await register(api, admin_headers, admins.url, ["endpoint.disabled"])
        endpoint = await register(api, key_headers(key), failing.url)
        path = f"/v1/webhook-endpoints/{endpoint['id']}"
        await api.post(f"{path}/test", headers=key_headers(key))
        with WorkerProcess(impatient):

            async def deliveries() -> list[dict[str, Any]]:
                page = await api.get(f"{path}/deliveries", headers=key_headers(key))
                return page.json()["items"]

            # Past its window a delivery is failed, and the endpoint's next ones go ahead.
            async def one_failed() -> list[dict[str, Any]] | None:
                items = await deliveries()
                return items if any(d["status"] == "failed" for d in items) else None

            items = await until(one_failed, "a failed delivery", 30, every=0.1)
            assert items[0]["attempts"] >= 2 and items[0]["finished_at"] is not None
            # Failing for longer than WEBHOOK_DISABLE_AFTER_SECONDS: the next failure
            # disables the endpoint and tells the admins.
            await asyncio.sleep(1.0)
            await api.post(f"{path}/test", headers=key_headers(key))
            [disabled] = await received(admins, 1)
            assert (disabled["type"], disabled["tenant"]) == ("endpoint.disabled", None)
            assert (disabled["data"]["id"], disabled["data"]["enabled"]) == (endpoint["id"], False)
            shown = (await api.get(path, headers=key_headers(key))).json()
            assert shown["enabled"] is False and shown["failing_since"] is not None

            # Enabled again and the failed delivery retried: the receiver has recovered.
            failing.statuses.clear()
            await api.patch(path, json={"enabled": True}, headers=key_headers(key))
            failed = next(d for d in items if d["status"] == "failed")
            retried = await api.post(
                f"{path}/deliveries/{failed['id']}/retry", headers=key_headers(key)
            )
            assert (retried.status_code, retried.json()["status"]) == (202, "pending")

            async def delivered() -> bool | None:
                items = await deliveries()
                return (
                    any(d["id"] == failed["id"] and d["status"] == "delivered" for d in items)
                    or None
                )

            await until(delivered, "the retried delivery delivered", 30, every=0.1)
    unknown = await api.post(f"{path}/deliveries/{endpoint['id']}/retry", headers=key_headers(key))
    assert (unknown.status_code, unknown.json()["code"]) == (404, "delivery_not_found")


async def test_one_run_delivers_every_due_event_of_its_endpoint(
    api: Client, admin_headers: Headers, hooks_settings: Settings, resources: Resources
) -> None:
    """A run takes a key's deliveries one after another, not one per job."""
    with receiving() as receiver:
        endpoint = await register(api, admin_headers, receiver.url)
        async with resources.sessions() as session:
            for _ in range(3):
                await emit(
                    session, EventType.SYNC_DRIFT, tenant=None, number="4915170000000", data={}
                )
            await session.commit()
        lanes = Lanes()
        deliverer = Deliverer(resources.engine, lanes, DeliveryPolicy.from_settings(hooks_settings))
        try:
            delivered = await deliverer.run(uuid.UUID(endpoint["id"]))
        finally:
            await lanes.aclose()
    assert delivered == 3 and len(receiver.requests) == 3
