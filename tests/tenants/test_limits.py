"""Tenant limits: set by an admin, and refusing orders and allocations at exactly the limit,
concurrent ones included."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx

from app.costs.model import Month
from app.costs.service import berlin_today
from app.settings import Settings
from tests.support import tenancy
from tests.support.api import ApiProcess, Client, Headers
from tests.support.operations import available_numbers
from tests.support.sandbox import SandboxProcess
from tests.support.tenancy import create_tenant, key_headers
from tests.support.worker import run_burst


async def _limit(client: Client, admin: Headers, tenant: str, **limits: Any) -> dict[str, Any]:
    response = await client.patch(f"/v1/tenants/{tenant}", json={"limits": limits}, headers=admin)
    assert response.status_code == 200, response.text
    return dict(response.json()["limits"])


async def _order(client: httpx.AsyncClient, headers: Headers, number: str, **body: Any) -> Any:
    return await client.post(
        "/v1/orders",
        json={"number": number, "payment_interval": "monthly", **body},
        headers=headers,
    )


def _refused(response: Any, limit: str, value: Any, current: Any, requested: Any) -> None:
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["code"] == "limit_exceeded"
    assert body["details"] == {
        "limit": limit,
        "value": value,
        "current": current,
        "requested": requested,
    }


async def test_an_admin_sets_shows_and_clears_limits(
    client: Client, admin_headers: Headers
) -> None:
    tenant, key = await create_tenant(client, admin_headers, "acme")
    shown = (await client.get(f"/v1/tenants/{tenant}", headers=admin_headers)).json()
    assert shown["limits"] == {
        "max_numbers": None,
        "monthly_budget": None,
        "orders_per_day": None,
        "over_budget": "refuse",
    }
    assert await _limit(client, admin_headers, tenant, max_numbers=5, monthly_budget="50.5") == {
        "max_numbers": 5,
        "monthly_budget": "50.50",
        "orders_per_day": None,
        "over_budget": "refuse",
    }
    # Absent: as it is; null: no limit.
    changed = await _limit(
        client, admin_headers, tenant, max_numbers=None, orders_per_day=3, over_budget="approve"
    )
    assert changed == {
        "max_numbers": None,
        "monthly_budget": "50.50",
        "orders_per_day": 3,
        "over_budget": "approve",
    }
    listed = (await client.get("/v1/tenants", headers=admin_headers)).json()
    assert [t["limits"] for t in listed] == [changed]

    for bad in ({"max_numbers": -1}, {"monthly_budget": "-1.00"}, {"monthly_budget": "1.23456"}):
        refused = await client.patch(
            f"/v1/tenants/{tenant}", json={"limits": bad}, headers=admin_headers
        )
        assert refused.status_code == 422, refused.text
    empty = await client.patch(f"/v1/tenants/{tenant}", json={}, headers=admin_headers)
    assert (empty.status_code, empty.json()["code"]) == (422, "nothing_to_change")
    # A tenant key learns nothing of the route.
    own = await client.patch(
        f"/v1/tenants/{tenant}", json={"limits": {"max_numbers": 100}}, headers=key_headers(key)
    )
    assert own.status_code == 404
    audit = (await client.get("/v1/audit?action=tenant.update", headers=admin_headers)).json()
    assert [(e["outcome"], e["details"]) for e in reversed(audit["items"])][:2] == [
        ("ok", {"limits": {"max_numbers": 5, "monthly_budget": "50.50"}}),
        ("ok", {"limits": {"max_numbers": None, "orders_per_day": 3, "over_budget": "approve"}}),
    ]


async def test_max_numbers_refuses_the_order_past_it(
    client: Client, admin_headers: Headers, fresh_sandbox: SandboxProcess
) -> None:
    tenant, _ = await create_tenant(client, admin_headers, "acme")
    await _limit(client, admin_headers, tenant, max_numbers=2)
    first, second, third = available_numbers(fresh_sandbox, 3)
    assert (await _order(client, admin_headers, first, tenant=tenant)).status_code == 202
    assert (await _order(client, admin_headers, second, tenant=tenant)).status_code == 202
    _refused(await _order(client, admin_headers, third, tenant=tenant), "max_numbers", 2, 2, 1)
    # The other tenants' and the unheld numbers are no concern of the limit.
    assert (await _order(client, admin_headers, third)).status_code == 202


async def test_orders_per_day_counts_the_days_orders(
    client: Client, admin_headers: Headers, fresh_sandbox: SandboxProcess
) -> None:
    tenant, key = await create_tenant(client, admin_headers, "acme")
    await _limit(client, admin_headers, tenant, orders_per_day=2)
    first, second, third = available_numbers(fresh_sandbox, 3)
    assert (await _order(client, key_headers(key), first)).status_code == 202
    assert (await _order(client, admin_headers, second, tenant=tenant)).status_code == 202
    _refused(await _order(client, key_headers(key), third), "orders_per_day", 2, 2, 1)
    await _limit(client, admin_headers, tenant, orders_per_day=None)
    assert (await _order(client, key_headers(key), third)).status_code == 202


async def test_twenty_orders_at_once_under_max_numbers_five_give_five(
    client: Client, admin_headers: Headers, fresh_sandbox: SandboxProcess, settings: Settings
) -> None:
    tenant, key = await create_tenant(client, admin_headers, "acme")
    await _limit(client, admin_headers, tenant, max_numbers=5)
    numbers = available_numbers(fresh_sandbox, 20)

    # Served as in production (uvicorn, a socket): the requests really run side by side.
    with ApiProcess(settings) as api:
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
            answers = await asyncio.gather(
                *(_order(http, key_headers(key), number) for number in numbers)
            )

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [202] * 5 + [409] * 15, [a.text for a in answers if a.status_code >= 400]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"limit_exceeded"}
    held = (await client.get("/v1/numbers", headers=key_headers(key))).json()["items"]
    assert len(held) == 5


async def test_the_budget_counts_the_months_charges_and_the_orders_in_flight(
    client: Client,
    admin_headers: Headers,
    fresh_sandbox: SandboxProcess,
    settings: Settings,
) -> None:
    tenant, key = await create_tenant(client, admin_headers, "acme")
    offers = fresh_sandbox.available()[:3]
    # What the cost rules charge in its first month for a number ordered monthly today:
    # its setup and its first basic charge.
    charge = [
        Decimal(str(o["fees"]["monthly"]["setup"]))
        + Decimal(str(o["fees"]["monthly"]["basic_charge"]))
        for o in offers
    ]
    budget = charge[0] + charge[1]
    await _limit(client, admin_headers, tenant, monthly_budget=str(budget))
    first, second, third = (o["number"] for o in offers)

    assert (await _order(client, key_headers(key), first)).status_code == 202
    run_burst(settings)  # active, with seven's fees: in the month's cost report from now on
    costs = (
        await client.get(f"/v1/costs?month={Month.of(berlin_today())}", headers=key_headers(key))
    ).json()
    assert Decimal(costs["totals"]["total"]) == charge[0]
    # The second reaches the budget exactly and stays queued (no worker): in flight, it
    # counts at its price.
    assert (await _order(client, key_headers(key), second)).status_code == 202
    _refused(
        await _order(client, key_headers(key), third),
        "monthly_budget",
        f"{budget:.2f}",
        f"{budget:.2f}",
        f"{charge[2]:.2f}",
    )


async def test_allocations_and_order_if_empty_meet_the_limits(
    client: Client,
    admin_headers: Headers,
    sessions: tenancy.Sessions,
    fresh_sandbox: SandboxProcess,
) -> None:
    numbers = await tenancy.seed_numbers(sessions, tenancy.german_numbers(3))
    pool = await tenancy.create_pool(client, admin_headers, numbers, country="DE")
    tenant, key = await create_tenant(client, admin_headers, "acme")
    await _limit(client, admin_headers, tenant, max_numbers=2)

    async def allocate(**body: Any) -> Any:
        return await client.post(
            "/v1/allocations", json={"pool": pool, **body}, headers=key_headers(key)
        )

    assert (await allocate()).status_code == 201
    assert (await allocate()).status_code == 201
    _refused(await allocate(), "max_numbers", 2, 2, 1)

    # The pool's last number goes to another tenant; an order into it counts toward all
    # three limits.
    other, _ = await create_tenant(client, admin_headers, "other")
    given = await client.post(
        "/v1/allocations", json={"pool": pool, "tenant": other}, headers=admin_headers
    )
    assert given.status_code == 201, given.text
    await _limit(client, admin_headers, tenant, max_numbers=3, orders_per_day=1)
    ordered = await allocate(order_if_empty=True, payment_interval="monthly")
    assert ordered.status_code == 202, ordered.text
    _refused(
        await allocate(order_if_empty=True, payment_interval="monthly"), "max_numbers", 3, 3, 1
    )
    await _limit(client, admin_headers, tenant, max_numbers=None)
    _refused(
        await allocate(order_if_empty=True, payment_interval="monthly"),
        "orders_per_day",
        1,
        1,
        1,
    )
