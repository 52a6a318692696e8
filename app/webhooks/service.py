"""Inbound usage from seven's webhooks, counted once per event, per number and day.

seven retries a webhook on 429/5xx and a signed request may be replayed inside its
clock window: the event id is recorded in the same transaction as the count, and
a repeated id changes nothing.

An id is remembered for ``webhook_event_retention_days`` (the worker's purge cron), so
an event must not be accepted for longer than that: one whose own time (``data.time``,
when seven received the SMS, the same on every retry) is more than
``webhook_max_age_seconds`` old, or further ahead than :data:`CLOCK_WINDOW`, is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import delete, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import NumberUsageDaily, WebhookEvent
from app.lib.phone import InvalidPhoneNumber, normalize_number
from app.numbers.mirror import SEVEN_TIME_ZONE
from app.webhooks.news import announce_received

#: How far a signature's timestamp (and an event's time) may be from our clock, either
#: way: the default of seven's own webhook verifier (js-client WebhookVerifier).
CLOCK_WINDOW = timedelta(seconds=300)
MAX_EVENT_ID_LENGTH = 128


class SmsMoData(msgspec.Struct):
    id: str | int
    system: str
    time: int | str
    sender: str | None = None
    text: str | None = None
    message_type: str | None = None


class WebhookPayload(msgspec.Struct):
    webhook_event: str
    # Any shape: only an sms_mo's data is read, and other events are ignored whatever
    # they carry.
    data: Any = None
    webhook_timestamp: str | int | None = None


class BadEvent(ValueError):
    """The event cannot be counted; the message says why, ``code`` names the reason."""

    def __init__(self, message: str, code: str = "invalid_event") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class InboundSms:
    event_id: str
    number: str
    """The receiving number (seven's ``system``), normalized."""
    sent_at: datetime
    sender: str | None = None
    text: str | None = None

    @property
    def day(self) -> date:
        """The Europe/Berlin day of the SMS (seven's billing days are German days)."""
        return self.sent_at.astimezone(SEVEN_TIME_ZONE).date()


def _event_time(unix_seconds: int | str) -> datetime:
    try:
        return datetime.fromtimestamp(int(unix_seconds), UTC)
    except (ValueError, OverflowError, OSError):
        raise BadEvent("data.time must be unix seconds") from None


def parse_sms_mo(data: Any) -> InboundSms:
    """The inbound SMS an ``sms_mo`` event's ``data`` describes."""
    try:
        fields = msgspec.convert(data, SmsMoData)
    except msgspec.ValidationError as error:
        raise BadEvent(f"data: {error}") from None
    try:
        number = normalize_number(fields.system, strict=False)
    except InvalidPhoneNumber:
        raise BadEvent("data.system is not a phone number") from None
    event_id = str(fields.id).strip()
    if not event_id:
        raise BadEvent("data.id is empty")
    if len(event_id) > MAX_EVENT_ID_LENGTH:
        raise BadEvent(
            f"data.id is longer than {MAX_EVENT_ID_LENGTH} characters", "event_id_too_long"
        )
    return InboundSms(event_id, number, _event_time(fields.time), fields.sender, fields.text)


def check_age(sms: InboundSms, *, now: datetime, max_age: timedelta) -> None:
    """Refuse an SMS older than ``max_age`` or from further ahead than the clock window."""
    age = now - sms.sent_at
    if age > max_age:
        raise BadEvent(
            f"the SMS is {int(age.total_seconds())} s old (data.time); events older than "
            f"{int(max_age.total_seconds())} s are refused",
            "event_too_old",
        )
    if -age > CLOCK_WINDOW:
        raise BadEvent(
            f"data.time is {int(-age.total_seconds())} s ahead of our clock",
            "event_time_in_future",
        )


async def count_sms_mo(session: AsyncSession, sms: InboundSms) -> bool:
    """Count one inbound SMS, and announce it (``message.received``, app.webhooks.news);
    False (and nothing changed) when the event was seen before.

    Committed here rather than when the request ends: the caller holds the webhook's nonce
    (app.webhooks.nonces) only while this runs, and frees it when the count fails, so seven
    can send the event again."""
    async with session.begin():
        first_time = (
            await session.execute(
                insert(WebhookEvent)
                .values(event_type="sms_mo", event_id=sms.event_id)
                .on_conflict_do_nothing()
                .returning(WebhookEvent.event_id)
            )
        ).scalar_one_or_none()
        if first_time is None:
            return False
        upsert = insert(NumberUsageDaily).values(number=sms.number, day=sms.day, sms_mo=1)
        await session.execute(
            upsert.on_conflict_do_update(
                index_elements=[NumberUsageDaily.number, NumberUsageDaily.day],
                set_={"sms_mo": NumberUsageDaily.sms_mo + upsert.excluded.sms_mo},
            )
        )
        await announce_received(
            session,
            event_id=sms.event_id,
            number=sms.number,
            sender=sms.sender,
            text=sms.text,
            sent_at=sms.sent_at,
        )
    return True


async def purge_processed_events(session: AsyncSession, retention: timedelta) -> int:
    """Forget the ids of events counted more than ``retention`` ago; how many went."""
    async with session.begin():
        result = await session.execute(
            delete(WebhookEvent).where(WebhookEvent.received_at < func.now() - retention)
        )
    return result.rowcount  # type: ignore[attr-defined]
