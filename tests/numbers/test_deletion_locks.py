"""Deletion locks refuse every DELETE (admin and tenant alike) until lifted; a tenant may
not delete a number it holds from a pool, only release it."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select

from app.db.models import AuditEntry, Event, Operation
from tests.support import tenancy
from tests.support.api import Client, Headers
from tests.support.held import held_for


async def _lock(client: Client, admin: Headers, number: str, **body: str) -> dict[str, object]:
    locked = await client.put(
        f"/v1/numbers/{number}/deletion-lock", json=body or None, headers=admin
    )
    assert locked.status_code == 200, locked.text
    return dict(locked.json())


async def test_a_locked_number_refuses_every_delete_until_unlocked(
    client: Client, admin_headers: Headers, sessions: tenancy.Sessions
) -> None:
    tenant, key = await tenancy.create_tenant(client, admin_headers, "acme")
    [held] = await tenancy.seed_numbers(sessions, tenancy.german_numbers(1), tenant_id=tenant)
    [unheld] = await tenancy.seed_numbers(sessions, tenancy.german_numbers(1, start=1))

    locked = await _lock(client, admin_headers, held, reason="main support line")
    lock = locked["deletion_lock"]
    assert isinstance(lock, dict)
    assert (lock["reason"], lock["locked_by"]) == (
        "main support line",
        "the bootstrap admin key (ADMIN_API_KEY)",
    )
    # Without a body: a lock with no reason.
    assert (await _lock(client, admin_headers, unheld))["deletion_lock"] is not None

    # The read shows the lock, to the holder too.
    read = await client.get(f"/v1/numbers/{held}", headers=tenancy.key_headers(key))
    assert read.json()["deletion_lock"] == lock

    for number, headers in [
        (held, admin_headers),
        (held, tenancy.key_headers(key)),
        (unheld, admin_headers),
    ]:
        refused = await client.delete(f"/v1/numbers/{number}", headers=headers)
        assert (refused.status_code, refused.json()["code"]) == (409, "deletion_locked")
    refused = await client.delete(f"/v1/numbers/{held}", headers=tenancy.key_headers(key))
    message = refused.json()["message"]
    assert "the bootstrap admin key" in message and "main support line" in message
    assert str(lock["locked_at"])[:10] in message
    # A tenant may neither lock nor unlock: the admin routes are 404 to it.
    for method in ("PUT", "DELETE"):
        hidden = await client.request(
            method, f"/v1/numbers/{held}/deletion-lock", headers=tenancy.key_headers(key)
        )
        assert hidden.status_code == 404, method

    unlocked = await client.delete(f"/v1/numbers/{held}/deletion-lock", headers=admin_headers)
    assert (unlocked.status_code, unlocked.json()["deletion_lock"]) == (200, None)
    deleted = await client.delete(f"/v1/numbers/{held}", headers=tenancy.key_headers(key))
    assert (deleted.status_code, deleted.json()["kind"]) == (202, "delete"), deleted.text
    await client.delete(f"/v1/numbers/{unheld}/deletion-lock", headers=admin_headers)
    deleted = await client.delete(f"/v1/numbers/{unheld}", headers=admin_headers)
    assert deleted.status_code == 202, deleted.text

    async with sessions() as session:
        actions = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.target, AuditEntry.outcome)
                .where(AuditEntry.action.in_(["number.lock", "number.unlock"]))
                .order_by(AuditEntry.id)
            )
        ).all()
        events = (
            await session.scalars(
                select(Event.type).where(Event.number == held).order_by(Event.seq)
            )
        ).all()
    assert [tuple(row) for row in actions] == [
        ("number.lock", f"number:{held}", "ok"),
        ("number.lock", f"number:{unheld}", "ok"),
        ("number.unlock", f"number:{held}", "ok"),
        ("number.unlock", f"number:{unheld}", "ok"),
    ]
    assert list(events) == ["number.updated", "number.updated"]


async def test_a_lock_is_refused_where_it_could_not_hold(
    client: Client, admin_headers: Headers, sessions: tenancy.Sessions
) -> None:
    active, deleting, deleted = tenancy.german_numbers(3)
    await tenancy.seed_numbers(sessions, [active])
    await tenancy.seed_numbers(sessions, [deleting], state="deleting")
    await tenancy.seed_numbers(sessions, [deleted], state="deleted")
    going = await client.delete(f"/v1/numbers/{active}", headers=admin_headers)
    assert going.status_code == 202, going.text

    for number, code in [
        (active, "deletion_pending"),
        (deleting, "number_deleting"),
        (deleted, "number_deleted"),
    ]:
        refused = await client.put(f"/v1/numbers/{number}/deletion-lock", headers=admin_headers)
        assert (refused.status_code, refused.json()["code"]) == (409, code), number
    unknown = await client.put("/v1/numbers/4915199999999/deletion-lock", headers=admin_headers)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "number_not_found")
    too_long = await client.put(
        f"/v1/numbers/{active}/deletion-lock", json={"reason": "x" * 501}, headers=admin_headers
    )
    assert too_long.status_code == 422


async def test_a_lock_and_a_delete_racing_never_leave_a_locked_number_being_deleted(
    client: Client, admin_headers: Headers, sessions: tenancy.Sessions
) -> None:
    numbers = await tenancy.seed_numbers(sessions, tenancy.german_numbers(10))

    async def race(number: str) -> tuple[int, int]:
        locked, deleted = await asyncio.gather(
            client.put(f"/v1/numbers/{number}/deletion-lock", headers=admin_headers),
            client.delete(f"/v1/numbers/{number}", headers=admin_headers),
        )
        return locked.status_code, deleted.status_code

    outcomes = await asyncio.gather(*(race(number) for number in numbers))
    # Exactly one of the two wins each race: a lock then a refused delete, or a delete
    # then a refused lock.
    assert set(outcomes) <= {(200, 409), (409, 202)}, outcomes
    async with sessions() as session:
        deleting = set(
            await session.scalars(select(Operation.number).where(Operation.kind == "delete"))
        )
    for number, (locked, _) in zip(numbers, outcomes, strict=True):
        assert (number in deleting) == (locked == 409), number


async def test_a_tenant_releases_a_pooled_number_and_only_an_admin_deletes_it(
    client: Client, admin_headers: Headers, sessions: tenancy.Sessions
) -> None:
    holder = await tenancy.tenant_holding_a_number(client, admin_headers, sessions)

    refused = await client.delete(f"/v1/numbers/{holder.number}", headers=holder.headers)
    assert (refused.status_code, refused.json()["code"]) == (409, "pooled_number")
    assert f"DELETE /v1/allocations/{holder.number}" in refused.json()["message"]
    still = await client.get(f"/v1/numbers/{holder.number}", headers=holder.headers)
    assert (still.json()["state"], still.json()["pending_operation"]) == ("active", None)

    deleted = await client.delete(f"/v1/numbers/{holder.number}", headers=admin_headers)
    assert (deleted.status_code, deleted.json()["kind"]) == (202, "delete"), deleted.text


async def test_a_delete_waits_for_a_lock_being_set_and_is_refused_by_it(
    client: Client, admin_headers: Headers, sessions: tenancy.Sessions, database_url: str
) -> None:
    [number] = await tenancy.seed_numbers(sessions, tenancy.german_numbers(1))
    # A lock set as app.numbers.locks sets it (the row locked), committed a second later.
    lock = (
        "UPDATE numbers SET deletion_locked_at = now(), deletion_locked_by = 'ops'"
        " WHERE number = $1",
        number,
    )
    with held_for(database_url, [lock], seconds=1):
        started = time.monotonic()
        refused = await client.delete(f"/v1/numbers/{number}", headers=admin_headers)
    assert time.monotonic() - started > 0.5
    assert (refused.status_code, refused.json()["code"]) == (409, "deletion_locked")
