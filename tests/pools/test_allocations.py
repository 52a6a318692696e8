"""Allocations: atomic under a crowd, cool-down after release, intervals kept, tenant-bound."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.audit.service import Actor
from app.db.models import Allocation, Number, Operation, Pool, Tenant
from app.lib.auth import BOOTSTRAP_ADMIN
from app.lib.errors import Conflict
from app.pools import service
from app.pools.ordering import allocate_ordered_number
from app.settings import Settings
from tests.support import tenancy
from tests.support.api import Client, Headers
from tests.support.operations import available_numbers, order
from tests.support.polling import until
from tests.support.sandbox import SandboxProcess
from tests.support.tenancy import (
    create_pool,
    create_tenant,
    key_headers,
)
from tests.support.worker import WorkerProcess, run_burst

ADMIN = Actor(BOOTSTRAP_ADMIN, request_id="test")


async def test_a_tenant_gets_a_free_number_and_gives_it_back(
    client: Client, admin_headers: Headers, sessions: tenancy.Sessions
) -> None:
    numbers = await tenancy.seed_numbers(sessions, tenancy.german_numbers(2))
    await tenancy.seed_numbers(sessions, tenancy.german_numbers(1, start=50), feature_voice=True)
    pool = await tenancy.create_pool(
        client, admin_headers, [*numbers, tenancy.german_numbers(1, start=50)[0]]
    )
    tenant, key = await tenancy.create_tenant(client, admin_headers, "acme")

    voice = await client.post(
        "/v1/allocations",
        json={"pool": pool, "features": ["voice"]},
        headers=tenancy.key_headers(key),
    )
    assert voice.status_code == 201, voice.text
    assert voice.json()["number"] == tenancy.german_numbers(1, start=50)[0]
    assert voice.json()["tenant"] == tenant
    got = voice.json()["number"]
    counts = (await client.get(f"/v1/pools/{pool}", headers=admin_headers)).json()
    assert (counts["numbers"], counts["allocated"], counts["free"]) == (3, 1, 2)
    # The tenant now sees the number in the mirror; allocations list it.
    assert (
        await client.get(f"/v1/numbers/{got}", headers=tenancy.key_headers(key))
    ).status_code == 200
    held = await client.get("/v1/allocations", headers=tenancy.key_headers(key))
    assert [(a["number"], a["tenant"], a["released_at"]) for a in held.json()] == [
        (got, tenant, None)
    ]
    # Names beside the ids, for people reading the list.
    assert (held.json()[0]["tenant_name"], held.json()[0]["pool_name"]) == ("acme", "pool")
    no_more_voice = await client.post(
        "/v1/allocations",
        json={"pool": pool, "features": ["voice"]},
        headers=tenancy.key_headers(key),
    )
    assert (no_more_voice.status_code, no_more_voice.json()["code"]) == (409, "pool_exhausted")

    released = await client.delete(f"/v1/allocations/{got}", headers=tenancy.key_headers(key))
    assert released.status_code == 200, released.text
    assert released.json()["released_at"] is not None
    assert (released.json()["tenant_name"], released.json()["pool_name"]) == ("acme", "pool")
    # Resting starts once what the tenant set at seven is cleared; the tenant no longer
    # sees the number.
    clearing = released.json()["clearing_operation"]
    assert (released.json()["available_at"], clearing is not None) == (None, True)
    # Each API process drops the number from its cache when PostgreSQL's notice arrives,
    # a moment after the commit.
    await until(
        lambda: _status_is(client, f"/v1/numbers/{got}", tenancy.key_headers(key), 404),
        "the released number to be hidden from its former holder",
    )
    resting = (await client.get(f"/v1/numbers/{got}", headers=admin_headers)).json()
    assert (resting["handover"], resting["pending_operation"]) == ("clearing", clearing)
    again = await client.delete(f"/v1/allocations/{got}", headers=tenancy.key_headers(key))
    assert (again.status_code, again.json()["code"]) == (404, "not_allocated")
    # The interval stays on record.
    history = await client.get(
        "/v1/allocations", params={"current": "false"}, headers=admin_headers
    )
    assert [(a["number"], a["tenant"]) for a in history.json()] == [(got, tenant)]
    assert history.json()[0]["released_at"] is not None


async def test_bad_parameters_are_named(client: Client, admin_headers: Headers) -> None:
    # Who an allocation is for: tests/tenants/test_acting_tenant.py.
    pool = await tenancy.create_pool(client, admin_headers)
    _, key = await tenancy.create_tenant(client, admin_headers, "acme")
    bad = await client.post(
        "/v1/allocations",
        json={"pool": pool, "country": "Deutschland"},
        headers=tenancy.key_headers(key),
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_country")
    for query, code in [
        ("tenant=acme", "invalid_tenant"),
        ("pool=1", "invalid_pool"),
        ("number=abc", "invalid_number"),
        ("current=maybe", "invalid_current"),
    ]:
        listed = await client.get(f"/v1/allocations?{query}", headers=admin_headers)
        assert (listed.status_code, listed.json()["code"]) == (422, code), query
    assert (await client.get("/v1/allocations?current=no", headers=admin_headers)).json() == []


async def test_100_concurrent_allocations_against_30_free_numbers(settings: Settings) -> None:
    async with tenancy.session_factory(settings, pool_size=10) as sessions:
        numbers = await tenancy.seed_numbers(sessions, tenancy.german_numbers(30))
        # Numbers that must never be handed out: held, not active, in another pool.
        await tenancy.seed_numbers(sessions, tenancy.german_numbers(3, start=100), state="ordering")
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
                await session.commit()  # as a request's handler does when it returns
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


async def _order_through_an_empty_pool(
    client: Client, admin_headers: Headers, settings: Settings, sandbox: SandboxProcess
) -> tuple[str, str, str, Headers]:
    """An empty pool, an allocation with ``order_if_empty``, the worker run: (number, ...)."""
    pool = await tenancy.create_pool(
        client, admin_headers, country="DE", features=["sms"], cooldown_days=0
    )
    tenant, key = await tenancy.create_tenant(client, admin_headers, "acme")
    exhausted = await client.post(
        "/v1/allocations", json={"pool": pool}, headers=tenancy.key_headers(key)
    )
    assert (exhausted.status_code, exhausted.json()["code"]) == (409, "pool_exhausted")

    accepted = await client.post(
        "/v1/allocations",
        json={"pool": pool, "order_if_empty": True, "payment_interval": "monthly"},
        headers=tenancy.key_headers(key),
    )
    assert accepted.status_code == 202, accepted.text
    operation = accepted.json()
    assert accepted.headers["location"] == f"/v1/operations/{operation['id']}"
    assert (operation["kind"], operation["tenant"], operation["params"]["pool"]) == (
        "order",
        tenant,
        pool,
    )
    # Billed as the caller asked, not by a default.
    assert operation["params"]["payment_interval"] == "monthly"
    number = operation["number"]
    offered = {n["number"]: n for n in sandbox.available(country="DE")}
    assert offered[number]["features"]["sms"]

    run_burst(settings)

    done = await client.get(f"/v1/operations/{operation['id']}", headers=tenancy.key_headers(key))
    assert done.json()["status"] == "succeeded", done.text
    assert sandbox.orders_of(number) == 1
    return number, tenant, pool, tenancy.key_headers(key)


async def test_order_if_empty_ends_with_the_new_number_allocated_to_the_tenant(
    client: Client,
    admin_headers: Headers,
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
    # Released and cleared, it rests in its pool like any other number (here for no time)
    # and can be allocated again.
    released = await client.delete(f"/v1/allocations/{number}", headers=headers)
    assert (released.status_code, released.json()["tenant"]) == (200, tenant), released.text
    run_burst(settings)
    again = await client.post("/v1/allocations", json={"pool": pool}, headers=headers)
    assert (again.status_code, again.json()["number"]) == (201, number)
    history = await client.get("/v1/allocations", params={"current": False}, headers=headers)
    assert [(a["number"], a["released_at"] is None) for a in history.json()] == [
        (number, True),
        (number, False),
    ]


async def test_order_if_empty_without_payment_interval_is_refused_before_anything_is_tried(
    client: Client, admin_headers: Headers, sessions: tenancy.Sessions
) -> None:
    """Even while the pool has a free number: the caller learns it on the first call."""
    numbers = await tenancy.seed_numbers(sessions, tenancy.german_numbers(1))
    pool = await tenancy.create_pool(client, admin_headers, numbers)
    _, key = await tenancy.create_tenant(client, admin_headers, "acme")
    refused = await client.post(
        "/v1/allocations", json={"pool": pool, "order_if_empty": True}, headers=key_headers(key)
    )
    assert (refused.status_code, refused.json()["code"]) == (422, "payment_interval_required")
    assert "monthly" in refused.json()["message"] and "annually" in refused.json()["message"]
    counts = (await client.get(f"/v1/pools/{pool}", headers=admin_headers)).json()
    assert (counts["allocated"], counts["free"]) == (0, 1)


async def test_a_pool_order_seven_cannot_answer_says_when_to_try_again(
    client: Client, admin_headers: dict[str, str], fresh_sandbox: SandboxProcess
) -> None:
    """seven unwell while ``order_if_empty`` searches it: 503, with ``Retry-After`` like
    every 503, and nothing ordered."""
    pool = await create_pool(client, admin_headers, country="DE")
    _, key = await create_tenant(client, admin_headers, "acme")
    fresh_sandbox.add_fault("server_error", "available", status=503)
    refused = await client.post(
        "/v1/allocations",
        json={"pool": pool, "order_if_empty": True, "payment_interval": "monthly"},
        headers=key_headers(key),
    )
    assert (refused.status_code, refused.json()["code"]) == (503, "seven_server_error")
    assert int(refused.headers["retry-after"]) > 0
    assert fresh_sandbox.requests("order") == []


async def test_a_pool_order_carries_the_request_id_into_the_worker_log(
    client: Client, admin_headers: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    """One id from the API to seven, for an order the pool places as for any other."""
    job = "process_operation"
    pool = await create_pool(client, admin_headers, country="DE")
    _, key = await create_tenant(client, admin_headers, "acme")
    accepted = await client.post(
        "/v1/allocations",
        json={"pool": pool, "order_if_empty": True, "payment_interval": "monthly"},
        headers={**key_headers(key), "X-Request-Id": "pool-order-1"},
    )
    assert accepted.status_code == 202, accepted.text
    log_path = tmp_path / "worker.log"
    assert WorkerProcess(settings, burst=True, log_path=log_path).start().wait(60) == 0
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line[:1] == "{"]
    runs = [line for line in lines if (line.get("event"), line.get("job")) == ("job", job)]
    assert [(line.get("request_id"), line["outcome"]) for line in runs] == [
        ("pool-order-1", "succeeded")
    ]


async def test_the_order_hook_opens_the_interval_once(sessions: tenancy.Sessions) -> None:
    """``allocate_ordered_number``, as the worker calls it on an order's success (twice:
    jobs run at least once): one interval, for the order's tenant and pool."""
    async with sessions() as session:
        tenant, pool = Tenant(id=uuid.uuid4(), name="acme"), Pool(id=uuid.uuid4(), name="p")
        session.add_all([tenant, pool])
        await session.commit()
        (number,) = await tenancy.seed_numbers(sessions, tenancy.german_numbers(1))
        order = Operation(
            id=uuid.uuid4(),
            kind="order",
            status="succeeded",
            number=number,
            tenant_id=tenant.id,
            params={"payment_interval": "monthly", "pool": str(pool.id)},
        )
        unowned = Operation(
            id=uuid.uuid4(), kind="order", number=number, params={"payment_interval": "monthly"}
        )
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
    client: Client, admin_headers: Headers, sessions: tenancy.Sessions
) -> None:
    """A holder set outside the allocation verbs (data from before intervals existed)."""
    tenant, key = await tenancy.create_tenant(client, admin_headers, "acme")
    created = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
    (number,) = await tenancy.seed_numbers(
        sessions, tenancy.german_numbers(1), tenant_id=uuid.UUID(tenant), seven_created_at=created
    )
    released = await client.delete(f"/v1/allocations/{number}", headers=tenancy.key_headers(key))
    assert released.status_code == 200, released.text
    assert (released.json()["tenant"], released.json()["allocated_at"]) == (
        tenant,
        "2026-10-01T08:00:00Z",
    )
    assert (
        await client.get(f"/v1/numbers/{number}", headers=tenancy.key_headers(key))
    ).status_code == 404


