"""The overview's figures: numbers by state, country and pool, and the failed event
deliveries of the last day, each counted in one statement, scoped as ``/v1`` scopes reads
(app.lib.tenancy). Operations and sync runs come from their own services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from app.db.models import Delivery, Event, Number, Pool, WebhookEndpoint
from app.db.vocabulary import DeliveryStatus
from app.lib.auth import Principal
from app.lib.tenancy import owned_by, scope_numbers

RECENT = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Count:
    label: str
    count: int


async def numbers_by(
    session: AsyncSession, principal: Principal, column: QueryableAttribute[str]
) -> list[Count]:
    """How many of the numbers ``principal`` sees have each value of ``column``."""
    stmt = scope_numbers(
        select(column, func.count()).select_from(Number).group_by(column).order_by(column),
        principal,
    )
    return [Count(value or "none", count) for value, count in await session.execute(stmt)]


async def numbers_by_pool(session: AsyncSession) -> list[Count]:
    """For admins only: a tenant key learns nothing of the pools."""
    stmt = (
        select(Pool.name, func.count(Number.number))
        .select_from(Number)
        .outerjoin(Pool, Pool.id == Number.pool_id)
        .group_by(Pool.name)
        .order_by(Pool.name)
    )
    return [Count(name or "no pool", count) for name, count in await session.execute(stmt)]


@dataclass(frozen=True, slots=True)
class FailedDelivery:
    event_type: str
    number: str | None
    endpoint_url: str
    attempts: int
    finished_at: datetime | None


async def failed_deliveries(
    session: AsyncSession, principal: Principal, limit: int = 20
) -> list[FailedDelivery]:
    """Deliveries that ended ``failed`` in the last day, to endpoints ``principal`` owns."""
    stmt = (
        select(
            Event.type,
            Event.number,
            WebhookEndpoint.url,
            Delivery.attempts,
            Delivery.finished_at,
        )
        .select_from(Delivery)
        .join(Event, Event.seq == Delivery.event_seq)
        .join(WebhookEndpoint, WebhookEndpoint.id == Delivery.endpoint_id)
        .where(
            Delivery.status == DeliveryStatus.FAILED,
            Delivery.finished_at > func.now() - RECENT,
            owned_by(principal, WebhookEndpoint.tenant_id),
        )
        .order_by(Delivery.finished_at.desc())
        .limit(limit)
    )
    return [FailedDelivery(*row) for row in await session.execute(stmt)]
