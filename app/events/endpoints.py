"""The webhook endpoints' verbs: register, read, change, remove, test, and the deliveries.

A tenant key manages its own endpoints; an admin any, and registers one for a tenant's
events by naming the tenant, or for the admin's own events by naming none. What a key
may not see answers 404 ``endpoint_not_found``, whether it exists or not.

Registering, changing and removing an endpoint is audited (``webhook_endpoint.*``, target
``webhook_endpoint:<id>``); the audit row never holds the signing secret, and names the
URL by its origin only: a receiver's path or query may carry a token of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor, audited
from app.db.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint
from app.db.vocabulary import DeliveryStatus, EventType
from app.events.endpoint_schemas import (
    DeliveryOut,
    EndpointCreate,
    EndpointUpdate,
    attempt_out,
)
from app.events.outbox import notify_deliveries
from app.events.safety import UnsafeUrl, check_url
from app.events.signing import new_secret
from app.lib.auth import Principal
from app.lib.errors import InvalidInput, NotFound
from app.lib.pagination import Keyset, Page, PageQuery
from app.lib.tenancy import acting_tenant, owned_by

ALL = "*"
_TYPES = frozenset(EventType) - {EventType.PING}
# Newest event first; one delivery per event and endpoint.
DELIVERY_PAGES = Keyset(Delivery.event_seq, descending=True, limit=50, max_limit=500)


def _checked_url(url: str, allowed: frozenset[str]) -> str:
    try:
        check_url(url, allowed)
    except UnsafeUrl as refused:
        raise InvalidInput(
            f"This URL cannot receive events: {refused}.",
            code="invalid_url",
            details={"parameter": "url"},
        ) from None
    return url


def _checked_events(events: Sequence[str]) -> list[str]:
    unknown = [name for name in events if name != ALL and name not in _TYPES]
    if unknown:
        raise InvalidInput(
            f"Unknown event type {unknown[0][:60]!r}: expected {ALL!r} or any of "
            f"{', '.join(sorted(_TYPES))}.",
            code="invalid_events",
            details={"parameter": "events"},
        )
    return sorted(set(events))


def not_found() -> NotFound:
    return NotFound("There is no such webhook endpoint.", code="endpoint_not_found")


def _origin(url: str) -> str:
    """What an audit row shows of an endpoint's URL: scheme, host and port."""
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


def _target(endpoint_id: uuid.UUID) -> str:
    return f"webhook_endpoint:{endpoint_id}"


async def create_endpoint(
    session: AsyncSession, actor: Actor, data: EndpointCreate, allowed: frozenset[str]
) -> WebhookEndpoint:
    async with audited(session, actor, "webhook_endpoint.create") as note:
        endpoint = WebhookEndpoint(
            id=uuid.uuid4(),
            tenant_id=await acting_tenant(session, actor.principal, data.tenant),
            url=_checked_url(data.url, allowed),
            events=_checked_events(data.events),
            description=data.description,
            secret=new_secret(),
        )
        note.creating(_target(endpoint.id), endpoint.tenant_id)
        note.details = {"url": _origin(endpoint.url), "events": endpoint.events}
        session.add(endpoint)
    await session.refresh(endpoint)
    return endpoint


async def list_endpoints(session: AsyncSession, principal: Principal) -> Sequence[WebhookEndpoint]:
    return (
        await session.scalars(
            select(WebhookEndpoint)
            .where(owned_by(principal, WebhookEndpoint.tenant_id))
            .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        )
    ).all()


async def get_endpoint(
    session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    endpoint = await session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id, owned_by(principal, WebhookEndpoint.tenant_id)
        )
    )
    if endpoint is None:
        raise not_found()
    return endpoint


async def update_endpoint(
    session: AsyncSession,
    actor: Actor,
    endpoint_id: uuid.UUID,
    data: EndpointUpdate,
    allowed: frozenset[str],
) -> WebhookEndpoint:
    async with audited(session, actor, "webhook_endpoint.update", _target(endpoint_id)) as note:
        endpoint = await get_endpoint(session, actor.principal, endpoint_id)
        note.tenant_id = endpoint.tenant_id
        changed: dict[str, Any] = {}
        if data.url is not None:
            url = _checked_url(data.url, allowed)
            changed["url"] = {"before": _origin(endpoint.url), "after": _origin(url)}
            endpoint.url = url
        if data.events is not None:
            events = _checked_events(data.events)
            changed["events"] = {"before": endpoint.events, "after": events}
            endpoint.events = events
        if data.description is not None:
            changed["description"] = {"before": endpoint.description, "after": data.description}
            endpoint.description = data.description
        if data.enabled is not None:
            changed["enabled"] = {"before": endpoint.enabled, "after": data.enabled}
            endpoint.enabled = data.enabled
            if data.enabled:
                endpoint.failing_since = None  # a fresh start: its failures are forgiven
        note.details = changed
    await session.refresh(endpoint)
    return endpoint


