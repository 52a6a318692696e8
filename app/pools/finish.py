"""The pools' part of an operation's end: the finish hook the worker gives the executor."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Operation
from app.pools import news
from app.pools.handover import settle_handover
from app.pools.ordering import allocate_ordered_number


async def settle_pool_operation(
    session: AsyncSession, operation: Operation, succeeded: bool, at: datetime
) -> None:
    """A clearing's end settles its handover; an order's success ends what was left of an
    earlier rental and opens the allocation of the tenant it was ordered for, so the cost
    reports attribute the number from the day it became active."""
    await settle_handover(session, operation, succeeded=succeeded, at=at)
    if succeeded and (allocation := await allocate_ordered_number(session, operation)):
        await news.granted(session, allocation)
