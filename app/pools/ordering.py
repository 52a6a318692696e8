"""Allocation by ordering: ``order_if_empty`` and the hook that allocates the new number.

When a pool has no free number, a fitting one is picked from seven's available list
and ordered through the operations machinery (app.operations.service.submit_order) for
the tenant and into the pool. The worker calls ``allocate_ordered_number`` when the order
succeeds (through the finish hook in app.pools.finish); it opens the tenant's allocation
interval, so the cost reports attribute the number from the day it became active.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor, audited, record
from app.db.models import Allocation, Number, Operation
from app.lib.errors import Conflict
from app.lib.params import parse_country, parse_features
from app.lib.tenancy import acting_tenant
from app.operations.limits import LIMIT_EXCEEDED
from app.operations.params import OrderParams, params_of
from app.operations.schemas import OrderCreate
from app.operations.service import OfferedFees, Submitted, submit_order
from app.pools.service import db_now, get_pool, next_free_at, pool_exhausted
from app.search.schemas import SearchQuery
from app.search.service import fitting_offer
from app.seven.client import SevenClient
from app.seven.types import AvailableFees, AvailableNumber, PaymentInterval

# Candidates tried when the first ones turn out to be taken meanwhile (409 from ordering).
MAX_CANDIDATES = 5


async def order_for_pool(
    session: AsyncSession,
    actor: Actor,
    seven: SevenClient,
    pool_id: uuid.UUID,
    payment_interval: PaymentInterval,
    tenant_id: uuid.UUID | None = None,
    country: str | None = None,
    features: Sequence[str] | None = None,
) -> Submitted:
    """Order a number that fits the pool (and the request) for the tenant, billed as the
    caller chose (there is no default interval)."""
    tenant = await acting_tenant(session, actor.principal, tenant_id, required=True)
    pool = await get_pool(session, pool_id)
    wanted_country = parse_country(country)
    if pool.country and wanted_country and wanted_country != pool.country:
        raise pool_exhausted(f"The pool holds only {pool.country} numbers.", None)
    wanted_country = wanted_country or pool.country
    wanted = set(parse_features(features, "features")) | set(pool.features)
    # No transaction stays open while seven answers (the pool's read began one).
    await session.commit()
    offered = await fitting_offer(seven, SearchQuery.wanting(wanted_country, wanted))
    known = set(
        await session.scalars(
            select(Number.number).where(Number.number.in_([n.number for n in offered]))
        )
    )
    candidates = [n for n in offered if n.number not in known]
    await session.commit()  # end the read transaction before the order's own
    for candidate in candidates[:MAX_CANDIDATES]:
        order = OrderCreate(
            number=candidate.number,
            payment_interval=payment_interval,
            pool=pool.id,
            tenant=tenant,
        )
        # Pending in the session, so it commits with the operation (or not at all).
        record(
            session,
            actor,
            "allocation.order",
            f"number:{candidate.number}",
            details={"pool": str(pool.id)},
            tenant_id=tenant,
        )
        try:
            return await submit_order(session, actor, order, None, _quoted(candidate))
        except Conflict as error:
            if error.code == LIMIT_EXCEEDED:
                raise
            # Ordered by someone else since the search: try the next one.
            await session.rollback()
    async with audited(session, actor, "allocation.order", f"pool:{pool.id}") as note:
        note.tenant_id = tenant
        raise pool_exhausted(
            "The pool has no free number and seven offers none that fits.",
            await next_free_at(
                session, pool.id, await db_now(session), wanted_country, sorted(wanted)
            ),
        )


def _quoted(candidate: AvailableNumber) -> OfferedFees:
    """The fees seven quoted for ``candidate`` in the search it was picked from."""

    async def fees(number: str, country: str) -> AvailableFees | None:
        return candidate.fees

    return fees


async def allocate_ordered_number(session: AsyncSession, operation: Operation) -> Allocation | None:
    """Open the tenant's allocation interval for a number its order just made active.

    For the worker, on an ``order`` operation's success, inside the transaction that
    records the success. Safe to repeat (jobs run at least once): an open interval is
    left as it is. Orders without a tenant allocate nothing. The interval opened, if any.
    """
    params = params_of(operation)
    if not isinstance(params, OrderParams) or not operation.tenant_id or not operation.number:
        return None
    number = await session.get(Number, operation.number, with_for_update=True)
    if number is None:
        return None
    open_interval = await session.scalar(
        select(Allocation.id).where(
            Allocation.number == number.number, Allocation.released_at.is_(None)
        )
    )
    if open_interval is not None:
        return None
    number.tenant_id = operation.tenant_id
    if params.pool:
        number.pool_id = params.pool
    allocation = Allocation(
        number=number.number,
        pool_id=number.pool_id,
        tenant_id=number.tenant_id,
        allocated_at=await session.scalar(select(func.now())),
    )
    session.add(allocation)
    await session.flush()
    return allocation
