"""The number as callers see it: seven's ActiveNumber fields plus the service's own."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any

import msgspec
from sqlalchemy import Row

from app.db.models import Number
from app.db.vocabulary import Handover, NumberState
from app.lib.money import Money, optional_money
from app.numbers.mirror import on_seven_clock
from app.seven.types import Features, PaymentInterval

CENT = Decimal("0.01")
MAX_LOCK_REASON_LENGTH = 500


class FeesOut(msgspec.Struct):
    """seven's fees; null while a number is being ordered (seven has not quoted them)."""

    setup: Money | None
    basic_charge: Money | None
    sms_mo: Money | None
    voice_mo: Money | None


class BillingOut(msgspec.Struct):
    fees: FeesOut
    payment_interval: PaymentInterval


class SevenTimes(msgspec.Struct):
    """seven's own strings, exactly as seven gave them: Berlin wall-clock time, no zone."""

    created: Annotated[str | None, msgspec.Meta(examples=["2024-01-31 17:06:27"])]
    expires: Annotated[str | None, msgspec.Meta(examples=[None])]


# seven's times, on seven's (Berlin) clock with the offset of that moment.
SevenTime = Annotated[
    datetime | None,
    msgspec.Meta(
        description=(
            "RFC 3339 with the Europe/Berlin offset of that moment (seven's clock); null "
            "when seven gave none, or a string that is not a time (see `seven`)"
        ),
        examples=["2024-01-31T17:06:27+01:00"],
    ),
]


class DeletionLockOut(msgspec.Struct):
    """While set, every ``DELETE /v1/numbers/{number}`` answers 409 ``deletion_locked``."""

    locked_at: datetime
    locked_by: Annotated[
        str, msgspec.Meta(examples=["API key 0b6f3c8e-4d7a-4c55-9a57-2f1e0c9d1b42"])
    ]
    """The admin key (its id) or keyless admin that set the lock."""
    reason: str | None


class DeletionLockSet(msgspec.Struct, forbid_unknown_fields=True):
    reason: (
        Annotated[
            str,
            msgspec.Meta(max_length=MAX_LOCK_REASON_LENGTH, examples=["main support line"]),
        ]
        | None
    ) = None
    """Why, shown to whoever tries to delete the number."""


class NumberOut(msgspec.Struct):
    """One number. Money is a decimal string in EUR; ``number`` is digits, as seven shows it.
    Times are RFC 3339 with their offset."""

    country: str
    number: str
    friendly_name: str
    billing: BillingOut
    features: Features
    forward_sms_mo: dict[str, Any]
    expires: SevenTime
    """When a number deleted at period end goes."""
    created: SevenTime
    state: NumberState
    tenant: uuid.UUID | None
    pool: uuid.UUID | None
    monthly_cost: Money | None
    synced_at: datetime | None
    pending_operation: uuid.UUID | None
    missing_since: datetime | None
    """State ``missing``: when a sync first found the number absent from seven's list."""
    handover: Handover | None
    """What a previous holder set at seven (forwarding, friendly name) may still be there:
    ``clearing`` (an update clearing it is pending), ``clearing_failed`` (an admin clears
    it again: ``POST /v1/allocations/{number}/clearing``) or ``uncleared`` (the number was
    deleted while held; should seven list it again, it must be cleared). Nobody is given
    the number until it is null."""
    handover_operation: uuid.UUID | None
    """The latest operation clearing a previous holder's settings, until one succeeds."""
    seven: SevenTimes
    """``created`` and ``expires`` as seven wrote them."""
    tags: Annotated[dict[str, str], msgspec.Meta(examples=[{"cost_center": "crm"}])]
    """The number's own labels (``PUT /v1/numbers/{number}/tags``); the service's alone,
    never sent to seven."""
    deletion_lock: DeletionLockOut | None
    """Set by an admin (``PUT /v1/numbers/{number}/deletion-lock``): nobody may delete the
    number until it is lifted."""


def monthly_cost(basic_charge: Decimal | None, payment_interval: str) -> Decimal | None:
    """The basic charge as a monthly equivalent, in cents (an annual charge over 12 months)."""
    if basic_charge is None:
        return None
    months = 12 if payment_interval == PaymentInterval.ANNUALLY else 1
    return (basic_charge / months).quantize(CENT, rounding=ROUND_HALF_EVEN)


def number_out(row: Number | Row[Any]) -> NumberOut:
    """From an ORM row or a Core row over the ``numbers`` columns (same attribute names)."""
    return NumberOut(
        country=row.country,
        number=row.number,
        friendly_name=row.friendly_name,
        billing=BillingOut(
            fees=FeesOut(
                setup=optional_money(row.fee_setup),
                basic_charge=optional_money(row.fee_basic_charge),
                sms_mo=optional_money(row.fee_sms_mo),
                voice_mo=optional_money(row.fee_voice_mo),
            ),
            payment_interval=row.payment_interval,  # type: ignore[arg-type]
        ),
        features=Features(
            sms=row.feature_sms, a2p_sms=row.feature_a2p_sms, voice=row.feature_voice
        ),
        forward_sms_mo=row.forward_sms_mo,
        # The instants the mirror parsed from seven's strings when it wrote them.
        expires=on_seven_clock(row.seven_expires_at),
        created=on_seven_clock(row.seven_created_at),
        state=row.state,  # type: ignore[arg-type]
        tenant=row.tenant_id,
        pool=row.pool_id,
        monthly_cost=optional_money(monthly_cost(row.fee_basic_charge, row.payment_interval)),
        synced_at=row.synced_at,
        pending_operation=row.pending_operation_id,
        missing_since=row.missing_since,
        handover=row.handover,  # type: ignore[arg-type]
        handover_operation=row.handover_operation_id,
        seven=SevenTimes(created=row.created, expires=row.expires),
        tags=row.tags,
        deletion_lock=_deletion_lock(row),
    )


def _deletion_lock(row: Number | Row[Any]) -> DeletionLockOut | None:
    if row.deletion_locked_at is None:
        return None
    return DeletionLockOut(
        locked_at=row.deletion_locked_at,
        # Set with the time (a check constraint): never null here.
        locked_by=str(row.deletion_locked_by),
        reason=row.deletion_lock_reason,
    )
