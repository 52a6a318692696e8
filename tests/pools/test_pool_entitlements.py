"""Pool entitlements: a pool is open to the tenants it lists (or to all); to any other
tenant it answers exactly as a pool that does not exist."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import select

from app.db.models import AuditEntry
from tests.support import tenancy
from tests.support.api import Client, Headers
from tests.support.held import held_for


def _without_id(answer: dict[str, object], pool: str) -> dict[str, object]:
    return {key: str(value).replace(pool, "<id>") for key, value in answer.items()}


async def test_a_tenant_outside_the_list_finds_no_pool_and_one_inside_allocates(
    client: Client, admin_headers: Headers, sessions: tenancy.Sessions
) -> None:
    numbers = await tenancy.seed_numbers(sessions, tenancy.german_numbers(3))
    alpha, alpha_key = await tenancy.create_tenant(client, admin_headers, "alpha")
    beta, beta_key = await tenancy.create_tenant(client, admin_headers, "beta")
    pool = await tenancy.create_pool(client, admin_headers, numbers, tenants=[alpha])
    inside, outside = tenancy.key_headers(alpha_key), tenancy.key_headers(beta_key)

    shown = await client.get(f"/v1/pools/{pool}/tenants", headers=admin_headers)
    assert shown.json() == {
        "pool": pool,
        "all": False,
        "tenants": [{"id": alpha, "name": "alpha"}],
    }

    # Outside: the pool answers as one that does not exist, word for word.
    nowhere = str(uuid.uuid4())
    for path in ("/v1/pools/{}", "/v1/pools/{}/tenants"):
        hidden = await client.get(path.format(pool), headers=outside)
        absent = await client.get(path.format(nowhere), headers=outside)
        assert hidden.status_code == absent.status_code == 404, path
        assert _without_id(hidden.json(), pool) == _without_id(absent.json(), nowhere)
    hidden = await client.post("/v1/allocations", json={"pool": pool}, headers=outside)
    absent = await client.post("/v1/allocations", json={"pool": nowhere}, headers=outside)
    assert (hidden.status_code, hidden.json()["code"]) == (404, "pool_not_found")
    assert _without_id(hidden.json(), pool) == _without_id(absent.json(), nowhere)
    ordered = await client.post(
        "/v1/orders",
        json={"number": "4915170264899", "payment_interval": "monthly", "pool": pool},
        headers=outside,
    )
    assert (ordered.status_code, ordered.json()["code"]) == (422, "unknown_pool")
    # An admin acting for the tenant is told why.
    for_beta = await client.post(
        "/v1/allocations", json={"pool": pool, "tenant": beta}, headers=admin_headers
    )
    assert (for_beta.status_code, for_beta.json()["code"]) == (409, "tenant_not_entitled")
    ordered_for_beta = await client.post(
        "/v1/orders",
        json={
            "number": "4915170264899",
            "payment_interval": "monthly",
            "pool": pool,
            "tenant": beta,
        },
        headers=admin_headers,
    )
    assert (ordered_for_beta.status_code, ordered_for_beta.json()["code"]) == (
        409,
        "tenant_not_entitled",
    )

    # Inside: allocates.
    granted = await client.post("/v1/allocations", json={"pool": pool}, headers=inside)
    assert granted.status_code == 201, granted.text

    # Opened to all, the other tenant allocates too; listed alone, it alone.
    opened = await client.put(
        f"/v1/pools/{pool}/tenants", json={"all": True}, headers=admin_headers
    )
    assert opened.json() == {"pool": pool, "all": True, "tenants": []}
    assert (
        await client.post("/v1/allocations", json={"pool": pool}, headers=outside)
    ).status_code == 201
    swapped = await client.put(
        f"/v1/pools/{pool}/tenants", json={"tenants": [beta]}, headers=admin_headers
    )
    assert swapped.json()["tenants"] == [{"id": beta, "name": "beta"}]
    shut = await client.post("/v1/allocations", json={"pool": pool}, headers=inside)
    assert (shut.status_code, shut.json()["code"]) == (404, "pool_not_found")
    # What alpha holds stays alpha's until it releases it.
    held = await client.get("/v1/allocations", headers=inside)
    assert [a["number"] for a in held.json()] == [granted.json()["number"]]

    async with sessions() as session:
        audited = (
            await session.scalars(
                select(AuditEntry.details)
                .where(AuditEntry.action == "pool.set_tenants", AuditEntry.outcome == "ok")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [entry["after"] for entry in audited] == [
        {"all": True, "tenants": []},
        {"all": False, "tenants": [beta]},
    ]
    assert audited[0]["before"] == {"all": False, "tenants": [alpha]}


async def test_setting_the_tenants_is_the_admins_and_checked(
    client: Client, admin_headers: Headers
) -> None:
    alpha, key = await tenancy.create_tenant(client, admin_headers, "alpha")
    # A pool created without a list is open to every tenant.
    pool = await tenancy.create_pool(client, admin_headers)
    assert (await client.get(f"/v1/pools/{pool}/tenants", headers=admin_headers)).json()[
        "all"
    ] is True
    stranger = str(uuid.uuid4())

    for body, code in [
        ({"tenants": [alpha, stranger]}, "unknown_tenant"),
        ({"tenants": [alpha], "all": True}, "conflicting_fields"),
        ({}, "tenants_required"),
        ({"tenants": ["not an id"]}, "validation_error"),
    ]:
        refused = await client.put(f"/v1/pools/{pool}/tenants", json=body, headers=admin_headers)
        assert (refused.status_code, refused.json()["code"]) == (422, code), body
    unknown = await client.put(f"/v1/pools/{pool}/tenants", json={}, headers=admin_headers)
    assert unknown.json()["code"] == "tenants_required"
    refused = await client.put(
        f"/v1/pools/{pool}/tenants", json={"tenants": [stranger]}, headers=admin_headers
    )
    assert refused.json()["details"]["unknown"] == [stranger]
    created = await client.post(
        "/v1/pools", json={"name": "other", "tenants": [stranger]}, headers=admin_headers
    )
    assert (created.status_code, created.json()["code"]) == (422, "unknown_tenant")
    # Nothing changed; a tenant key cannot set or read the list.
    assert (await client.get(f"/v1/pools/{pool}/tenants", headers=admin_headers)).json()[
        "all"
    ] is True
    for method in ("GET", "PUT"):
        hidden = await client.request(
            method,
            f"/v1/pools/{pool}/tenants",
            json={"all": True},
            headers=tenancy.key_headers(key),
        )
        assert hidden.status_code == 404, method
    # Emptied: nobody.
    closed = await client.put(
        f"/v1/pools/{pool}/tenants", json={"tenants": []}, headers=admin_headers
    )
    assert closed.json() == {"pool": pool, "all": False, "tenants": []}
    refused = await client.post(
        "/v1/allocations", json={"pool": pool}, headers=tenancy.key_headers(key)
    )
    assert (refused.status_code, refused.json()["code"]) == (404, "pool_not_found")


async def test_an_allocation_waits_for_a_change_of_the_list_and_obeys_it(
    client: Client, admin_headers: Headers, sessions: tenancy.Sessions, database_url: str
) -> None:
    numbers = await tenancy.seed_numbers(sessions, tenancy.german_numbers(2))
    alpha, key = await tenancy.create_tenant(client, admin_headers, "alpha")
    pool = await tenancy.create_pool(client, admin_headers, numbers, tenants=[alpha])
    # The list emptied as app.pools.entitlements empties it (pool locked first),
    # committed a second later.
    emptied = [
        ("SELECT id FROM pools WHERE id = $1 FOR UPDATE", uuid.UUID(pool)),
        ("DELETE FROM pool_tenants WHERE pool_id = $1", uuid.UUID(pool)),
    ]
    with held_for(database_url, emptied, seconds=1):
        started = time.monotonic()
        refused = await client.post(
            "/v1/allocations", json={"pool": pool}, headers=tenancy.key_headers(key)
        )
    assert time.monotonic() - started > 0.5
    assert (refused.status_code, refused.json()["code"]) == (404, "pool_not_found")
