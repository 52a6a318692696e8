"""A number that leaves the account is no longer held by anyone (trigger of migration 0005)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg


async def _held_number(db: asyncpg.Connection, number: str, allocated_at: datetime) -> uuid.UUID:
    tenant = uuid.uuid4()
    await db.execute("INSERT INTO tenants (id, name) VALUES ($1, $2)", tenant, f"t-{number}")
    await db.execute(
        "INSERT INTO numbers (number, country, payment_interval, state, tenant_id)"
        " VALUES ($1, 'DE', 'monthly', 'active', $2)",
        number,
        tenant,
    )
    await db.execute(
        "INSERT INTO allocations (id, number, tenant_id, allocated_at) VALUES ($1, $2, $3, $4)",
        uuid.uuid4(),
        number,
        tenant,
        allocated_at,
    )
    return tenant


async def test_deleting_a_number_ends_its_holders_interval(db: asyncpg.Connection) -> None:
    await _held_number(db, "4915112345001", datetime.now(UTC) - timedelta(days=3))
    await _held_number(db, "4915112345002", datetime.now(UTC) - timedelta(days=3))

    # The sync and the worker both write the state this way; the other number is untouched.
    await db.execute("UPDATE numbers SET state = 'deleted' WHERE number = '4915112345001'")

    rows = {
        row["number"]: row
        for row in await db.fetch(
            "SELECT n.number, n.tenant_id, n.handover, a.released_at, a.available_at"
            " FROM numbers n JOIN allocations a USING (number)"
        )
    }
    deleted, kept = rows["4915112345001"], rows["4915112345002"]
    assert deleted["tenant_id"] is None
    assert deleted["released_at"] is not None
    assert deleted["available_at"] == deleted["released_at"]
    # Should seven list it again, what the holder set may come with it (migration 0009).
    assert deleted["handover"] == "uncleared"
    assert (kept["tenant_id"] is not None, kept["handover"]) == (True, None)
    assert kept["released_at"] is None


async def test_a_number_deleted_while_nobody_held_it_has_nothing_to_clear(
    db: asyncpg.Connection,
) -> None:
    await db.execute(
        "INSERT INTO numbers (number, country, payment_interval, state)"
        " VALUES ('4915112345005', 'DE', 'monthly', 'active')"
    )
    await db.execute("UPDATE numbers SET state = 'deleted' WHERE number = '4915112345005'")
    assert await db.fetchval("SELECT handover FROM numbers WHERE number = '4915112345005'") is None


async def test_an_interval_opened_at_a_later_clock_ends_at_its_start(
    db: asyncpg.Connection,
) -> None:
    later = datetime.now(UTC) + timedelta(days=2)
    await _held_number(db, "4915112345003", later)
    await db.execute("UPDATE numbers SET state = 'deleted' WHERE number = '4915112345003'")
    released = await db.fetchval(
        "SELECT released_at FROM allocations WHERE number = '4915112345003'"
    )
    assert released == later


async def test_other_updates_leave_the_holder(db: asyncpg.Connection) -> None:
    await _held_number(db, "4915112345004", datetime.now(UTC) - timedelta(days=1))
    await db.execute(
        "UPDATE numbers SET state = 'deleting', friendly_name = 'x' WHERE number = '4915112345004'"
    )
    assert await db.fetchval(
        "SELECT tenant_id IS NOT NULL FROM numbers WHERE number = '4915112345004'"
    )
    assert await db.fetchval(
        "SELECT released_at IS NULL FROM allocations WHERE number = '4915112345004'"
    )
