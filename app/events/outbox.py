"""The outbox: one ``events`` row per change of state, in the transaction of the change.

A service calls :func:`emit` on the session (or connection) that writes the change; the
row commits with the change or not at all, so no change goes unreported and no event
reports a change that was rolled back. ``data`` is the resource as the API shows it
(a response struct, or plain builtins), stored as JSON.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.db.models import Event
from app.db.vocabulary import EventType

#: The channel a transaction that wrote deliveries notifies (app.events.dispatch listens).
CHANNEL = "seven_numbers_deliveries"

# An endpoint gets the events of its tenant (none: the admin's) of the types it asks for,
# while it is enabled. ``key`` orders one number's events; an event of no number is
# ordered with nothing else.
# Each new delivery is pending (the column's default). When there is one, the statement
# also queues the NOTIFY that wakes the dispatchers (sent on commit, as NOTIFY is): one
# round trip for the transaction rather than two.
_FAN_OUT = text(
    """
WITH fanned AS (
  INSERT INTO deliveries (id, endpoint_id, event_seq, key)
  SELECT gen_random_uuid(), w.id, e.seq, coalesce(e.number, 'event:' || e.seq)
  FROM events e
  JOIN webhook_endpoints w
    ON w.enabled AND w.tenant_id IS NOT DISTINCT FROM e.tenant_id
   AND (e.type = ANY(w.events) OR '*' = ANY(w.events))
  WHERE e.seq = ANY(:seqs)
  ORDER BY e.seq
  RETURNING 1
)
SELECT pg_notify(:channel, '') WHERE EXISTS (SELECT FROM fanned)
"""
)


@dataclass(frozen=True, slots=True)
class NewEvent:
    type: EventType
    tenant: uuid.UUID | None
    """Whose it is: that tenant's keys see it; None: an admin's only."""
    data: Any
    number: str | None = None


def _row(event: NewEvent) -> dict[str, Any]:
    return {
        "type": event.type,
        "tenant_id": event.tenant,
        "number": event.number,
        "data": msgspec.to_builtins(event.data),
    }


async def emit(
    db: AsyncSession | AsyncConnection,
    type: EventType,
    *,
    tenant: uuid.UUID | None,
    data: Any,
    number: str | None = None,
) -> uuid.UUID:
    """Add one event to ``db``'s transaction (the caller commits); its id."""
    [event_id] = await emit_all(db, [NewEvent(type, tenant, data, number)])
    return event_id


async def emit_all(
    db: AsyncSession | AsyncConnection, events: Iterable[NewEvent]
) -> list[uuid.UUID]:
    """Add several events, in the order given, with their deliveries to the endpoints
    that want them; their ids."""
    rows = [_row(event) for event in events]
    if not rows:
        return []
    written = (
        await db.execute(
            insert(Event).returning(Event.seq, Event.id, sort_by_parameter_order=True), rows
        )
    ).all()
    await db.execute(_FAN_OUT, {"seqs": [seq for seq, _ in written], "channel": CHANNEL})
    return [event_id for _, event_id in written]


async def notify_deliveries(db: AsyncSession | AsyncConnection) -> None:
    """Wake the workers' dispatchers when this transaction commits (NOTIFY is sent then,
    and not at all on a rollback); without it they find the deliveries on their next
    look, a second later."""
    await db.execute(text(f"NOTIFY {CHANNEL}"))
