"""The events the pools write (app.events), in the transaction of the change:
``allocation.granted`` and ``allocation.released`` to the tenant, with the allocation as
the API shows it, and ``pool.exhausted`` (admin) when a grant took a pool's last free
number."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Allocation
from app.db.vocabulary import EventType
from app.events.outbox import NewEvent, emit_all
from app.pools.handover import Released
from app.pools.schemas import allocation_out, pool_out, release_out
from app.pools.service import NamedAllocation, get_pool, named, pool_counts


async def granted(session: AsyncSession, allocation: Allocation) -> None:
    """A tenant was given a number; the pool ran dry if that was its last free one."""
    await session.flush()
    events = [
        NewEvent(
            EventType.ALLOCATION_GRANTED,
            allocation.tenant_id,
            allocation_out(await named(session, allocation)),
            allocation.number,
        )
    ]
    if allocation.pool_id is not None:
        counts = (await pool_counts(session, [allocation.pool_id])).get(allocation.pool_id)
        if counts is not None and counts.free == 0:
            pool = await get_pool(session, allocation.pool_id)
            events.append(NewEvent(EventType.POOL_EXHAUSTED, None, pool_out(pool, counts)))
    await emit_all(session, events)


async def granted_number(session: AsyncSession, number: str) -> None:
    """:func:`granted` for the interval just opened for ``number``."""
    allocation = await session.scalar(
        select(Allocation).where(Allocation.number == number, Allocation.released_at.is_(None))
    )
    if allocation is not None:
        await granted(session, allocation)


async def released(session: AsyncSession, release: Released, named: NamedAllocation) -> None:
    """``named``: the release's allocation with its names, as the answer shows it."""
    allocation = release.allocation
    await session.flush()
    await emit_all(
        session,
        [
            NewEvent(
                EventType.ALLOCATION_RELEASED,
                allocation.tenant_id,
                release_out(release, named),
                allocation.number,
            )
        ],
    )