# -- handing a number over: what a holder set goes with the holder ----------------------


async def _numbers_at_seven(
    client: Client,
    admin_headers: Headers,
    settings: Settings,
    sandbox: SandboxProcess,
    count: int,
    **pool_fields: Any,
) -> tuple[str, list[str]]:
    """``count`` numbers ordered through the service (the worker run), in a new pool."""
    numbers = available_numbers(sandbox, count)
    for number in numbers:
        await order(client, admin_headers, number)
    run_burst(settings)
    pool = await tenancy.create_pool(client, admin_headers, numbers, **pool_fields)
    return pool, numbers


async def _set_by_holder(client: Client, headers: Headers, number: str) -> None:
    """Forwarding and a name, set the way a tenant sets them (the worker must run)."""
    change = await client.patch(
        f"/v1/numbers/{number}",
        json={
            "friendly_name": "alpha 2FA",
            "sms_forward": ["+49 176 12345678"],
            "email_forward": ["codes@alpha.example"],
        },
        headers=headers,
    )
    assert change.status_code == 202, change.text


def _targets(number: dict[str, Any]) -> list[str]:
    """Where a number's inbound SMS go, and its name: what a holder sets at seven."""
    forward = number["forward_sms_mo"]
    sent_to = [
        *forward.get("sms", {}).get("number", []),
        *forward.get("email", {}).get("address", []),
        *filter(None, [(forward.get("slack") or {}).get("uri")]),
    ]
    enabled = [name for name, channel in forward.items() if (channel or {}).get("enabled")]
    return [*sent_to, *enabled, *filter(None, [number["friendly_name"]])]


