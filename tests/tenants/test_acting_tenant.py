"""Which tenant a request acts for: one rule (app.lib.tenancy.acting_tenant) for orders and
allocations, for an admin key and a tenant key naming no tenant, its own, another, or one
that does not exist."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support import tenancy
from tests.support.api import Client
from tests.support.operations import available_numbers
from tests.support.sandbox import SandboxProcess
from tests.support.tenancy import Sessions

NOT_FOUND = (404, "tenant_not_found", "There is no such tenant.")
REQUIRED = (422, "tenant_required", "An admin key must name the tenant.")


async def _answers(
    client: Client,
    admin: dict[str, str],
    path: str,
    bodies: list[dict[str, Any]],
    cases: list[tuple[dict[str, str], str | None]],
) -> list[tuple[Any, ...]]:
    """Each case's answer: (status, code, message) when refused, else (status, the tenant
    of the number it was given or ordered, as the mirror has it)."""
    answers: list[tuple[Any, ...]] = []
    for body, (headers, tenant) in zip(bodies, cases, strict=True):
        response = await client.post(path, json={**body, "tenant": tenant}, headers=headers)
        answer = response.json()
        if not response.is_success:
            answers.append((response.status_code, answer["code"], answer["message"]))
            continue
        number = await client.get(f"/v1/numbers/{answer['number']}", headers=admin)
        answers.append((response.status_code, number.json()["tenant"]))
    return answers


async def test_orders_and_allocations_act_for_the_same_tenant(
    client: Client, admin_headers: dict[str, str], sessions: Sessions, fresh_sandbox: SandboxProcess
) -> None:
    acme, _ = await tenancy.create_tenant(client, admin_headers, "acme")
    globex, globex_key = await tenancy.create_tenant(client, admin_headers, "globex")
    tenant = tenancy.key_headers(globex_key)
    unknown = str(uuid.uuid4())
    cases = [
        (admin_headers, None),
        (admin_headers, acme),
        (admin_headers, unknown),
        (tenant, None),
        (tenant, globex),
        (tenant, acme),  # another tenant's: as if it did not exist
        (tenant, unknown),
    ]
    acting = [None, acme, NOT_FOUND, globex, globex, NOT_FOUND, NOT_FOUND]

    offered = available_numbers(fresh_sandbox, len(cases))
    orders = await _answers(
        client,
        admin_headers,
        "/v1/orders",
        [{"number": n, "payment_interval": "monthly"} for n in offered],
        cases,
    )
    assert orders == [answer if isinstance(answer, tuple) else (202, answer) for answer in acting]

    numbers = await tenancy.seed_numbers(sessions, tenancy.german_numbers(len(cases)))
    pool = await tenancy.create_pool(client, admin_headers, numbers)
    allocations = await _answers(
        client, admin_headers, "/v1/allocations", [{"pool": pool}] * len(cases), cases
    )
    # An allocation needs a tenant: an admin must name one.
    assert allocations == [
        REQUIRED,
        *(answer if isinstance(answer, tuple) else (201, answer) for answer in acting[1:]),
    ]

    # Refused before anything was written: no operation, no allocation for anyone else.
    held = await client.get("/v1/allocations", params={"tenant": acme}, headers=admin_headers)
    assert len(held.json()) == 1
    ordered = await client.get("/v1/operations", headers=admin_headers)
    assert len(ordered.json()["items"]) == 4
