"""Accepting a bulk order or a bulk update: the request checked whole, then the parent
operation alone; the worker (app.bulk.runner) gives it its children.

Each verb here is the one way its parent is created, and it knows the tenant and the
whole extent of the work before any child exists: what limits the work as a whole
(a tenant's quota for ``count`` numbers) is checked here.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.bulk.schemas import BulkOrderCreate
from app.lib.auth import Actor
from app.lib.errors import InvalidInput
from app.lib.params import EXPECTED_COUNTRY, invalid, parse_country, parse_features
from app.lib.tags import TagFilter
from app.lib.tenancy import acting_tenant
from app.operations import limits, service
from app.operations.params import BulkOrderParams, BulkUpdateParams, stored
from app.operations.schemas import NumberChange
from app.operations.service import Submitted
from app.seven.types import IntervalFees, PaymentInterval

#: seven's dearest fees for a payment interval among the numbers it offers now for a
#: country and features; None when it offers none.
DearestFees = Callable[[str, Sequence[str], PaymentInterval], Awaitable[IntervalFees | None]]


async def submit_bulk_order(
    session: AsyncSession,
    actor: Actor,
    request: BulkOrderCreate,
    key: str | None,
    dearest_fees: DearestFees | None = None,
) -> Submitted:
    """A ``bulk_order`` of ``request.count`` numbers for the acting tenant. The tenant's
    limits are checked for the whole count up front, in the transaction that adds the
    parent: for a monthly budget each number is priced at ``dearest_fees`` (the numbers
    are picked later), and beyond the budget is refused, never held for approval (each
    child order is checked again as it is made)."""
    country = parse_country(request.country)
    if country is None:
        raise invalid("country", request.country, EXPECTED_COUNTRY)
    features = parse_features(request.features, "features")
    tenant = await acting_tenant(session, actor.principal, request.tenant)
    if request.pool is not None:
        pool = await service.order_pool(session, actor.principal, request.pool, tenant)
        if pool.country and pool.country != country:
            problem = f"the numbers are in {country}, the pool takes only {pool.country}"
            raise InvalidInput(
                f"numbers of {country} do not fit the pool: {problem}",
                code="pool_constraints_not_met",
                details={"problems": [problem]},
            )
        # A pool's features are its numbers' too: the search asks for them.
        features = parse_features([*features, *pool.features])
    params = BulkOrderParams(
        country=country,
        count=request.count,
        payment_interval=request.payment_interval,
        features=features,
        pool=request.pool,
    )
    body = {**stored(params), "tenant": str(tenant) if tenant else None}
    fees: IntervalFees | None = None

    async def price() -> None:
        nonlocal fees
        if (
            tenant is not None
            and dearest_fees is not None
            and await limits.has_budget(session, tenant)
        ):
            fees = await dearest_fees(country, features, request.payment_interval)

    async def admit() -> None:
        if tenant is not None:
            await limits.admit_orders(
                session, tenant, request.count, request.payment_interval, fees, approvable=False
            )

    return await service.submit_bulk(
        session,
        actor,
        params,
        tenant,
        key,
        ("POST", "/v1/orders/bulk", body),
        check=price,
        admit=admit,
    )


async def submit_bulk_update(
    session: AsyncSession,
    actor: Actor,
    change: NumberChange,
    pool: uuid.UUID | None,
    tenant: uuid.UUID | None,
    key: str | None,
    tags: tuple[TagFilter, ...] = (),
) -> Submitted:
    """A ``bulk_update``: ``change`` for every active number the filter matches (a tenant
    key's only among its own). A filter is required: everything at once is refused."""
    if pool is None and tenant is None and not tags:
        raise InvalidInput(
            "A bulk update needs a filter, pool, tenant or tag: an update of every number "
            "at once is refused.",
            code="filter_required",
            details={"parameters": ["pool", "tenant", "tag"], "location": "query"},
        )
    changes = service.number_update(change)
    holder = await acting_tenant(session, actor.principal, tenant)
    params = BulkUpdateParams(
        changes=changes, pool=pool, tenant=holder, tags=tuple((t.key, t.value) for t in tags)
    )
    return await service.submit_bulk(
        session, actor, params, holder, key, ("PATCH", "/v1/numbers", stored(params))
    )