def _at_seven(sandbox: SandboxProcess, number: str) -> dict[str, Any]:
    answer = sandbox.api("GET", f"/numbers/active/{number}")
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def _allocate(client: Client, pool: str, headers: Headers) -> tuple[int, str]:
    """(status, the number or the error code)."""
    answer = await client.post("/v1/allocations", json={"pool": pool}, headers=headers)
    body = answer.json()
    return answer.status_code, body.get("number") or body.get("code")


ALPHA_AT_SEVEN = ["4917612345678", "codes@alpha.example", "sms", "email", "alpha 2FA"]


@dataclass(frozen=True)
class Held:
    """A number at seven, in a pool without cool-down, held by tenant alpha, who set its
    forwards and name there (``ALPHA_AT_SEVEN``); beta is the next tenant in line."""

    pool: str
    number: str
    alpha: Headers
    beta: Headers


@pytest.fixture
async def held(
    client: Client, admin_headers: Headers, settings: Settings, fresh_sandbox: SandboxProcess
) -> Held:
    pool, (number,) = await _numbers_at_seven(
        client, admin_headers, settings, fresh_sandbox, 1, cooldown_days=0
    )
    _, alpha_key = await tenancy.create_tenant(client, admin_headers, "alpha")
    _, beta_key = await tenancy.create_tenant(client, admin_headers, "beta")
    alpha = tenancy.key_headers(alpha_key)
    assert await _allocate(client, pool, alpha) == (201, number)
    await _set_by_holder(client, alpha, number)
    run_burst(settings)
    beta = tenancy.key_headers(beta_key)
    return Held(pool, number, alpha, beta)


