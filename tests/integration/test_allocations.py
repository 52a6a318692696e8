"""Allocations: atomic under a crowd, cool-down after release, intervals kept, tenant-bound."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.audit.service import Actor
from app.db.models import Allocation, Number, Operation, Pool, Tenant
from app.lib.auth import BOOTSTRAP_ADMIN
from app.lib.errors import Conflict
from app.pools import service
from app.pools.ordering import allocate_ordered_number
from app.settings import Settings
from tests.support.sandbox import SandboxProcess
from tests.support.tenancy import (
    create_pool,
    create_tenant,
    fill_pool,
    german_numbers,
    key_headers,
    seed_numbers,
    session_factory,
)
from tests.support.worker import run_burst

Client = AsyncTestClient[Litestar]
ADMIN = Actor(BOOTSTRAP_ADMIN, request_id="test")


async def test_a_tenant_gets_a_free_number_and_gives_it_back(
    client: Client, admin_headers: dict[str, str], settings: Settings
) -> None:
    async with session_factory(settings) as sessions:
        numbers = await seed_numbers(sessions, german_numbers(2))
        await seed_numbers(sessions, german_numbers(1, start=50), voice=True)
    pool = await create_pool(client, admin_headers)
    await fill_pool(client, admin_headers, pool, [*numbers, german_numbers(1, start=50)[0]])
    tenant, key = await create_tenant(client, admin_headers, "acme")

    voice = await client.post(
        "/v1/allocations", json={"pool": pool, "features": ["voice"]}, headers=key_headers(key)
    )
    assert voice.status_code == 201, voice.text
    assert voice.json()["number"] == german_numbers(1, start=50)[0]
    assert voice.json()["tenant"] == tenant
    got = voice.json()["number"]
    counts = (await client.get(f"/v1/pools/{pool}", headers=admin_headers)).json()
    assert (counts["numbers"], counts["allocated"], counts["free"]) == (3, 1, 2)
    # The tenant now sees the number in the mirror; allocations list it.
    assert (await client.get(f"/v1/numbers/{got}", headers=key_headers(key))).status_code == 200
    held = await client.get("/v1/allocations", headers=key_headers(key))
    assert [(a["number"], a["tenant"], a["released_at"]) for a in held.json()] == [
        (got, tenant, None)
    ]
    no_more_voice = await client.post(
        "/v1/allocations", json={"pool": pool, "features": ["voice"]}, headers=key_headers(key)
    )
    assert (no_more_voice.status_code, no_more_voice.json()["code"]) == (409, "pool_exhausted")

    released = await client.delete(f"/v1/allocations/{got}", headers=key_headers(key))
    assert released.status_code == 200, released.text
    assert released.json()["released_at"] is not None
    # Cool-down 0: available again at once; the tenant no longer sees the number.
    assert released.json()["available_at"] == released.json()["released_at"]
    assert (await client.get(f"/v1/numbers/{got}", headers=key_headers(key))).status_code == 404
    again = await client.delete(f"/v1/allocations/{got}", headers=key_headers(key))
    assert (again.status_code, again.json()["code"]) == (404, "not_allocated")
    # The interval stays on record.
    history = await client.get(
        "/v1/allocations", params={"current": "false"}, headers=admin_headers
    )
    assert [(a["number"], a["tenant"]) for a in history.json()] == [(got, tenant)]
    assert history.json()[0]["released_at"] is not None


async def test_who_the_allocation_is_for(
    client: Client, admin_headers: dict[str, str], settings: Settings
) -> None:
    async with session_factory(settings) as sessions:
        numbers = await seed_numbers(sessions, german_numbers(2))
    pool = await create_pool(client, admin_headers)
    await fill_pool(client, admin_headers, pool, numbers)
    tenant, key = await create_tenant(client, admin_headers, "acme")
    other, _ = await create_tenant(client, admin_headers, "globex")

    unnamed = await client.post("/v1/allocations", json={"pool": pool}, headers=admin_headers)
    assert (unnamed.status_code, unnamed.json()["code"]) == (422, "tenant_required")
    named = await client.post(
        "/v1/allocations", json={"pool": pool, "tenant": tenant}, headers=admin_headers
    )
    assert (named.status_code, named.json()["tenant"]) == (201, tenant)
    foreign = await client.post(
        "/v1/allocations", json={"pool": pool, "tenant": other}, headers=key_headers(key)
    )
    assert (foreign.status_code, foreign.json()["code"]) == (404, "tenant_not_found")
    no_pool = await client.post(
        "/v1/allocations", json={"pool": str(uuid.uuid4())}, headers=key_headers(key)
    )
    assert (no_pool.status_code, no_pool.json()["code"]) == (404, "pool_not_found")
    bad = await client.post(
        "/v1/allocations", json={"pool": pool, "country": "Deutschland"}, headers=key_headers(key)
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_country")


async def test_100_concurrent_allocations_against_30_free_numbers(settings: Settings) -> None:
    async with session_factory(settings, pool_size=10) as sessions:
        numbers = await seed_numbers(sessions, german_numbers(30))
        # Numbers that must never be handed out: held, not active, in another pool.
        await seed_numbers(sessions, german_numbers(3, start=100), state="ordering")
        async with sessions() as session:
            tenants = [Tenant(id=uuid.uuid4(), name=f"t{i}") for i in range(5)]
            pool = Pool(id=uuid.uuid4(), name="crowd", cooldown_days=1)
            session.add_all([*tenants, pool])
            await session.flush()
            for number in (await session.scalars(select(Number))).all():
                number.pool_id = pool.id
            await session.commit()

        start = asyncio.Event()

        async def one(i: int) -> str:
            await start.wait()  # every request is in flight before any of them begins
            async with sessions() as session:
                try:
                    number = await service.allocate(
                        session, ADMIN, pool.id, tenants[i % len(tenants)].id
                    )
                except Conflict as error:
                    return error.code
                return number.number

        tasks = [asyncio.create_task(one(i)) for i in range(100)]
        await asyncio.sleep(0)
        start.set()
        results = await asyncio.gather(*tasks)

        won = [r for r in results if r != "pool_exhausted"]
        assert len(won) == 30
        assert sorted(won) == sorted(numbers)  # all different, only the free ones
        assert results.count("pool_exhausted") == 70
        async with sessions() as session:
            intervals = (await session.scalars(select(Allocation))).all()
            assert len(intervals) == 30
            holders = {
                n.number: n.tenant_id
                for n in (await session.scalars(select(Number).where(Number.state == "active")))
            }
            assert all(holders[a.number] == a.tenant_id for a in intervals)


async def test_a_released_number_rests_for_the_cooldown(settings: Settings) -> None:
    """With the clock in the test's hand: not handed out before the cool-down ends, then yes."""
    t0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    async with session_factory(settings) as sessions:
        (number,) = await seed_numbers(sessions, german_numbers(1))
        async with sessions() as session:
            acme, globex = Tenant(id=uuid.uuid4(), name="acme"), Tenant(id=uuid.uuid4(), name="g")
            pool = Pool(id=uuid.uuid4(), name="resting", cooldown_days=7)
            session.add_all([acme, globex, pool])
            await session.flush()
            (await session.get_one(Number, number)).pool_id = pool.id
            await session.commit()

        async def allocate(tenant: Tenant, at: datetime) -> str:
            async with sessions() as session:
                try:
                    return (
                        await service.allocate(session, ADMIN, pool.id, tenant.id, at=at)
                    ).number
                except Conflict as error:
                    return error.code

        assert await allocate(acme, t0) == number
        async with sessions() as session:
            released = await service.release(session, ADMIN, number, at=t0 + timedelta(days=2))
        assert released.available_at == t0 + timedelta(days=9)

        assert await allocate(globex, t0 + timedelta(days=2)) == "pool_exhausted"
        assert await allocate(globex, t0 + timedelta(days=9) - timedelta(seconds=1)) == (
            "pool_exhausted"
        )
        assert await allocate(globex, t0 + timedelta(days=9)) == number

        async with sessions() as session:
            intervals = (
                await session.scalars(select(Allocation).order_by(Allocation.allocated_at))
            ).all()
        assert [(a.tenant_id, a.allocated_at, a.released_at) for a in intervals] == [
            (acme.id, t0, t0 + timedelta(days=2)),
            (globex.id, t0 + timedelta(days=9), None),
        ]


