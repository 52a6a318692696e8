"""A release as every caller carries it out (``DELETE /v1/allocations/{number}``, the
console): end the interval, announce it, and hand the clearing to a worker once committed."""

from __future__ import annotations

from arq import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor
from app.lib.queue import commit_and_enqueue
from app.pools import handover, news, service
from app.pools.handover import Released
from app.pools.service import NamedAllocation


async def release_and_announce(
    session: AsyncSession, actor: Actor, queue: ArqRedis, number: str
) -> tuple[Released, NamedAllocation]:
    released = await handover.release(session, actor, number)
    named = await service.named(session, released.allocation)
    await news.released(session, released, named)
    if released.clearing is not None:
        await commit_and_enqueue(session, queue, released.clearing)
    return released, named