async def test_the_next_holder_gets_the_number_without_anything_the_previous_one_set(
    client: Client,
    admin_headers: Headers,
    settings: Settings,
    fresh_sandbox: SandboxProcess,
    held: Held,
) -> None:
    pool, number, alpha, beta = held.pool, held.number, held.alpha, held.beta
    assert _targets(_at_seven(fresh_sandbox, number)) == ALPHA_AT_SEVEN

    released = await client.delete(
        f"/v1/allocations/{number}", headers={**alpha, "X-Request-Id": "req-release"}
    )
    assert released.status_code == 200, released.text
    clearing = released.json()["clearing_operation"]
    assert released.json()["available_at"] is None

    # Between the release and the clearing's success seven still forwards to alpha, and
    # nobody gets the number.
    between = (await client.get(f"/v1/numbers/{number}", headers=admin_headers)).json()
    assert (between["tenant"], between["handover"], between["handover_operation"]) == (
        None,
        "clearing",
        clearing,
    )
    assert between["pending_operation"] == clearing
    counts = (await client.get(f"/v1/pools/{pool}", headers=admin_headers)).json()
    assert (counts["numbers"], counts["free"], counts["clearing"]) == (1, 0, 1)
    assert counts["cooling"] == 0  # not cleared yet: its cool-down has not begun
    exhausted = await client.post("/v1/allocations", json={"pool": pool}, headers=beta)
    assert (exhausted.status_code, exhausted.json()["details"]) == (409, {"next_free_at": None})
    assert "None is cooling down" in exhausted.json()["message"]
    assert _targets(_at_seven(fresh_sandbox, number)) == ALPHA_AT_SEVEN

    run_burst(settings)
    done = (await client.get(f"/v1/operations/{clearing}", headers=admin_headers)).json()
    assert (done["kind"], done["status"], done["number"]) == ("update", "succeeded", number)
    assert _targets(_at_seven(fresh_sandbox, number)) == []

    assert await _allocate(client, pool, beta) == (201, number)
    seen = (await client.get(f"/v1/numbers/{number}", headers=beta)).json()
    assert _targets(seen) == []
    assert (seen["handover"], seen["handover_operation"]) == (None, None)
    # The clearing is alpha's operation, not beta's.
    assert (await client.get(f"/v1/operations/{clearing}", headers=beta)).status_code == 404
    assert (await client.get(f"/v1/operations/{clearing}", headers=alpha)).status_code == 200

    # The release and the clearing it queued are on the audit trail, under one request.
    trail = await client.get(
        "/v1/audit", params={"target": f"number:{number}"}, headers=admin_headers
    )
    assert [
        (r["action"], r["outcome"], r["details"])
        for r in trail.json()["items"]
        if r["request_id"] == "req-release"
    ] == [
        ("allocation.release", "ok", {"clearing_operation": clearing}),
        ("operation.update", "ok", {"operation": clearing}),
    ]


