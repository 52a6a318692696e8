"""Inbound usage from seven's webhooks, counted once per event, per number and day.

seven retries a webhook on 429/5xx and a signed request may be replayed inside its
30-second window: the event id is recorded in the same transaction as the count, and
a repeated id changes nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import msgspec
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import NumberUsageDaily, WebhookEvent
from app.lib.phone import InvalidPhoneNumber, normalize_number
from app.numbers.mirror import SEVEN_TIME_ZONE


class SmsMoData(msgspec.Struct):
    id: str | int
    system: str
    time: int | str
    sender: str | None = None
    text: str | None = None
    message_type: str | None = None


class WebhookPayload(msgspec.Struct):
    webhook_event: str
    data: msgspec.Raw
    webhook_timestamp: str | int | None = None


class BadEvent(ValueError):
    """The event cannot be counted; the message says why."""


def usage_day(unix_seconds: int | str) -> date:
    """The Europe/Berlin day of an event time (seven's billing days are German days)."""
    try:
        sent = datetime.fromtimestamp(int(unix_seconds), UTC)
    except (ValueError, OverflowError, OSError):
        raise BadEvent("data.time must be unix seconds") from None
    return sent.astimezone(SEVEN_TIME_ZONE).date()


def parse_sms_mo(raw: msgspec.Raw) -> tuple[str, str, date]:
    """(event id, receiving number, day) of an ``sms_mo`` event."""
    try:
        data = msgspec.json.decode(raw, type=SmsMoData)
    except msgspec.ValidationError as error:
        raise BadEvent(f"data: {error}") from None
    try:
        number = normalize_number(data.system, strict=False)
    except InvalidPhoneNumber:
        raise BadEvent("data.system is not a phone number") from None
    event_id = str(data.id).strip()
    if not event_id:
        raise BadEvent("data.id is empty")
    return event_id, number, usage_day(data.time)


async def count_sms_mo(session: AsyncSession, event_id: str, number: str, day: date) -> bool:
    """Count one inbound SMS; False (and nothing changed) when the event was seen before."""
    async with session.begin():
        first_time = (
            await session.execute(
                insert(WebhookEvent)
                .values(event_type="sms_mo", event_id=event_id)
                .on_conflict_do_nothing()
                .returning(WebhookEvent.event_id)
            )
        ).scalar_one_or_none()
        if first_time is None:
            return False
        upsert = insert(NumberUsageDaily).values(number=number, day=day, sms_mo=1)
        await session.execute(
            upsert.on_conflict_do_update(
                index_elements=[NumberUsageDaily.number, NumberUsageDaily.day],
                set_={"sms_mo": NumberUsageDaily.sms_mo + upsert.excluded.sms_mo},
            )
        )
    return True
