"""``message.received``: an inbound SMS on one of the account's numbers, for the tenant
that holds the number (an admin's event when nobody does), written in the transaction
that counts it, so seven's retries of one SMS make one event."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Number
from app.db.vocabulary import EventType
from app.events.outbox import emit


class MessageReceived(msgspec.Struct):
    id: str
    """seven's id of the SMS (its ``sms_mo`` webhook's ``data.id``)."""
    from_: str | None = msgspec.field(name="from")
    """The sender, as seven gives it (a number, or an alphanumeric sender id)."""
    to: str = ""
    """The receiving number, digits."""
    text: str | None = None
    received_at: datetime | None = None
    """When seven received it (UTC)."""
    tenant: uuid.UUID | None = None
    """The number's holder; null: nobody held it."""


async def announce_received(
    session: AsyncSession,
    *,
    event_id: str,
    number: str,
    sender: str | None,
    text: str | None,
    sent_at: datetime,
) -> None:
    holder = await session.scalar(select(Number.tenant_id).where(Number.number == number))
    data = MessageReceived(
        id=event_id, from_=sender, to=number, text=text, received_at=sent_at, tenant=holder
    )
    await emit(session, EventType.MESSAGE_RECEIVED, tenant=holder, data=data, number=number)