async def test_the_cooldown_runs_from_the_clearings_success(
    client: Client,
    admin_headers: Headers,
    settings: Settings,
    fresh_sandbox: SandboxProcess,
    sessions: tenancy.Sessions,
) -> None:
    pool, (number,) = await _numbers_at_seven(client, admin_headers, settings, fresh_sandbox, 1)
    assert (await client.get(f"/v1/pools/{pool}", headers=admin_headers)).json()[
        "cooldown_days"
    ] == 7
    alpha, alpha_key = await tenancy.create_tenant(client, admin_headers, "alpha")
    beta, _ = await tenancy.create_tenant(client, admin_headers, "beta")
    assert await _allocate(client, pool, tenancy.key_headers(alpha_key)) == (201, number)
    released = await client.delete(
        f"/v1/allocations/{number}", headers=tenancy.key_headers(alpha_key)
    )
    assert released.status_code == 200, released.text

    async with sessions() as session:
        before_clearing = await service.db_now(session)
    run_burst(settings)
    async with sessions() as session:
        interval = await session.get_one(Allocation, uuid.UUID(released.json()["id"]))
        clearing = await session.get_one(
            Operation, uuid.UUID(released.json()["clearing_operation"])
        )
    assert (clearing.status, interval.available_at is not None) == ("succeeded", True)
    assert clearing.finished_at is not None and interval.available_at is not None
    # Alpha's time ended at the release (the cost reports charge alpha up to then);
    # the week's rest began when seven had cleared what alpha set.
    assert interval.released_at is not None
    assert interval.released_at < before_clearing
    assert interval.available_at >= before_clearing + timedelta(days=7)
    assert abs(interval.available_at - (clearing.finished_at + timedelta(days=7))) < (
        timedelta(seconds=1)
    )

    async def allocate(at: datetime) -> str:
        async with sessions() as session:
            try:
                number = await service.allocate(
                    session, ADMIN, uuid.UUID(pool), uuid.UUID(beta), at=at
                )
            except Conflict as error:
                return error.code
            await session.commit()  # as a request's handler does when it returns
            return number.number

    ends = interval.available_at
    # The pool shows the number cooling beside free and held, and the refusal says when
    # it will be free.
    counts = (await client.get(f"/v1/pools/{pool}", headers=admin_headers)).json()
    assert (counts["allocated"], counts["free"], counts["cooling"]) == (0, 0, 1)
    listed = (await client.get("/v1/pools", headers=admin_headers)).json()
    assert [p["cooling"] for p in listed] == [1]
    refused = await client.post(
        "/v1/allocations", json={"pool": pool, "tenant": beta}, headers=admin_headers
    )
    assert (refused.status_code, refused.json()["code"]) == (409, "pool_exhausted")
    when = ends.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert refused.json()["details"] == {"next_free_at": when}
    assert when in refused.json()["message"]
    assert await allocate(interval.released_at + timedelta(days=7)) == "pool_exhausted"
    assert await allocate(ends - timedelta(seconds=1)) == "pool_exhausted"
    assert await allocate(ends) == number
    async with sessions() as session:
        intervals = (
            await session.scalars(select(Allocation).order_by(Allocation.allocated_at))
        ).all()
    assert [(str(a.tenant_id), a.released_at) for a in intervals] == [
        (alpha, interval.released_at),
        (beta, None),
    ]