async def _order_through_an_empty_pool(
    client: Client, admin_headers: dict[str, str], settings: Settings, sandbox: SandboxProcess
) -> tuple[str, str, str, dict[str, str]]:
    """An empty pool, an allocation with ``order_if_empty``, the worker run: (number, ...)."""
    pool = await create_pool(client, admin_headers, country="DE", features=["sms"])
    tenant, key = await create_tenant(client, admin_headers, "acme")
    exhausted = await client.post("/v1/allocations", json={"pool": pool}, headers=key_headers(key))
    assert (exhausted.status_code, exhausted.json()["code"]) == (409, "pool_exhausted")

    accepted = await client.post(
        "/v1/allocations", json={"pool": pool, "order_if_empty": True}, headers=key_headers(key)
    )
    assert accepted.status_code == 202, accepted.text
    operation = accepted.json()
    assert accepted.headers["location"] == f"/v1/operations/{operation['id']}"
    assert (operation["kind"], operation["params"]["tenant"], operation["params"]["pool"]) == (
        "order",
        tenant,
        pool,
    )
    number = operation["number"]
    offered = {n["number"]: n for n in sandbox.available(country="DE")}
    assert offered[number]["features"]["sms"]

    run_burst(settings)

    done = await client.get(f"/v1/operations/{operation['id']}", headers=key_headers(key))
    assert done.json()["status"] == "succeeded", done.text
    assert sandbox.orders_of(number) == 1
    return number, tenant, pool, key_headers(key)


