"""``GET /v1/events[/{id}]``: the caller's events, newest first (a tenant key sees its own)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from litestar import Controller, get
from litestar.params import FromQuery
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.vocabulary import EventType
from app.events.schemas import EventOut, event_out
from app.events.service import PAGES, EventQuery, get_event, list_events
from app.lib import params, query_parameters
from app.lib.auth import Principal
from app.lib.pagination import Page
from app.lib.query_parameters import page_schema

EventPage = Annotated[Page[EventOut], page_schema("EventPage")]

TYPES: tuple[str, ...] = tuple(EventType)


class EventController(Controller):
    path = "/events"
    tags = ["events"]

    @get("/", summary="Events, newest first")
    async def list_events(
        self,
        db_session: AsyncSession,
        principal: Principal,
        type: Annotated[
            str | None, query_parameters.choice_parameter("Events of this type", TYPES)
        ] = None,
        number: Annotated[str | None, query_parameters.NUMBER] = None,
        since: FromQuery[datetime | None] = None,
        limit: Annotated[str | None, PAGES.limit_parameter] = None,
        cursor: Annotated[str | None, PAGES.cursor_parameter] = None,
    ) -> EventPage:
        page = await list_events(
            db_session,
            principal,
            EventQuery(
                type=params.parse_choice(type, "type", TYPES),
                number=params.number_filter(number),
                since=since,
                page=PAGES.query(limit, cursor),
            ),
        )
        return page.map(event_out)

    @get("/{event_id:uuid}", summary="One event")
    async def get_event(
        self, event_id: uuid.UUID, db_session: AsyncSession, principal: Principal
    ) -> EventOut:
        return event_out(await get_event(db_session, principal, event_id))
