"""Bulk updates: one ordinary update per matching number, a filter required, a tenant
key's own numbers only."""

from __future__ import annotations

from typing import Any

from app.settings import Settings
from tests.support import tenancy
from tests.support.api import Client, Headers
from tests.support.operations import fast, rent, wait_finished
from tests.support.sandbox import SandboxProcess
from tests.support.worker import WorkerProcess

CHANGE = {"friendly_name": "support line", "sms_forward": ["+49 170 1234567"]}


def _names(sandbox: SandboxProcess) -> dict[str, str]:
    return {n["number"]: n["friendly_name"] for n in sandbox.active()}


async def _bulk_update(
    client: Client, headers: Headers, query: str, body: dict[str, Any] = CHANGE
) -> dict[str, Any]:
    response = await client.patch(f"/v1/numbers?{query}", json=body, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()


async def test_a_bulk_update_of_a_pool_changes_every_number_in_it_at_seven(
    client: Client,
    admin_headers: Headers,
    settings: Settings,
    fresh_sandbox: SandboxProcess,
    sessions: tenancy.Sessions,
) -> None:
    numbers = await tenancy.seed_numbers(sessions, rent(fresh_sandbox, 5))
    in_pool, outside = numbers[:3], numbers[3:]
    pool = await tenancy.create_pool(client, admin_headers, in_pool)

    parent = await _bulk_update(client, admin_headers, f"pool={pool}")
    assert (parent["kind"], parent["status"], parent["params"]["pool"]) == (
        "bulk_update",
        "queued",
        pool,
    )
    with WorkerProcess(fast(settings)):
        done = await wait_finished(client, admin_headers, parent["id"], within=60)

    assert done["status"] == "succeeded", done
    assert done["progress"] == {"succeeded": 3, "failed": 0, "pending": 0}
    names = _names(fresh_sandbox)
    assert {number: names[number] for number in in_pool} == dict.fromkeys(in_pool, "support line")
    assert {number: names[number] for number in outside} == dict.fromkeys(outside, "")
    forwarded = {n["number"]: n["forward_sms_mo"]["sms"]["number"] for n in fresh_sandbox.active()}
    assert all(forwarded[number] == ["491701234567"] for number in in_pool)
    children = (
        await client.get(f"/v1/operations?parent={parent['id']}", headers=admin_headers)
    ).json()["items"]
    assert sorted(c["number"] for c in children) == sorted(in_pool)
    assert {(c["kind"], c["status"]) for c in children} == {("update", "succeeded")}
    # Audited as one request: the parent.
    audit = (await client.get("/v1/audit", headers=admin_headers)).json()["items"]
    assert [e["action"] for e in audit if e["action"].startswith("operation.")] == [
        "operation.bulk_update"
    ]


async def test_a_tenant_key_changes_only_its_own_numbers(
    client: Client,
    admin_headers: Headers,
    settings: Settings,
    fresh_sandbox: SandboxProcess,
    sessions: tenancy.Sessions,
) -> None:
    numbers = await tenancy.seed_numbers(sessions, rent(fresh_sandbox, 3))
    pool = await tenancy.create_pool(client, admin_headers, numbers)
    tenant, key = await tenancy.create_tenant(client, admin_headers, "acme")
    held = await client.post(
        "/v1/allocations", json={"pool": pool}, headers=tenancy.key_headers(key)
    )
    assert held.status_code == 201, held.text
    mine = held.json()["number"]

    parent = await _bulk_update(client, tenancy.key_headers(key), f"pool={pool}")
    assert parent["tenant"] == tenant
    with WorkerProcess(fast(settings)):
        done = await wait_finished(client, tenancy.key_headers(key), parent["id"], within=60)

    assert done["progress"] == {"succeeded": 1, "failed": 0, "pending": 0}
    names = _names(fresh_sandbox)
    assert [number for number in numbers if names[number] == "support line"] == [mine]
    _, other_key = await tenancy.create_tenant(client, admin_headers, "globex")
    hidden = await client.get(
        f"/v1/operations/{parent['id']}", headers=tenancy.key_headers(other_key)
    )
    assert hidden.status_code == 404
    someone_else = await client.patch(
        f"/v1/numbers?tenant={tenant}", json=CHANGE, headers=tenancy.key_headers(other_key)
    )
    assert (someone_else.status_code, someone_else.json()["code"]) == (404, "tenant_not_found")


async def test_a_busy_number_is_skipped_and_named(
    client: Client,
    admin_headers: Headers,
    settings: Settings,
    fresh_sandbox: SandboxProcess,
    sessions: tenancy.Sessions,
) -> None:
    numbers = await tenancy.seed_numbers(sessions, rent(fresh_sandbox, 2))
    pool = await tenancy.create_pool(client, admin_headers, numbers)
    # The single change is still at seven when the bulk update looks at the number.
    fresh_sandbox.add_fault("latency", "update", number=numbers[0], ms=4000)
    busy = await client.patch(
        f"/v1/numbers/{numbers[0]}", json={"friendly_name": "first"}, headers=admin_headers
    )
    assert busy.status_code == 202, busy.text

    parent = await _bulk_update(client, admin_headers, f"pool={pool}")
    with WorkerProcess(fast(settings)):
        done = await wait_finished(client, admin_headers, parent["id"], within=60)

    assert done["status"] == "failed"
    assert done["error"]["code"] == "bulk_incomplete"
    assert done["progress"] == {"succeeded": 1, "failed": 0, "pending": 0}
    assert [w["code"] for w in done["warnings"]] == ["number_busy"]
    assert numbers[0] in done["warnings"][0]["message"]


async def test_bulk_update_validation(client: Client, admin_headers: Headers) -> None:
    unfiltered = await client.patch("/v1/numbers", json=CHANGE, headers=admin_headers)
    assert (unfiltered.status_code, unfiltered.json()["code"]) == (422, "filter_required")
    pool = "3f2b8c1e-5d4a-4e7b-9c6f-0a1b2c3d4e5f"
    nothing = await client.patch(f"/v1/numbers?pool={pool}", json={}, headers=admin_headers)
    assert (nothing.status_code, nothing.json()["code"]) == (422, "nothing_to_change")
    bad_number = await client.patch(
        f"/v1/numbers?pool={pool}", json={"sms_forward": ["12"]}, headers=admin_headers
    )
    assert (bad_number.status_code, bad_number.json()["code"]) == (422, "invalid_number")
    bad_pool = await client.patch("/v1/numbers?pool=nope", json=CHANGE, headers=admin_headers)
    assert (bad_pool.status_code, bad_pool.json()["code"]) == (422, "invalid_pool")
    bad_tag = await client.patch("/v1/numbers?tag=Cost:x", json=CHANGE, headers=admin_headers)
    assert (bad_tag.status_code, bad_tag.json()["code"]) == (422, "invalid_tag")
    unknown = await client.patch(f"/v1/numbers?pool={pool}&q=x", json=CHANGE, headers=admin_headers)
    assert unknown.status_code == 422


async def test_a_bulk_update_by_tag_changes_the_tagged_numbers_only(
    client: Client,
    admin_headers: Headers,
    settings: Settings,
    fresh_sandbox: SandboxProcess,
    sessions: tenancy.Sessions,
) -> None:
    numbers = await tenancy.seed_numbers(sessions, rent(fresh_sandbox, 4))
    tagged, untagged = numbers[:2], numbers[2:]
    for number in tagged:
        response = await client.put(
            f"/v1/numbers/{number}/tags", json={"cost_center": "crm"}, headers=admin_headers
        )
        assert response.status_code == 200, response.text
    other = await client.put(
        f"/v1/numbers/{untagged[0]}/tags", json={"cost_center": "billing"}, headers=admin_headers
    )
    assert other.status_code == 200, other.text

    parent = await _bulk_update(client, admin_headers, "tag=cost_center:crm")
    assert parent["params"]["tags"] == [["cost_center", "crm"]]
    with WorkerProcess(fast(settings)):
        done = await wait_finished(client, admin_headers, parent["id"], within=60)
    assert done["status"] == "succeeded", done
    names = _names(fresh_sandbox)
    assert {number: names[number] for number in tagged} == dict.fromkeys(tagged, "support line")
    assert {number: names[number] for number in untagged} == dict.fromkeys(untagged, "")