async def test_order_if_empty_ends_with_the_new_number_allocated_to_the_tenant(
    client: Client,
    admin_headers: dict[str, str],
    settings: Settings,
    fresh_sandbox: SandboxProcess,
) -> None:
    number, tenant, pool, headers = await _order_through_an_empty_pool(
        client, admin_headers, settings, fresh_sandbox
    )
    mine = await client.get(f"/v1/numbers/{number}", headers=headers)
    assert (mine.json()["state"], mine.json()["tenant"], mine.json()["pool"]) == (
        "active",
        tenant,
        pool,
    )
    # The worker opened the tenant's interval when the order succeeded.
    held = await client.get("/v1/allocations", headers=headers)
    assert [(a["number"], a["tenant"], a["pool"]) for a in held.json()] == [(number, tenant, pool)]
    # Released, it rests in its pool like any other number and can be allocated again.
    released = await client.delete(f"/v1/allocations/{number}", headers=headers)
    assert (released.status_code, released.json()["tenant"]) == (200, tenant), released.text
    again = await client.post("/v1/allocations", json={"pool": pool}, headers=headers)
    assert (again.status_code, again.json()["number"]) == (201, number)
    history = await client.get("/v1/allocations", params={"current": False}, headers=headers)
    assert [(a["number"], a["released_at"] is None) for a in history.json()] == [
        (number, True),
        (number, False),
    ]


async def test_the_order_hook_opens_the_interval_once(settings: Settings) -> None:
    """``allocate_ordered_number``, as the worker calls it on an order's success (twice:
    jobs run at least once): one interval, for the order's tenant and pool."""
    async with session_factory(settings) as sessions, sessions() as session:
        tenant, pool = Tenant(id=uuid.uuid4(), name="acme"), Pool(id=uuid.uuid4(), name="p")
        session.add_all([tenant, pool])
        await session.commit()
        (number,) = await seed_numbers(sessions, german_numbers(1))
        order = Operation(
            id=uuid.uuid4(),
            kind="order",
            status="succeeded",
            number=number,
            params={"tenant": str(tenant.id), "pool": str(pool.id)},
        )
        unowned = Operation(id=uuid.uuid4(), kind="order", number=number, params={"tenant": None})
        session.add_all([order, unowned])
        await session.commit()
        for operation in (order, order, unowned):
            await allocate_ordered_number(session, operation)
            await session.commit()
        intervals = (await session.scalars(select(Allocation))).all()
        assert [(a.number, a.tenant_id, a.pool_id, a.released_at) for a in intervals] == [
            (number, tenant.id, pool.id, None)
        ]
        row = await session.get_one(Number, number, populate_existing=True)
        assert (row.tenant_id, row.pool_id) == (tenant.id, pool.id)


async def test_a_number_held_without_an_interval_is_released_with_one(
    client: Client, admin_headers: dict[str, str], settings: Settings
) -> None:
    """A holder set outside the allocation verbs (data from before intervals existed)."""
    tenant, key = await create_tenant(client, admin_headers, "acme")
    created = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
    async with session_factory(settings) as sessions:
        (number,) = await seed_numbers(
            sessions, german_numbers(1), tenant_id=uuid.UUID(tenant), seven_created_at=created
        )
    released = await client.delete(f"/v1/allocations/{number}", headers=key_headers(key))
    assert released.status_code == 200, released.text
    assert (released.json()["tenant"], released.json()["allocated_at"]) == (
        tenant,
        "2026-10-01T08:00:00Z",
    )
    assert (await client.get(f"/v1/numbers/{number}", headers=key_headers(key))).status_code == 404
