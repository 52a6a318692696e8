"""HTTP for operations: ``POST /v1/orders``, ``PATCH``/``DELETE /v1/numbers/{number}``,
``GET /v1/operations[/{id}]`` and an admin's ``approve``/``reject`` of an order awaiting
approval.

A write answers 202 with the operation and its ``Location`` once the operation is
committed. The job is enqueued after the commit; if Redis is down at that moment the
caller still gets its 202, because the reconciler enqueues every operation Redis lacks.
"""

from __future__ import annotations

import functools
import uuid
from typing import Annotated, Any

from arq import ArqRedis
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.exceptions import ValidationException
from litestar.params import HeaderParameter
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.dependencies import ACTOR_DEPENDENCY
from app.db.vocabulary import OperationKind, OperationStatus
from app.lib import params, query_parameters
from app.lib.auth import Actor, Principal
from app.lib.auth_middleware import admin_only
from app.lib.error_answers import EXCEPTION_HANDLERS, error_response, error_responses
from app.lib.pagination import Page
from app.lib.query_parameters import page_schema
from app.operations import approval, reads, service
from app.operations.accepted import accepted
from app.operations.idempotency import HEADER
from app.operations.params import DeleteParams
from app.operations.schemas import NumberChange, OperationOut, OrderCreate, Rejection, operation_out
from app.search.service import offered_fees
from app.settings import Settings
from app.seven.client import SevenClient

OperationPage = Annotated[Page[OperationOut], page_schema("OperationPage")]

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name=HEADER,
        required=False,
        description="Send the same key again to get the first operation back instead of a new one.",
    ),
]