async def test_a_release_while_an_operation_on_the_number_is_pending_is_number_busy(
    client: Client,
    admin_headers: Headers,
    settings: Settings,
    fresh_sandbox: SandboxProcess,
) -> None:
    pool, (number,) = await _numbers_at_seven(
        client, admin_headers, settings, fresh_sandbox, 1, cooldown_days=0
    )
    alpha, alpha_key = await tenancy.create_tenant(client, admin_headers, "alpha")
    headers = tenancy.key_headers(alpha_key)
    assert await _allocate(client, pool, headers) == (201, number)
    change = await client.patch(
        f"/v1/numbers/{number}", json={"friendly_name": "still mine"}, headers=headers
    )
    assert change.status_code == 202, change.text

    refused = await client.delete(f"/v1/allocations/{number}", headers=headers)
    assert (refused.status_code, refused.json()["code"]) == (409, "number_busy"), refused.text
    assert refused.json()["details"] == {"operation": change.json()["id"]}
    # Nothing ended and nothing was queued: alpha still holds it.
    mine = (await client.get(f"/v1/numbers/{number}", headers=headers)).json()
    assert (mine["tenant"], mine["handover"], mine["pending_operation"]) == (
        alpha,
        None,
        change.json()["id"],
    )
    held = (await client.get("/v1/allocations", headers=headers)).json()
    assert [(a["number"], a["released_at"]) for a in held] == [(number, None)]

    run_burst(settings)
    released = await client.delete(f"/v1/allocations/{number}", headers=headers)
    assert released.status_code == 200, released.text


async def test_a_failed_clearing_keeps_the_number_from_everyone_until_an_admin_clears_again(
    client: Client,
    admin_headers: Headers,
    settings: Settings,
    fresh_sandbox: SandboxProcess,
    held: Held,
) -> None:
    pool, number, beta = held.pool, held.number, held.beta

    fresh_sandbox.add_fault("refuse", "update", number=number, message="Number is locked.")
    released = await client.delete(f"/v1/allocations/{number}", headers=held.alpha)
    first = released.json()["clearing_operation"]
    run_burst(settings)

    failed = (await client.get(f"/v1/operations/{first}", headers=admin_headers)).json()
    assert (failed["status"], failed["error"]["code"]) == ("failed", "update_refused")
    assert "Number is locked." in failed["error"]["message"]
    stuck = (await client.get(f"/v1/numbers/{number}", headers=admin_headers)).json()
    assert (stuck["handover"], stuck["handover_operation"], stuck["pending_operation"]) == (
        "clearing_failed",
        first,
        None,
    )
    counts = (await client.get(f"/v1/pools/{pool}", headers=admin_headers)).json()
    assert (counts["free"], counts["clearing"], counts["clearing_failed"]) == (0, 0, 1)
    assert await _allocate(client, pool, beta) == (409, "pool_exhausted")
    assert _targets(_at_seven(fresh_sandbox, number)) == ALPHA_AT_SEVEN

    # Clearing again is an admin's: a tenant key gets a 404.
    for tenant in (held.alpha, beta):
        denied = await client.post(f"/v1/allocations/{number}/clearing", headers=tenant)
        assert denied.status_code == 404
    retry = await client.post(f"/v1/allocations/{number}/clearing", headers=admin_headers)
    assert retry.status_code == 202, retry.text
    second = retry.json()["id"]
    assert retry.headers["location"] == f"/v1/operations/{second}"
    assert (retry.json()["kind"], retry.json()["params"]) == (
        "update",
        {"friendly_name": "", "sms_forward": [], "email_forward": [], "slack_forward": []},
    )
    again = await client.post(f"/v1/allocations/{number}/clearing", headers=admin_headers)
    assert (again.status_code, again.json()["code"]) == (409, "number_busy")
    run_burst(settings)

    assert (await client.get(f"/v1/operations/{second}", headers=admin_headers)).json()[
        "status"
    ] == "succeeded"
    assert _targets(_at_seven(fresh_sandbox, number)) == []
    assert await _allocate(client, pool, beta) == (201, number)
    assert _targets((await client.get(f"/v1/numbers/{number}", headers=beta)).json()) == []
    # The operation is alpha's (its settings were cleared), whoever asked for it.
    alphas = await client.get("/v1/operations", params={"kind": "update"}, headers=held.alpha)
    assert {op["id"] for op in alphas.json()["items"]} >= {first, second}


