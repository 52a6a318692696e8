"""What a tenant key hears when refused: nothing about other tenants or the pools.

A second tenant ("globex") runs into every error a tenant key can get on orders,
allocations, pools, numbers and operations. No answer names the pool or carries the
first tenant's id or key id, and an order for a number someone else has in hand is
refused in exactly the words a number seven does not offer gets.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support import tenancy
from tests.support.api import Client
from tests.support.operations import available_numbers
from tests.support.sandbox import SandboxProcess

POOL_NAME = "Acme Private Pool 7"
UNAVAILABLE = {
    "status": 409,
    "code": "number_unavailable",
    "message": "This number is not available to order.",
}


@pytest.fixture
async def acme(
    client: Client, admin_headers: dict[str, str], sessions: tenancy.Sessions
) -> tenancy.Holder:
    """The first tenant, holding the one number of its pool."""
    return await tenancy.tenant_holding_a_number(
        client, admin_headers, sessions, name=POOL_NAME, country="DE", features=["sms"]
    )


async def test_another_tenants_number_is_refused_like_one_seven_does_not_offer(
    client: Client,
    admin_headers: dict[str, str],
    fresh_sandbox: SandboxProcess,
    sessions: tenancy.Sessions,
    acme: tenancy.Holder,
) -> None:
    held, acme_id = acme.number, uuid.UUID(acme.tenant)
    offered = available_numbers(fresh_sandbox, 3)
    deleting, missing, unheld, not_offered = tenancy.german_numbers(4, start=500)
    assert not_offered not in {n["number"] for n in fresh_sandbox.available()}
    await tenancy.seed_numbers(sessions, [deleting], state="deleting", tenant_id=acme_id)
    await tenancy.seed_numbers(
        sessions, [missing], state="missing", missing_since=datetime.now(UTC), tenant_id=acme_id
    )
    await tenancy.seed_numbers(sessions, [unheld])
    # Still on seven's offer, as in a search cached just before someone took them.
    await tenancy.seed_numbers(sessions, [offered[0]], tenant_id=acme_id)
    await tenancy.seed_numbers(sessions, [offered[1]], state="ordering")
    _, globex = await tenancy.create_tenant(client, admin_headers, "globex")

    numbers = [
        held,  # acme's, allocated from the pool
        deleting,  # acme's
        missing,  # acme's
        offered[0],  # acme's
        offered[1],  # being ordered for nobody
        unheld,  # on the account, nobody's
        not_offered,  # simply not available
    ]
    answers = []
    for number in numbers:
        response = await client.post(
            "/v1/orders",
            json={"number": number, "payment_interval": "monthly"},
            headers=tenancy.key_headers(globex),
        )
        answers.append((response.status_code, response.json()))
    assert answers == [(409, UNAVAILABLE)] * len(numbers)
    # An admin is still told what stands in the way; an offered number still goes through.
    told = await client.post(
        "/v1/orders", json={"number": held, "payment_interval": "monthly"}, headers=admin_headers
    )
    assert (told.status_code, told.json()["code"]) == (409, "number_active")
    ordered = await client.post(
        "/v1/orders",
        json={"number": offered[2], "payment_interval": "monthly"},
        headers=tenancy.key_headers(globex),
    )
    assert ordered.status_code == 202, ordered.text


async def test_no_tenant_error_names_a_pool_or_another_tenant(
    client: Client,
    admin_headers: dict[str, str],
    fresh_sandbox: SandboxProcess,
    sessions: tenancy.Sessions,
    acme: tenancy.Holder,
) -> None:
    acme_id, acme_key, pool, held = acme.tenant, acme.key_id, acme.pool, acme.number
    # A pool of a country seven offers nothing in: an order for it finds no candidate.
    empty_pool = await tenancy.create_pool(
        client, admin_headers, name=f"{POOL_NAME} LU", country="LU"
    )
    operation = await tenancy.seed_operation(sessions, held, tenant_id=uuid.UUID(acme_id))
    _, globex = await tenancy.create_tenant(client, admin_headers, "globex")
    headers = tenancy.key_headers(globex)
    offered = available_numbers(fresh_sandbox, 1)[0]
    french = "33612345678"
    elsewhere = str(uuid.uuid4())

    walk: list[tuple[str, str, dict[str, Any] | None, int, str]] = [
        (
            "POST",
            "/v1/orders",
            {"number": held, "payment_interval": "monthly"},
            409,
            "number_unavailable",
        ),
        (
            "POST",
            "/v1/orders",
            {"number": offered, "payment_interval": "monthly", "tenant": acme_id},
            404,
            "tenant_not_found",
        ),
        (
            "POST",
            "/v1/orders",
            {"number": french, "payment_interval": "monthly", "pool": pool},
            422,
            "pool_constraints_not_met",
        ),
        (
            "POST",
            "/v1/orders",
            {"number": offered, "payment_interval": "monthly", "pool": elsewhere},
            422,
            "unknown_pool",
        ),
        (
            "POST",
            "/v1/orders",
            {"number": "12", "payment_interval": "monthly"},
            422,
            "invalid_number",
        ),
        ("POST", "/v1/allocations", {"pool": pool}, 409, "pool_exhausted"),
        ("POST", "/v1/allocations", {"pool": pool, "tenant": acme_id}, 404, "tenant_not_found"),
        ("POST", "/v1/allocations", {"pool": elsewhere}, 404, "pool_not_found"),
        (
            "POST",
            "/v1/allocations",
            {"pool": pool, "country": "FR", "order_if_empty": True, "payment_interval": "monthly"},
            409,
            "pool_exhausted",
        ),
        (
            "POST",
            "/v1/allocations",
            {"pool": empty_pool, "order_if_empty": True, "payment_interval": "monthly"},
            409,
            "pool_exhausted",
        ),
        ("DELETE", f"/v1/allocations/{held}", None, 404, "not_allocated"),
        ("GET", f"/v1/numbers/{held}", None, 404, "number_not_found"),
        ("PATCH", f"/v1/numbers/{held}", {"friendly_name": "mine"}, 404, "number_not_found"),
        ("DELETE", f"/v1/numbers/{held}", None, 404, "number_not_found"),
        ("GET", f"/v1/operations/{operation}", None, 404, "operation_not_found"),
        ("GET", f"/v1/pools/{pool}", None, 404, "not_found"),
        ("POST", f"/v1/pools/{pool}/numbers", {"number": held}, 404, "not_found"),
        ("POST", f"/v1/tenants/{acme_id}/keys", {"name": "mine"}, 404, "not_found"),
        ("DELETE", f"/v1/keys/{acme_key}", None, 404, "not_found"),
        ("GET", f"/v1/audit?tenant={acme_id}", None, 404, "not_found"),
    ]
    leaks = []
    for method, path, body, status, code in walk:
        response = await client.request(method, path, json=body, headers=headers)
        answer = (response.status_code, response.json().get("code"))
        if answer != (status, code):
            leaks.append(f"{method} {path} {body}: {answer}, not {(status, code)}")
        shown = [secret for secret in (POOL_NAME, acme_id, acme_key) if secret in response.text]
        if shown:
            leaks.append(f"{method} {path} {body}: shows {shown}: {response.text}")

    # seven's refusal of the search reaches the tenant as every upstream answer does.
    fresh_sandbox.add_fault("refuse", "available")
    upstream = await client.post(
        "/v1/allocations",
        json={"pool": pool, "order_if_empty": True, "payment_interval": "monthly"},
        headers=headers,
    )
    assert upstream.status_code == 502, upstream.text
    assert POOL_NAME not in upstream.text and acme_id not in upstream.text
    assert leaks == []