def order_body_refused(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    """A body without ``payment_interval`` is told the choices (msgspec's own message
    names only the field); any other problem answers as on every route."""
    problems = exc.extra if isinstance(exc.extra, list) else []
    if any(
        "missing required field `payment_interval`" in str(problem.get("message", ""))
        for problem in problems
        if isinstance(problem, dict)
    ):
        required = service.payment_interval_required()
        return error_response(422, required.code, required.message, required.details)
    return EXCEPTION_HANDLERS[ValidationException](request, exc)


class OperationController(Controller):
    # The caller and the request's id, which every operation it creates carries.
    dependencies = ACTOR_DEPENDENCY
    tags = ["operations"]

    @post(
        "/orders",
        status_code=202,
        summary="Order a number",
        description=(
            "202 with an `order` operation; the number appears as `ordering` at once. "
            "`payment_interval` is required (422 `payment_interval_required`). A tenant "
            "key's order is checked against seven's offer first (hence 502-504): a number it "
            "may not order, for whatever reason, is 409 `number_unavailable`. An order for a "
            "tenant meets its limits: beyond one, 409 `limit_exceeded`; beyond only "
            "`monthly_budget` with `over_budget: approve`, the operation is "
            "`awaiting_approval` until an admin approves or rejects it."
        ),
        responses=error_responses(409, 502, 503, 504),
        exception_handlers={ValidationException: order_body_refused},
    )
    async def order(
        self,
        data: OrderCreate,
        db_session: AsyncSession,
        actor: Actor,
        queue: ArqRedis,
        seven: SevenClient,
        settings: Settings,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[OperationOut]:
        # The queue's connection is the process's Redis client; the search cache shares it.
        offer = functools.partial(offered_fees, seven, queue, settings.search_cache_seconds)
        submitted = await service.submit_order(db_session, actor, data, idempotency_key, offer)
        return await accepted(db_session, queue, submitted.operation, replayed=submitted.replayed)

    @patch(
        "/numbers/{number:str}",
        status_code=202,
        summary="Change a number's name or forwarding",
        description="Absent fields stay as they are; an empty list stops that forwarding.",
        responses=error_responses(409),
    )
    async def change_number(
        self,
        number: str,
        data: NumberChange,
        db_session: AsyncSession,
        actor: Actor,
        queue: ArqRedis,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[OperationOut]:
        submitted = await service.submit_change(db_session, actor, number, data, idempotency_key)
        return await accepted(db_session, queue, submitted.operation, replayed=submitted.replayed)

    @delete(
        "/numbers/{number:str}",
        status_code=202,
        summary="Delete a number",
        description=(
            "At the end of its billing period, or at once with `delete_immediately`. 409 "
            "`deletion_locked` while an admin's deletion lock is on the number (whoever "
            "asks), and `pooled_number` for a tenant key's DELETE of a number it holds from "
            "a pool: only an admin deletes those; the holder releases it "
            "(`DELETE /v1/allocations/{number}`)."
        ),
        responses=error_responses(409),
    )
    async def delete_number(
        self,
        number: str,
        db_session: AsyncSession,
        actor: Actor,
        queue: ArqRedis,
        delete_immediately: Annotated[
            str | None,
            query_parameters.flag_parameter("Now rather than at period end", default=False),
        ] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[OperationOut]:
        delete_now = params.parse_flag(delete_immediately, "delete_immediately") or False
        submitted = await service.submit_change(
            db_session,
            actor,
            number,
            DeleteParams(delete_now),
            idempotency_key,
        )
        return await accepted(db_session, queue, submitted.operation, replayed=submitted.replayed)

    @post(
        "/operations/{operation_id:uuid}/approve",
        status_code=202,
        guards=[admin_only],
        summary="Approve an order awaiting approval (admin)",
        description=(
            "202: the order is `queued` and carried out as any order. An operation not "
            "`awaiting_approval` is 409 `operation_not_awaiting_approval`."
        ),
        responses=error_responses(404, 409),
    )
    async def approve_operation(
        self, operation_id: uuid.UUID, db_session: AsyncSession, actor: Actor, queue: ArqRedis
    ) -> Response[OperationOut]:
        operation = await approval.approve(db_session, actor, operation_id)
        return await accepted(db_session, queue, operation)

    @post(
        "/operations/{operation_id:uuid}/reject",
        status_code=200,
        guards=[admin_only],
        summary="Reject an order awaiting approval (admin)",
        description=(
            "The order is `failed` with `error.code` `rejected` and the reason; nothing was "
            "asked of seven. An operation not `awaiting_approval` is 409 "
            "`operation_not_awaiting_approval`."
        ),
        responses=error_responses(404, 409),
    )
    async def reject_operation(
        self, operation_id: uuid.UUID, data: Rejection, db_session: AsyncSession, actor: Actor
    ) -> OperationOut:
        return operation_out(await approval.reject(db_session, actor, operation_id, data.reason))

    @get("/operations/{operation_id:uuid}", summary="One operation")
    async def get_operation(
        self, operation_id: uuid.UUID, db_session: AsyncSession, principal: Principal
    ) -> OperationOut:
        return await reads.get_operation(db_session, principal, operation_id)

    @get("/operations", summary="Operations, newest first")
    async def list_operations(
        self,
        db_session: AsyncSession,
        principal: Principal,
        status: Annotated[
            str | None,
            query_parameters.choice_parameter("Operations in this status", tuple(OperationStatus)),
        ] = None,
        kind: Annotated[
            str | None,
            query_parameters.choice_parameter("Operations of this kind", tuple(OperationKind)),
        ] = None,
        number: Annotated[str | None, query_parameters.NUMBER] = None,
        parent: Annotated[
            str | None, query_parameters.uuid_parameter("The children of this bulk operation")
        ] = None,
        limit: Annotated[str | None, reads.PAGES.limit_parameter] = None,
        cursor: Annotated[str | None, reads.PAGES.cursor_parameter] = None,
    ) -> OperationPage:
        query = reads.OperationQuery(
            status=params.parse_choice(status, "status", tuple(OperationStatus)),
            kind=params.parse_choice(kind, "kind", tuple(OperationKind)),
            number=params.number_filter(number),
            parent=params.parse_uuid(parent, "parent"),
            page=reads.PAGES.query(limit, cursor),
        )
        return await reads.list_operations(db_session, principal, query)
