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
from sqlalchemy import ARRAY, Text, Uuid, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.db.vocabulary import EventType

_JSON = msgspec.json.Encoder()

#: The channel a transaction that wrote deliveries notifies (app.events.dispatch listens).
CHANNEL = "seven_numbers_deliveries"

# One statement writes a transaction's events and their deliveries: one round trip per
# emit. Events take their ``seq`` in the order given (rows are inserted in ``ORDER BY``
# order, and ``seq`` is an identity). An endpoint gets the events of its tenant (none: the
# admin's) of the types it asks for, while it is enabled. ``key`` orders one number's
# events; an event of no number is ordered with nothing else. Each new delivery is
# pending (the column's default). When there is one, the statement also queues the
# NOTIFY that wakes the dispatchers (sent on commit, as NOTIFY is); a SELECT in a WITH
# runs only when used, hence the join on it.
_WRITE = text(
    """
WITH written AS (
  INSERT INTO events (type, tenant_id, number, data)
  SELECT type, tenant_id, number, data::jsonb
  FROM unnest(:types, :tenants, :numbers, :data) WITH ORDINALITY
    AS given(type, tenant_id, number, data, position)
  ORDER BY position
  RETURNING seq, id, type, tenant_id, number
), fanned AS (
  INSERT INTO deliveries (id, endpoint_id, event_seq, key)
  SELECT gen_random_uuid(), w.id, e.seq, coalesce(e.number, 'event:' || e.seq)
  FROM written e
  JOIN webhook_endpoints w
    ON w.enabled AND w.tenant_id IS NOT DISTINCT FROM e.tenant_id
   AND (e.type = ANY(w.events) OR '*' = ANY(w.events))
  ORDER BY e.seq
  RETURNING 1
), notified AS (
  SELECT pg_notify(:channel, '') WHERE EXISTS (SELECT FROM fanned)
)
SELECT written.id FROM written LEFT JOIN notified ON true ORDER BY written.seq
"""
).bindparams(
    bindparam("types", type_=ARRAY(Text)),
    bindparam("tenants", type_=ARRAY(Uuid)),
    bindparam("numbers", type_=ARRAY(Text)),
    bindparam("data", type_=ARRAY(Text)),
)


@dataclass(frozen=True, slots=True)
class NewEvent:
    type: EventType
    tenant: uuid.UUID | None
    """Whose it is: that tenant's keys see it; None: an admin's only."""
    data: Any
    number: str | None = None


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
    given = list(events)
    if not given:
        return []
    written = await db.execute(
        _WRITE,
        {
            "types": [event.type for event in given],
            "tenants": [event.tenant for event in given],
            "numbers": [event.number for event in given],
            "data": [_JSON.encode(event.data).decode() for event in given],
            "channel": CHANNEL,
        },
    )
    return list(written.scalars())


async def notify_deliveries(db: AsyncSession | AsyncConnection) -> None:
    """Wake the workers' dispatchers when this transaction commits (NOTIFY is sent then,
    and not at all on a rollback); without it they find the deliveries on their next
    look, a second later."""
    await db.execute(text(f"NOTIFY {CHANNEL}"))
