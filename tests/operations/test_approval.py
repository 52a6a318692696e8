"""Orders beyond a tenant's monthly budget awaiting an admin's approval: approved, they go
to seven as any order; rejected or expired, seven never hears of them."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from app.operations.approval import expire_approvals
from app.settings import Settings
from tests.support import tenancy
from tests.support.api import Client, Headers
from tests.support.cli import cli_output, run_cli
from tests.support.operations import available_numbers
from tests.support.sandbox import SandboxProcess
from tests.support.tenancy import create_tenant, key_headers
from tests.support.worker import run_burst


async def _tenant_approving_above(
    client: Client, admin: Headers, budget: str, **limits: Any
) -> tuple[str, Headers]:
    tenant, key = await create_tenant(client, admin, "acme")
    response = await client.patch(
        f"/v1/tenants/{tenant}",
        json={"limits": {"monthly_budget": budget, "over_budget": "approve", **limits}},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    return tenant, key_headers(key)


async def _awaiting(client: Client, headers: Headers, number: str) -> dict[str, Any]:
    response = await client.post(
        "/v1/orders", json={"number": number, "payment_interval": "monthly"}, headers=headers
    )
    assert response.status_code == 202, response.text
    operation = response.json()
    assert operation["status"] == "awaiting_approval"
    return dict(operation)


async def _event_types(client: Client, headers: Headers) -> list[str]:
    events = (await client.get("/v1/events", headers=headers)).json()["items"]
    return [event["type"] for event in reversed(events)]


async def test_an_approved_order_goes_to_seven_and_succeeds(
    client: Client, admin_headers: Headers, fresh_sandbox: SandboxProcess, settings: Settings
) -> None:
    _, tenant = await _tenant_approving_above(client, admin_headers, "0.00")
    (number,) = available_numbers(fresh_sandbox, 1)
    operation = await _awaiting(client, tenant, number)
    # Meanwhile the mirror shows the number being ordered, with the operation pending.
    shown = (await client.get(f"/v1/numbers/{number}", headers=tenant)).json()
    assert shown["state"] == "ordering"
    run_burst(settings)  # nothing for a worker to do: seven is not asked
    assert fresh_sandbox.orders_of(number) == 0

    # A tenant key cannot approve its own order: the admin route does not exist for it.
    own = await client.post(f"/v1/operations/{operation['id']}/approve", headers=tenant)
    assert own.status_code == 404
    approved = await client.post(f"/v1/operations/{operation['id']}/approve", headers=admin_headers)
    assert approved.status_code == 202, approved.text
    assert approved.json()["status"] == "queued"
    run_burst(settings)

    done = (await client.get(f"/v1/operations/{operation['id']}", headers=tenant)).json()
    assert done["status"] == "succeeded", done
    assert fresh_sandbox.orders_of(number) == 1
    assert (await client.get(f"/v1/numbers/{number}", headers=tenant)).json()["state"] == "active"
    again = await client.post(f"/v1/operations/{operation['id']}/approve", headers=admin_headers)
    assert (again.status_code, again.json()["code"]) == (409, "operation_not_awaiting_approval")
    types = await _event_types(client, tenant)
    assert types[:2] == ["operation.awaiting_approval", "operation.approved"]
    assert {"operation.succeeded", "number.ordered"} <= set(types[2:])
    audit = (await client.get("/v1/audit?action=operation.approve", headers=admin_headers)).json()
    assert [e["outcome"] for e in reversed(audit["items"])] == [
        "ok",
        "operation_not_awaiting_approval",
    ]


async def test_a_rejected_order_fails_with_the_reason_and_seven_never_hears_of_it(
    client: Client, admin_headers: Headers, fresh_sandbox: SandboxProcess, settings: Settings
) -> None:
    _, tenant = await _tenant_approving_above(client, admin_headers, "0.00")
    (number,) = available_numbers(fresh_sandbox, 1)
    operation = await _awaiting(client, tenant, number)
    path = f"/v1/operations/{operation['id']}/reject"

    assert (await client.post(path, json={"reason": "no"}, headers=tenant)).status_code == 404
    blank = await client.post(path, json={"reason": "  "}, headers=admin_headers)
    assert (blank.status_code, blank.json()["code"]) == (422, "invalid_reason")
    rejected = await client.post(path, json={"reason": "over budget"}, headers=admin_headers)
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "failed"
    assert rejected.json()["error"] == {
        "code": "rejected",
        "message": "Rejected by an admin: over budget",
    }
    run_burst(settings)
    assert fresh_sandbox.orders_of(number) == 0
    assert (await client.get(f"/v1/numbers/{number}", headers=tenant)).json()["state"] == "failed"
    assert await _event_types(client, tenant) == ["operation.awaiting_approval", "operation.failed"]
    audit = (await client.get("/v1/audit?action=operation.reject", headers=admin_headers)).json()
    assert [(e["outcome"], e["details"]) for e in reversed(audit["items"])][-1] == (
        "ok",
        {"reason": "over budget"},
    )
    approve = await client.post(f"/v1/operations/{operation['id']}/approve", headers=admin_headers)
    assert (approve.status_code, approve.json()["code"]) == (409, "operation_not_awaiting_approval")
    unknown = await client.post(f"/v1/operations/{uuid.uuid4()}/approve", headers=admin_headers)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "operation_not_found")


async def test_an_unapproved_order_expires(
    client: Client,
    admin_headers: Headers,
    fresh_sandbox: SandboxProcess,
    sessions: tenancy.Sessions,
) -> None:
    _, tenant = await _tenant_approving_above(client, admin_headers, "0.00")
    (number,) = available_numbers(fresh_sandbox, 1)
    operation = await _awaiting(client, tenant, number)

    async with sessions() as session:
        assert await expire_approvals(session, timedelta(hours=72)) == 0
    async with sessions() as session:
        assert await expire_approvals(session, timedelta(0)) == 1

    expired = (await client.get(f"/v1/operations/{operation['id']}", headers=tenant)).json()
    assert expired["status"] == "failed"
    assert expired["error"]["code"] == "approval_expired"
    assert (await client.get(f"/v1/numbers/{number}", headers=tenant)).json()["state"] == "failed"
    assert fresh_sandbox.orders_of(number) == 0


async def test_only_the_budget_can_be_approved_the_other_limits_refuse(
    client: Client, admin_headers: Headers, fresh_sandbox: SandboxProcess
) -> None:
    tenant_id, tenant = await _tenant_approving_above(client, admin_headers, "0.00", max_numbers=1)
    first, second = available_numbers(fresh_sandbox, 2)
    await _awaiting(client, tenant, first)  # awaiting, it holds its number
    refused = await client.post(
        "/v1/orders", json={"number": second, "payment_interval": "monthly"}, headers=tenant
    )
    assert (refused.status_code, refused.json()["details"]["limit"]) == (409, "max_numbers")
    # Within the budget, an order is queued as ever.
    await client.patch(
        f"/v1/tenants/{tenant_id}",
        json={"limits": {"max_numbers": None, "monthly_budget": None}},
        headers=admin_headers,
    )
    queued = await client.post(
        "/v1/orders", json={"number": second, "payment_interval": "monthly"}, headers=tenant
    )
    assert (queued.status_code, queued.json()["status"]) == (202, "queued")


async def test_an_operator_sets_limits_and_approves_or_rejects_from_the_cli(
    client: Client, admin_headers: Headers, fresh_sandbox: SandboxProcess, settings: Settings
) -> None:
    tenant_id, tenant = await _tenant_approving_above(client, admin_headers, "0.00")
    shown = json.loads(await cli_output(settings, "tenants", "limits", tenant_id))
    assert shown == {
        "max_numbers": None,
        "monthly_budget": "0.00",
        "orders_per_day": None,
        "over_budget": "approve",
    }
    changed = await cli_output(
        settings, "tenants", "limits", tenant_id, "--max-numbers", "4", "--orders-per-day", "none"
    )
    assert json.loads(changed)["max_numbers"] == 4
    refused = await run_cli(settings, "tenants", "limits", tenant_id, "--max-numbers", "-1")
    assert refused.exit_code != 0

    first, second = available_numbers(fresh_sandbox, 2)
    approved = await _awaiting(client, tenant, first)
    rejected = await _awaiting(client, tenant, second)
    assert "queued" in await cli_output(settings, "operations", "approve", approved["id"])
    out = await cli_output(
        settings, "operations", "reject", rejected["id"], "--reason", "not this month"
    )
    assert "failed" in out
    run_burst(settings)
    assert (fresh_sandbox.orders_of(first), fresh_sandbox.orders_of(second)) == (1, 0)
    again = await run_cli(settings, "operations", "approve", rejected["id"])
    assert again.exit_code == 1
    assert "operation_not_awaiting_approval" in again.output
