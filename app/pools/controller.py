"""Pools (admin) and allocations (admin and tenants): thin adapters over app.pools.service."""

from __future__ import annotations

import uuid
from typing import Annotated

from arq import ArqRedis
from litestar import Controller, Response, delete, get, patch, post, put
from litestar.openapi import ResponseSpec
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.dependencies import ACTOR_DEPENDENCY
from app.audit.service import Actor
from app.db.models import Pool
from app.lib import params, query_parameters
from app.lib.auth import Principal
from app.lib.auth_middleware import admin_only
from app.lib.error_answers import error_responses
from app.lib.errors import Conflict
from app.numbers.schemas import NumberOut, number_out
from app.operations.accepted import accepted
from app.operations.schemas import OperationOut
from app.operations.service import payment_interval_required
from app.pools import entitlements, handover, news, ordering, service
from app.pools.releasing import release_and_announce
from app.pools.schemas import (
    AllocationCreate,
    AllocationOut,
    PoolCreate,
    PoolNumber,
    PoolOut,
    PoolTenantsOut,
    PoolTenantsSet,
    PoolUpdate,
    ReleaseOut,
    allocation_out,
    pool_out,
    pool_tenants_out,
    release_out,
)
from app.seven.client import SevenClient


async def _counted(session: AsyncSession, pool: Pool) -> PoolOut:
    counts = await service.pool_counts(session, [pool.id])
    return pool_out(pool, counts.get(pool.id))


class PoolController(Controller):
    path = "/pools"
    guards = [admin_only]
    dependencies = ACTOR_DEPENDENCY
    tags = ["pools"]

    @post(
        "/",
        summary="Create a pool (admin)",
        description=(
            "Open to the tenants listed in `tenants`, or with `all: true` (the default when "
            "neither is given) to every tenant. 422 `unknown_tenant` for an id that is no "
            "tenant's."
        ),
        responses=error_responses(409),
    )
    async def create_pool(
        self, db_session: AsyncSession, actor: Actor, data: PoolCreate
    ) -> PoolOut:
        entitlement = entitlements.entitlement_from(
            data.tenants, data.all, entitlements.EVERY_TENANT
        )
        pool = await service.create_pool(
            db_session,
            actor,
            data.name,
            data.country,
            data.features,
            data.cooldown_days,
            entitlement,
        )
        return pool_out(pool)

    @get("/", summary="All pools (admin)")
    async def list_pools(self, db_session: AsyncSession) -> list[PoolOut]:
        pools = await service.list_pools(db_session)
        counts = await service.pool_counts(db_session, [pool.id for pool in pools])
        return [pool_out(pool, counts.get(pool.id)) for pool in pools]

    @get("/{pool_id:uuid}", summary="One pool (admin)")
    async def get_pool(self, db_session: AsyncSession, pool_id: uuid.UUID) -> PoolOut:
        return await _counted(db_session, await service.get_pool(db_session, pool_id))

    @get("/{pool_id:uuid}/tenants", summary="Who may use a pool (admin)")
    async def get_tenants(self, db_session: AsyncSession, pool_id: uuid.UUID) -> PoolTenantsOut:
        return pool_tenants_out(await entitlements.show_tenants(db_session, pool_id))

    @put(
        "/{pool_id:uuid}/tenants",
        summary="Set who may use a pool (admin)",
        description=(
            "`tenants` replaces the list (empty: nobody), or `all: true` opens the pool to "
            "every tenant. A tenant it is not open to gets 404 for the pool, and keeps what "
            "it holds from it until released. 422 `unknown_tenant` for an id that is no "
            "tenant's, `tenants_required` for neither field, `conflicting_fields` for both."
        ),
    )
    async def set_tenants(
        self, db_session: AsyncSession, actor: Actor, pool_id: uuid.UUID, data: PoolTenantsSet
    ) -> PoolTenantsOut:
        entitlement = entitlements.entitlement_from(data.tenants, data.all, None)
        return pool_tenants_out(
            await entitlements.set_tenants(db_session, actor, pool_id, entitlement)
        )

    @patch(
        "/{pool_id:uuid}",
        summary="Change a pool's cool-down (admin)",
        description="Numbers already resting keep the end they were given.",
    )
    async def update_pool(
        self, db_session: AsyncSession, actor: Actor, pool_id: uuid.UUID, data: PoolUpdate
    ) -> PoolOut:
        pool = await service.set_cooldown(db_session, actor, pool_id, data.cooldown_days)
        return await _counted(db_session, pool)

    @post(
        "/{pool_id:uuid}/numbers",
        status_code=200,
        summary="Put a number into the pool (admin)",
        responses=error_responses(409),
    )
    async def add_number(
        self, db_session: AsyncSession, actor: Actor, pool_id: uuid.UUID, data: PoolNumber
    ) -> NumberOut:
        return number_out(await service.add_number(db_session, actor, pool_id, data.number))

    @delete(
        "/{pool_id:uuid}/numbers/{number:str}",
        status_code=200,
        summary="Take a number out of the pool (admin)",
        responses=error_responses(409),
    )
    async def remove_number(
        self, db_session: AsyncSession, actor: Actor, pool_id: uuid.UUID, number: str
    ) -> NumberOut:
        return number_out(await service.remove_number(db_session, actor, pool_id, number))


