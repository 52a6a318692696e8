"""The event as callers see it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Protocol

import msgspec

from app.db.vocabulary import EventType


class EventOut(msgspec.Struct):
    id: uuid.UUID
    """Stable: the same on every delivery (a webhook's ``webhook-id``)."""
    type: EventType
    created_at: datetime
    tenant: uuid.UUID | None
    """The tenant the event belongs to; null: an admin's event."""
    number: str | None
    data: dict[str, Any]
    """The resource as the API shows it: a number, an operation, an allocation, ..."""


class EventFields(Protocol):
    """An event's columns: an ``Event`` row, or a row selected with them."""

    id: uuid.UUID
    type: str
    created_at: datetime
    tenant_id: uuid.UUID | None
    number: str | None
    data: dict[str, Any]


def event_out(row: EventFields) -> EventOut:
    return EventOut(
        id=row.id,
        type=EventType(row.type),
        created_at=row.created_at,
        tenant=row.tenant_id,
        number=row.number,
        data=row.data,
    )
