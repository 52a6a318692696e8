"""The overview's figures: numbers by state, country and pool, failed operations of the
last day and failed event deliveries, each scoped to what the signed-in key sees."""

from __future__ import annotations

import re
import uuid

import asyncpg

from tests.console.signing_in import sign_in
from tests.support.api import Client, Headers
from tests.support.tenancy import (
    ADMIN_KEY,
    Sessions,
    german_numbers,
    seed_numbers,
    seed_operation,
    tenant_holding_a_number,
)


def _table(html: str, caption: str) -> list[list[str]]:
    """The body rows of the table with ``caption``, as cell texts."""
    found = re.search(rf"<caption>{caption}</caption>.*?<tbody>(.*?)</tbody>", html, re.S)
    assert found, caption
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)
    ]


async def _failed_delivery(db: asyncpg.Connection, tenant: uuid.UUID | None, url: str) -> None:
    seq = await db.fetchval(
        "INSERT INTO events (type, tenant_id, number, data) VALUES ('ping', $1, NULL, '{}')"
        " RETURNING seq",
        tenant,
    )
    endpoint = await db.fetchval(
        "INSERT INTO webhook_endpoints (id, tenant_id, url, events, secret)"
        " VALUES (gen_random_uuid(), $1, $2, '{*}', 'whsec_x') RETURNING id",
        tenant,
        url,
    )
    await db.execute(
        "INSERT INTO deliveries (id, endpoint_id, event_seq, key, status, attempts, finished_at)"
        " VALUES (gen_random_uuid(), $1, $2, 'k', 'failed', 7, now())",
        endpoint,
        seq,
    )


async def test_the_overview_counts_what_the_key_sees(
    client: Client, admin_headers: Headers, sessions: Sessions, db: asyncpg.Connection
) -> None:
    holder = await tenant_holding_a_number(client, admin_headers, sessions)
    await seed_numbers(sessions, german_numbers(2, start=10), state="deleting")
    await seed_operation(
        sessions,
        holder.number,
        status="failed",
        tenant_id=uuid.UUID(holder.tenant),
        error_code="seven_refused",
        error_message="seven said no",
    )
    await _failed_delivery(db, uuid.UUID(holder.tenant), "https://acme.example/hooks")
    await _failed_delivery(db, None, "https://admin.example/hooks")

    client.cookies.clear()
    await sign_in(client, ADMIN_KEY)
    admin = (await client.get("/console")).text
    assert _table(admin, "Numbers by state") == [["active", "1"], ["deleting", "2"]]
    assert _table(admin, "Numbers by pool") == [["pool", "1"], ["no pool", "2"]]
    assert "seven said no" in admin
    assert "https://acme.example/hooks" in admin and "https://admin.example/hooks" in admin

    client.cookies.clear()
    await sign_in(client, holder.key)
    tenant = (await client.get("/console")).text
    assert _table(tenant, "Numbers by state") == [["active", "1"]]
    assert _table(tenant, "Numbers by country") == [["DE", "1"]]
    assert "Numbers by pool" not in tenant and "Last sync" not in tenant
    assert "seven said no" in tenant
    assert "https://acme.example/hooks" in tenant and "admin.example" not in tenant


async def test_the_operations_page_reloads_itself_only_while_one_is_pending(
    client: Client, sessions: Sessions
) -> None:
    (number,) = await seed_numbers(sessions, german_numbers(1))
    await seed_operation(sessions, number)
    client.cookies.clear()
    await sign_in(client, ADMIN_KEY)
    settled = (await client.get("/console/operations")).text
    assert 'http-equiv="refresh"' not in settled
    await seed_operation(sessions, number, status="queued")
    pending = (await client.get("/console/operations")).text
    assert '<meta http-equiv="refresh" content="3">' in pending
    assert _table(pending, "Operations, newest first")[0][:2] == ["update", "queued"]
