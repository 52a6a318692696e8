"""Reading the outbox (what a key may see of it) and forgetting it after its retention."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Event
from app.lib.auth import Principal
from app.lib.errors import NotFound
from app.lib.pagination import Keyset, Page, PageQuery
from app.lib.tenancy import owned_by

# Newest first; ``seq`` only grows.
PAGES = Keyset(Event.seq, descending=True, limit=100, max_limit=1000)


@dataclass(frozen=True, slots=True)
class EventQuery:
    page: PageQuery
    type: str | None = None
    number: str | None = None
    since: datetime | None = None


async def list_events(
    session: AsyncSession, principal: Principal, query: EventQuery
) -> Page[Event]:
    stmt = select(Event).where(owned_by(principal, Event.tenant_id))
    if query.type is not None:
        stmt = stmt.where(Event.type == query.type)
    if query.number is not None:
        stmt = stmt.where(Event.number == query.number)
    if query.since is not None:
        stmt = stmt.where(Event.created_at >= query.since)
    rows = (await session.scalars(PAGES.select(stmt, query.page))).all()
    return PAGES.page(rows, query.page)


async def get_event(session: AsyncSession, principal: Principal, event_id: uuid.UUID) -> Event:
    """One event; another tenant's is as absent as one that never was."""
    event = await session.scalar(
        select(Event).where(Event.id == event_id, owned_by(principal, Event.tenant_id))
    )
    if event is None:
        raise NotFound("There is no such event.", code="event_not_found")
    return event


async def purge_events(session: AsyncSession, retention: timedelta) -> int:
    """Delete the events older than ``retention``; how many went."""
    async with session.begin():
        result = await session.execute(
            delete(Event).where(Event.created_at < func.now() - retention)
        )
    return result.rowcount  # type: ignore[attr-defined]
