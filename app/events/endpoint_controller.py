"""HTTP for webhook endpoints: ``/v1/webhook-endpoints``, their deliveries and a ping."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, delete, get, patch, post
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.dependencies import ACTOR_DEPENDENCY
from app.events import endpoints
from app.events.endpoint_schemas import (
    DeliveryOut,
    EndpointCreate,
    EndpointCreated,
    EndpointOut,
    EndpointUpdate,
    endpoint_created,
    endpoint_out,
)
from app.events.safety import allowed_hosts
from app.events.schemas import EventOut, event_out
from app.lib.auth import Actor, Principal
from app.lib.error_answers import error_responses
from app.lib.pagination import Page
from app.lib.query_parameters import page_schema
from app.settings import Settings

DeliveryPage = Annotated[Page[DeliveryOut], page_schema("DeliveryPage")]

PAGES = endpoints.DELIVERY_PAGES


class WebhookEndpointController(Controller):
    path = "/webhook-endpoints"
    dependencies = ACTOR_DEPENDENCY
    tags = ["events"]

    @post(
        "/",
        status_code=201,
        summary="Register a webhook endpoint",
        description=(
            "Events of the caller's tenant (an admin: of the tenant named, or the admin's own "
            "events) of the types in `events` (`*`: all) are POSTed to `url`, signed as the "
            "Standard Webhooks spec has it with the `secret` answered here, once. The URL "
            "must be https on a public address (422 `invalid_url`). A tenant the caller may "
            "not name: 404 `tenant_not_found`."
        ),
        responses=error_responses(404),
    )
    async def create(
        self,
        data: EndpointCreate,
        db_session: AsyncSession,
        actor: Actor,
        settings: Settings,
    ) -> EndpointCreated:
        allowed = allowed_hosts(settings.webhook_allowed_hosts)
        return endpoint_created(await endpoints.create_endpoint(db_session, actor, data, allowed))

    @get("/", summary="Webhook endpoints (a tenant key: its own)")
    async def list_endpoints(
        self, db_session: AsyncSession, principal: Principal
    ) -> list[EndpointOut]:
        return [endpoint_out(row) for row in await endpoints.list_endpoints(db_session, principal)]

    @get("/{endpoint_id:uuid}", summary="One webhook endpoint")
    async def get_endpoint(
        self, endpoint_id: uuid.UUID, db_session: AsyncSession, principal: Principal
    ) -> EndpointOut:
        return endpoint_out(await endpoints.get_endpoint(db_session, principal, endpoint_id))

    @patch(
        "/{endpoint_id:uuid}",
        summary="Change a webhook endpoint's url, events or description; enable or disable it",
    )
    async def update(
        self,
        endpoint_id: uuid.UUID,
        data: EndpointUpdate,
        db_session: AsyncSession,
        actor: Actor,
        settings: Settings,
    ) -> EndpointOut:
        allowed = allowed_hosts(settings.webhook_allowed_hosts)
        return endpoint_out(
            await endpoints.update_endpoint(db_session, actor, endpoint_id, data, allowed)
        )

    @delete("/{endpoint_id:uuid}", status_code=204, summary="Remove a webhook endpoint")
    async def remove(self, endpoint_id: uuid.UUID, db_session: AsyncSession, actor: Actor) -> None:
        await endpoints.delete_endpoint(db_session, actor, endpoint_id)

    @post(
        "/{endpoint_id:uuid}/test",
        status_code=202,
        summary="Send a ping event to the endpoint",
        description="A `ping` event, delivered to this endpoint only, like any other.",
    )
    async def test(
        self, endpoint_id: uuid.UUID, db_session: AsyncSession, principal: Principal
    ) -> EventOut:
        return event_out(await endpoints.ping(db_session, principal, endpoint_id))

    @get(
        "/{endpoint_id:uuid}/deliveries",
        summary="The endpoint's deliveries, newest event first, with every attempt",
    )
    async def deliveries(
        self,
        endpoint_id: uuid.UUID,
        db_session: AsyncSession,
        principal: Principal,
        limit: Annotated[str | None, PAGES.limit_parameter] = None,
        cursor: Annotated[str | None, PAGES.cursor_parameter] = None,
    ) -> DeliveryPage:
        return await endpoints.list_deliveries(
            db_session, principal, endpoint_id, PAGES.query(limit, cursor)
        )

    @post(
        "/{endpoint_id:uuid}/deliveries/{delivery_id:uuid}/retry",
        status_code=202,
        summary="Send a delivery again",
        description="Pending again, due now, with a fresh retry window.",
        responses=error_responses(404),
    )
    async def retry(
        self,
        endpoint_id: uuid.UUID,
        delivery_id: uuid.UUID,
        db_session: AsyncSession,
        principal: Principal,
    ) -> DeliveryOut:
        return await endpoints.retry_delivery(db_session, principal, endpoint_id, delivery_id)
