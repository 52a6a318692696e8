"""HTTP for bulk work: ``POST /v1/orders/bulk`` and ``PATCH /v1/numbers?pool=&tenant=``.

Each answers 202 with the parent operation once it is committed, like a single order or
change; the worker gives it its children (app.bulk.runner).
"""

from __future__ import annotations

import functools
from typing import Annotated

from arq import ArqRedis
from litestar import Controller, Response, patch, post
from litestar.exceptions import ValidationException
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.dependencies import ACTOR_DEPENDENCY
from app.bulk import service
from app.bulk.schemas import MAX_BULK_COUNT, BulkOrderCreate
from app.lib import params, query_parameters
from app.lib.auth import Actor
from app.lib.error_answers import error_responses
from app.lib.query_parameters import TAG_FILTER
from app.lib.tags import parse_tag_filters
from app.operations.accepted import accepted
from app.operations.controller import IdempotencyKey, order_body_refused
from app.operations.schemas import NumberChange, OperationOut
from app.search.service import dearest_offered_fees
from app.settings import Settings
from app.seven.client import SevenClient


class BulkController(Controller):
    dependencies = ACTOR_DEPENDENCY
    tags = ["operations"]

    @post(
        "/orders/bulk",
        status_code=202,
        summary="Order several numbers at once",
        description=(
            f"202 with a `bulk_order` operation for `count` (1 to {MAX_BULK_COUNT}) distinct "
            "numbers of `country` (with `features`) from seven's offer, each ordered by a "
            "child `order` operation (`GET /v1/operations?parent=<id>`); `progress` counts "
            "them. A number taken at seven meanwhile is replaced by another from a new "
            "search. The operation succeeds once `count` numbers are ordered, or fails "
            "`offer_exhausted` (seven offers no other fitting number) or `bulk_incomplete` "
            "(an order failed for another reason). `payment_interval` is required "
            "(422 `payment_interval_required`)."
        ),
        responses=error_responses(404),
        exception_handlers={ValidationException: order_body_refused},
    )
    async def bulk_order(
        self,
        data: BulkOrderCreate,
        db_session: AsyncSession,
        actor: Actor,
        queue: ArqRedis,
        seven: SevenClient,
        settings: Settings,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[OperationOut]:
        dearest = functools.partial(
            dearest_offered_fees, seven, queue, settings.search_cache_seconds
        )
        submitted = await service.submit_bulk_order(
            db_session, actor, data, idempotency_key, dearest
        )
        return await accepted(db_session, queue, submitted.operation, replayed=submitted.replayed)

    @patch(
        "/numbers",
        status_code=202,
        summary="Change the name or forwarding of many numbers",
        description=(
            "202 with a `bulk_update` operation: the change (as `PATCH "
            "/v1/numbers/{number}` takes it) for every active number in `pool`, held by "
            "`tenant` and with each `tag` (all given must hold; a tenant key's own numbers "
            "only), each by a child `update` "
            "operation (`GET /v1/operations?parent=<id>`); `progress` counts them. A filter "
            "is required (422 `filter_required`). A number busy with another operation is "
            "skipped and named in `warnings`; the operation succeeds when every child has "
            "and none was skipped, else fails `bulk_incomplete`."
        ),
        responses=error_responses(404),
    )
    async def bulk_update(
        self,
        data: NumberChange,
        db_session: AsyncSession,
        actor: Actor,
        queue: ArqRedis,
        pool: Annotated[str | None, query_parameters.uuid_parameter("Numbers in this pool")] = None,
        tenant: Annotated[
            str | None, query_parameters.uuid_parameter("Numbers held by this tenant")
        ] = None,
        tag: Annotated[list[str] | None, TAG_FILTER] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[OperationOut]:
        submitted = await service.submit_bulk_update(
            db_session,
            actor,
            data,
            params.parse_uuid(pool, "pool"),
            params.parse_uuid(tenant, "tenant"),
            idempotency_key,
            parse_tag_filters(tag),
        )
        return await accepted(db_session, queue, submitted.operation, replayed=submitted.replayed)