@pytest.mark.parametrize("comes_back", ["listed-again", "ordered-again"])
async def test_a_held_number_deleted_and_back_is_handed_on_without_its_holders_settings(
    client: Client,
    admin_headers: Headers,
    settings: Settings,
    fresh_sandbox: SandboxProcess,
    comes_back: str,
    held: Held,
) -> None:
    pool, number, beta = held.pool, held.number, held.beta
    alpha_settings = _at_seven(fresh_sandbox, number)

    async def sync() -> None:
        # Forced: the one number of the account leaving is more than the guard allows.
        started = await client.post("/v1/sync", json={"force": True}, headers=admin_headers)
        assert started.status_code == 202, started.text
        run_burst(settings)

    # seven no longer has the number: the sync confirms it gone and alpha's holding ends.
    fresh_sandbox.remove_active(number)
    await sync()
    gone = (await client.get(f"/v1/numbers/{number}", headers=admin_headers)).json()
    assert (gone["state"], gone["tenant"], gone["handover"]) == ("deleted", None, "uncleared")

    if comes_back == "listed-again":
        # seven lists it again, with what alpha set (the deletion was seven's glitch).
        fresh_sandbox.put_active(
            number,
            friendly_name=alpha_settings["friendly_name"],
            forward_sms_mo=alpha_settings["forward_sms_mo"],
        )
        await sync()
        back = (await client.get(f"/v1/numbers/{number}", headers=admin_headers)).json()
        assert (back["state"], back["tenant"], back["handover"]) == ("active", None, "uncleared")
        counts = (await client.get(f"/v1/pools/{pool}", headers=admin_headers)).json()
        assert (counts["free"], counts["uncleared"]) == (0, 1)
        assert await _allocate(client, pool, beta) == (409, "pool_exhausted")
        retry = await client.post(f"/v1/allocations/{number}/clearing", headers=admin_headers)
        assert retry.status_code == 202, retry.text
    else:
        # Ordered anew: a new rental, which carries nothing of the old one.
        await order(client, admin_headers, number, pool=pool)
    run_burst(settings)

    assert _targets(_at_seven(fresh_sandbox, number)) == []
    assert await _allocate(client, pool, beta) == (201, number)
    seen = (await client.get(f"/v1/numbers/{number}", headers=beta)).json()
    assert (_targets(seen), seen["state"], seen["handover"]) == ([], "active", None)


@pytest.mark.parametrize("at_seven", [True, False], ids=["seven-still-has-it", "gone-from-seven"])
async def test_a_missing_number_released_by_its_holder_is_cleared_if_seven_has_it(
    client: Client,
    admin_headers: Headers,
    settings: Settings,
    fresh_sandbox: SandboxProcess,
    at_seven: bool,
    sessions: tenancy.Sessions,
    held: Held,
) -> None:
    number = held.number
    # A short list from seven left it out: missing, still alpha's.
    async with sessions() as session:
        row = await session.get_one(Number, number)
        row.state, row.missing_since = "missing", await service.db_now(session)
        await session.commit()
    if not at_seven:
        fresh_sandbox.remove_active(number)

    released = await client.delete(f"/v1/allocations/{number}", headers=held.alpha)
    assert released.status_code == 200, released.text
    run_burst(settings)

    clearing = (
        await client.get(
            f"/v1/operations/{released.json()['clearing_operation']}", headers=admin_headers
        )
    ).json()
    after = (await client.get(f"/v1/numbers/{number}", headers=admin_headers)).json()
    if at_seven:
        # The clearing cleared it, and seven's answer ended "missing".
        assert clearing["status"] == "succeeded"
        assert (after["state"], after["missing_since"], after["handover"]) == ("active", None, None)
        assert _targets(_at_seven(fresh_sandbox, number)) == []
        assert _targets(after) == []
    else:
        # Nothing at seven to clear: the number stays out of reach; the sync settles it.
        assert (clearing["status"], clearing["error"]["code"]) == (
            "failed",
            "number_not_on_account",
        )
        assert (after["state"], after["tenant"], after["handover"]) == (
            "missing",
            None,
            "clearing_failed",
        )


async def _status_is(client: Client, url: str, headers: Headers, status: int) -> bool:
    return (await client.get(url, headers=headers)).status_code == status