async def delete_endpoint(session: AsyncSession, actor: Actor, endpoint_id: uuid.UUID) -> None:
    async with audited(session, actor, "webhook_endpoint.delete", _target(endpoint_id)) as note:
        endpoint = await get_endpoint(session, actor.principal, endpoint_id)
        note.tenant_id = endpoint.tenant_id
        note.details = {"url": _origin(endpoint.url), "events": endpoint.events}
        await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint.id))


async def ping(session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID) -> Event:
    """A ``ping`` event, delivered to this endpoint only (whatever its ``events``)."""
    endpoint = await get_endpoint(session, principal, endpoint_id)
    event = Event(
        type=EventType.PING, tenant_id=endpoint.tenant_id, data={"endpoint": str(endpoint.id)}
    )
    session.add(event)
    await session.flush()
    await session.refresh(event)
    await session.execute(
        insert(Delivery).values(
            id=uuid.uuid4(), endpoint_id=endpoint.id, event_seq=event.seq, key=f"event:{event.seq}"
        )
    )
    await notify_deliveries(session)
    return event


@dataclass(frozen=True, slots=True)
class _Row:
    delivery: Delivery
    event_id: uuid.UUID
    event_type: str


async def list_deliveries(
    session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID, page: PageQuery
) -> Page[DeliveryOut]:
    endpoint = await get_endpoint(session, principal, endpoint_id)
    stmt = (
        select(Delivery, Event.id, Event.type)
        .join(Event, Event.seq == Delivery.event_seq)
        .where(Delivery.endpoint_id == endpoint.id)
    )
    rows = [_Row(*row) for row in (await session.execute(DELIVERY_PAGES.select(stmt, page))).all()]
    found = DELIVERY_PAGES.page(rows, page, key=lambda row: row.delivery.event_seq)
    return Page(items=await _with_attempts(session, found.items), next_cursor=found.next_cursor)


async def _with_attempts(session: AsyncSession, rows: Sequence[_Row]) -> list[DeliveryOut]:
    attempts = (
        await session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id.in_([row.delivery.id for row in rows]))
            .order_by(DeliveryAttempt.id)
        )
    ).all()
    by_delivery: dict[uuid.UUID, list[DeliveryAttempt]] = {}
    for attempt in attempts:
        by_delivery.setdefault(attempt.delivery_id, []).append(attempt)
    return [
        DeliveryOut(
            id=row.delivery.id,
            event=row.event_id,
            type=EventType(row.event_type),
            status=DeliveryStatus(row.delivery.status),
            attempts=row.delivery.attempts,
            next_attempt_at=(
                row.delivery.next_attempt_at
                if row.delivery.status == DeliveryStatus.PENDING
                else None
            ),
            created_at=row.delivery.created_at,
            finished_at=row.delivery.finished_at,
            attempt_log=[attempt_out(a) for a in by_delivery.get(row.delivery.id, [])],
        )
        for row in rows
    ]


async def retry_delivery(
    session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> DeliveryOut:
    """Send a delivery again, with a fresh retry window, whatever became of it."""
    endpoint = await get_endpoint(session, principal, endpoint_id)
    changed = await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.endpoint_id == endpoint.id)
        .values(
            status=DeliveryStatus.PENDING,
            next_attempt_at=func.now(),
            first_attempt_at=None,
            finished_at=None,
        )
        .returning(Delivery.id)
    )
    if changed.scalar_one_or_none() is None:
        raise NotFound("There is no such delivery.", code="delivery_not_found")
    await notify_deliveries(session)
    row = (
        await session.execute(
            select(Delivery, Event.id, Event.type)
            .join(Event, Event.seq == Delivery.event_seq)
            .where(Delivery.id == delivery_id)
            .execution_options(populate_existing=True)
        )
    ).one()
    return (await _with_attempts(session, [_Row(*row)]))[0]