class AllocationController(Controller):
    path = "/allocations"
    dependencies = ACTOR_DEPENDENCY
    tags = ["allocations"]

    @post(
        "/",
        summary="Give a tenant a free number of a pool",
        description=(
            "201 with the number. None free: 409 `pool_exhausted`, or with `order_if_empty` "
            "202 with an `order` operation; the number is allocated when it becomes active. "
            "`order_if_empty` needs `payment_interval` (checked first, whether or not a "
            "number is free). A pool not open to the tenant (`PUT /v1/pools/{id}/tenants`) is "
            "404 `pool_not_found` to a tenant key, as one that does not exist, and 409 "
            "`tenant_not_entitled` to an admin. The tenant's limits apply: a granted number "
            "counts toward `max_numbers`, an order toward all of them (409 `limit_exceeded`; "
            "an order beyond only `monthly_budget` may be `awaiting_approval`)."
        ),
        # order_if_empty searches seven for a number to order, hence 502-504.
        responses={
            202: ResponseSpec(OperationOut, description="No number free: an order is queued"),
            **error_responses(404, 409, 502, 503, 504),
        },
    )
    async def allocate(
        self,
        db_session: AsyncSession,
        actor: Actor,
        seven: SevenClient,
        queue: ArqRedis,
        data: AllocationCreate,
    ) -> Response[NumberOut | OperationOut]:
        # Checked before anything is tried: a caller learns it on the first call, not on
        # the day the pool runs dry.
        interval = data.payment_interval
        if data.order_if_empty and interval is None:
            raise payment_interval_required()
        try:
            number = await service.allocate(
                db_session, actor, data.pool, data.tenant, data.country, data.features
            )
        except Conflict as error:
            if error.code != "pool_exhausted" or not data.order_if_empty or interval is None:
                raise
        else:
            await news.granted_number(db_session, number.number)
            return Response(number_out(number), status_code=201)
        submitted = await ordering.order_for_pool(
            db_session,
            actor,
            seven,
            data.pool,
            interval,
            data.tenant,
            data.country,
            data.features,
        )
        return await accepted(db_session, queue, submitted.operation, replayed=submitted.replayed)

    @get("/", summary="What is allocated to whom (a tenant key: its own)")
    async def list_allocations(
        self,
        db_session: AsyncSession,
        principal: Principal,
        tenant: Annotated[str | None, query_parameters.uuid_parameter("Tenant id")] = None,
        pool: Annotated[str | None, query_parameters.uuid_parameter("Pool id")] = None,
        number: Annotated[str | None, query_parameters.NUMBER] = None,
        current: Annotated[
            str | None,
            query_parameters.flag_parameter("false: released intervals too", default=True),
        ] = None,
    ) -> list[AllocationOut]:
        rows = await service.list_allocations(
            db_session,
            principal,
            tenant_id=params.parse_uuid(tenant, "tenant"),
            pool_id=params.parse_uuid(pool, "pool"),
            number=params.number_filter(number),
            current=params.parse_flag(current, "current") is not False,
        )
        return [allocation_out(row) for row in rows]

    @delete(
        "/{number:str}",
        status_code=200,
        summary="Release a number back to its pool",
        description=(
            "Ends the interval and queues an `update` operation (`clearing_operation`) that "
            "clears at seven what the holder set: SMS, e-mail and Slack forwarding and the "
            "friendly name. Nobody else gets the number until it has succeeded; the pool's "
            "cool-down runs from then (`available_at` is null until). Not allocated to the "
            "caller: 404 `not_allocated`. 409 `number_being_ordered`, or `number_busy` while "
            "another operation on the number is pending."
        ),
        responses=error_responses(409),
    )
    async def release(
        self, db_session: AsyncSession, actor: Actor, queue: ArqRedis, number: str
    ) -> ReleaseOut:
        released, named = await release_and_announce(db_session, actor, queue, number)
        return release_out(released, named)

    @post(
        "/{number:str}/clearing",
        status_code=202,
        guards=[admin_only],
        summary="Clear what a previous holder set at seven, again (admin)",
        description=(
            "For a number nobody holds: after a failed clearing (`handover` "
            "`clearing_failed`), for one seven lists again after its deletion (`uncleared`), "
            "or to be sure. 202 with the `update` operation; the number is not allocatable "
            "until it has succeeded, and its cool-down starts then. Unknown: 404 "
            "`number_not_found`. 409 `number_allocated` (held: its settings are the "
            "holder's), `nothing_to_clear` (seven does not have it) or `number_busy`."
        ),
        responses=error_responses(409),
    )
    async def clear(
        self, db_session: AsyncSession, actor: Actor, queue: ArqRedis, number: str
    ) -> Response[OperationOut]:
        return await accepted(db_session, queue, await handover.clear(db_session, actor, number))
