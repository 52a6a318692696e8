"""Bulk orders: distinct numbers from seven's offer, each an ordinary order paid once,
places refilled when a number is taken meanwhile, never more than ``count``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from app.db.models import Number
from app.settings import Settings
from tests.support import tenancy
from tests.support.api import Client, Headers
from tests.support.operations import fast, wait_finished
from tests.support.polling import until
from tests.support.sandbox import SandboxProcess
from tests.support.worker import WorkerProcess

# What seven answers an order of a number someone else has just bought.
TAKEN = "Number is not available."


async def _bulk_order(client: Client, headers: Headers, **body: Any) -> dict[str, Any]:
    body.setdefault("payment_interval", "monthly")
    response = await client.post("/v1/orders/bulk", json=body, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()


async def _children(client: Client, headers: Headers, parent: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/operations?parent={parent}&limit=200", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_a_bulk_of_20_with_3_taken_meanwhile_ends_with_20_numbers_each_ordered_once(
    client: Client,
    admin_headers: Headers,
    settings: Settings,
    fresh_sandbox: SandboxProcess,
    sessions: tenancy.Sessions,
) -> None:
    pool = await tenancy.create_pool(client, admin_headers, name="bulk-de", country="DE")
    offered = [n["number"] for n in fresh_sandbox.available(country="DE")]
    assert len(offered) >= 23
    # Three of the numbers the bulk picks first are bought by someone else before their
    # child order reaches seven: seven refuses those orders as it does a taken number.
    taken = offered[2:5]
    for number in taken:
        fresh_sandbox.add_fault("refuse", "order", times=None, number=number, message=TAKEN)

    parent = await _bulk_order(client, admin_headers, country="DE", count=20, pool=pool)
    assert (parent["kind"], parent["status"]) == ("bulk_order", "queued")
    assert parent["progress"] == {"succeeded": 0, "failed": 0, "pending": 0}
    assert parent["children"] == f"/v1/operations?parent={parent['id']}"
    with WorkerProcess(fast(settings)):
        done = await wait_finished(client, admin_headers, parent["id"], within=90)

    assert done["status"] == "succeeded", done
    assert done["progress"] == {"succeeded": 20, "failed": 3, "pending": 0}
    children = await _children(client, admin_headers, parent["id"])
    assert len(children) == 23
    assert len({child["number"] for child in children}) == 23  # never a number twice
    assert {c["number"] for c in children if c["status"] == "failed"} == set(taken)
    assert all(c["kind"] == "order" and c["parent"] == parent["id"] for c in children)
    ordered = {c["number"] for c in children if c["status"] == "succeeded"}

    ledger = fresh_sandbox.ledger()
    assert set(ledger) == ordered  # 20 orders at seven, none of the taken numbers
    assert all(len(entries) == 1 for entries in ledger.values())  # each paid once
    async with sessions() as session:
        rows = (await session.scalars(select(Number).where(Number.pool_id == pool))).all()
    assert {row.number for row in rows if row.state == "active"} == ordered
    assert len(ordered) == 20
    # Its end is news like any operation's, with the final counts.
    events = await client.get(
        "/v1/events?type=operation.succeeded&limit=100", headers=admin_headers
    )
    (news,) = [e["data"] for e in events.json()["items"] if e["data"]["id"] == parent["id"]]
    assert news["progress"] == {"succeeded": 20, "failed": 3, "pending": 0}


async def test_a_bulk_order_fails_with_its_counts_when_seven_offers_too_few(
    client: Client, admin_headers: Headers, settings: Settings, fresh_sandbox: SandboxProcess
) -> None:
    offered = [n["number"] for n in fresh_sandbox.available(country="DE")]
    parent = await _bulk_order(client, admin_headers, country="DE", count=len(offered) + 2)
    with WorkerProcess(fast(settings)):
        done = await wait_finished(client, admin_headers, parent["id"], within=90)

    assert done["status"] == "failed"
    assert done["error"]["code"] == "offer_exhausted"
    assert f"{len(offered)} of {len(offered) + 2} numbers ordered" in done["error"]["message"]
    assert done["progress"] == {"succeeded": len(offered), "failed": 0, "pending": 0}
    assert sorted(fresh_sandbox.ledger()) == sorted(offered)


async def test_a_worker_killed_midway_resumes_without_ordering_more_or_twice(
    client: Client, admin_headers: Headers, settings: Settings, fresh_sandbox: SandboxProcess
) -> None:
    # Slow orders, so the worker dies with children queued, running and done.
    fresh_sandbox.add_fault("latency", "order", times=None, ms=300)
    parent = await _bulk_order(client, admin_headers, country="DE", count=8)
    worker = WorkerProcess(fast(settings)).start()
    try:

        async def some_ordered() -> bool:
            return len(fresh_sandbox.ledger()) >= 2

        await until(some_ordered, "the first orders", within=30)
        worker.kill()
    finally:
        worker.stop()
    with WorkerProcess(fast(settings)):
        done = await wait_finished(client, admin_headers, parent["id"], within=90)

    assert done["status"] == "succeeded", done
    children = await _children(client, admin_headers, parent["id"])
    assert len(children) == 8
    ledger = fresh_sandbox.ledger()
    assert len(ledger) == 8
    assert all(len(entries) == 1 for entries in ledger.values())


async def test_bulk_order_validation(client: Client, admin_headers: Headers) -> None:
    for count in (0, 101):
        response = await client.post(
            "/v1/orders/bulk",
            json={"country": "DE", "count": count, "payment_interval": "monthly"},
            headers=admin_headers,
        )
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "validation_error"
        assert "count" in response.text
    missing_interval = await client.post(
        "/v1/orders/bulk", json={"country": "DE", "count": 2}, headers=admin_headers
    )
    assert (missing_interval.status_code, missing_interval.json()["code"]) == (
        422,
        "payment_interval_required",
    )
    bad_country = await client.post(
        "/v1/orders/bulk",
        json={"country": "XX", "count": 2, "payment_interval": "monthly"},
        headers=admin_headers,
    )
    assert (bad_country.status_code, bad_country.json()["code"]) == (422, "invalid_country")
    bad_feature = await client.post(
        "/v1/orders/bulk",
        json={"country": "DE", "count": 2, "payment_interval": "monthly", "features": ["fax"]},
        headers=admin_headers,
    )
    assert (bad_feature.status_code, bad_feature.json()["code"]) == (422, "invalid_features")


async def test_a_tenant_key_orders_for_itself_and_sees_only_its_own_bulk(
    client: Client, admin_headers: Headers, settings: Settings, fresh_sandbox: SandboxProcess
) -> None:
    tenant, key = await tenancy.create_tenant(client, admin_headers, "acme")
    other, other_key = await tenancy.create_tenant(client, admin_headers, "globex")
    mine = await _bulk_order(client, tenancy.key_headers(key), country="DE", count=2)
    assert mine["tenant"] == tenant
    with WorkerProcess(fast(settings)):
        done = await wait_finished(client, tenancy.key_headers(key), mine["id"], within=60)
    assert done["status"] == "succeeded", done
    children = await _children(client, tenancy.key_headers(key), mine["id"])
    assert [c["tenant"] for c in children] == [tenant, tenant]
    assert await _children(client, tenancy.key_headers(other_key), mine["id"]) == []
    for_other = await client.post(
        "/v1/orders/bulk",
        json={"country": "DE", "count": 2, "payment_interval": "monthly", "tenant": other},
        headers=tenancy.key_headers(key),
    )
    assert (for_other.status_code, for_other.json()["code"]) == (404, "tenant_not_found")
    seen = await client.get(f"/v1/operations/{mine['id']}", headers=tenancy.key_headers(other_key))
    assert seen.status_code == 404


async def test_the_same_idempotency_key_returns_the_first_bulk_order(
    client: Client, admin_headers: Headers
) -> None:
    headers = {**admin_headers, "Idempotency-Key": "bulk-1"}
    body = {"country": "DE", "count": 3, "payment_interval": "monthly"}
    first = await client.post("/v1/orders/bulk", json=body, headers=headers)
    again = await client.post("/v1/orders/bulk", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    other = await client.post("/v1/orders/bulk", json={**body, "count": 4}, headers=headers)
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")


async def test_a_bulk_order_is_checked_against_the_tenants_limits_for_its_whole_count(
    client: Client, admin_headers: Headers, settings: Settings, fresh_sandbox: SandboxProcess
) -> None:
    tenant, key = await tenancy.create_tenant(client, admin_headers, "acme")
    limited = await client.patch(
        f"/v1/tenants/{tenant}", json={"limits": {"max_numbers": 3}}, headers=admin_headers
    )
    assert limited.status_code == 200, limited.text
    body = {"country": "DE", "count": 4, "payment_interval": "monthly"}
    refused = await client.post("/v1/orders/bulk", json=body, headers=tenancy.key_headers(key))
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "limit_exceeded"
    assert refused.json()["details"] == {
        "limit": "max_numbers",
        "value": 3,
        "current": 0,
        "requested": 4,
    }
    # A budget: every number priced at seven's dearest fitting offer, up front.
    offer = (await client.get("/v1/available-numbers?country=DE", headers=admin_headers)).json()
    dearest = max(
        Decimal(n["fees"]["monthly"]["setup"]) + Decimal(n["fees"]["monthly"]["basic_charge"])
        for n in offer["items"]
    )
    budgeted = await client.patch(
        f"/v1/tenants/{tenant}",
        json={"limits": {"max_numbers": None, "monthly_budget": str(dearest * 2)}},
        headers=admin_headers,
    )
    assert budgeted.status_code == 200, budgeted.text
    over = await client.post(
        "/v1/orders/bulk", json={**body, "count": 3}, headers=tenancy.key_headers(key)
    )
    assert (over.status_code, over.json()["details"]["limit"]) == (409, "monthly_budget")
    within = await _bulk_order(client, tenancy.key_headers(key), country="DE", count=2)
    with WorkerProcess(fast(settings)):
        done = await wait_finished(client, tenancy.key_headers(key), within["id"], within=60)
    assert done["status"] == "succeeded", done
    assert len(await _children(client, tenancy.key_headers(key), within["id"])) == 2
