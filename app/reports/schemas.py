"""An idle number as the report shows it."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from sqlalchemy import Row

from app.lib.money import Money, optional_money
from app.numbers.mirror import on_seven_clock
from app.numbers.schemas import SevenTime, monthly_cost


class IdleNumberOut(msgspec.Struct):
    """An active number without inbound traffic (SMS or calls) in the report's window."""

    number: Annotated[str, msgspec.Meta(examples=["4915170264838"])]
    country: Annotated[str, msgspec.Meta(examples=["DE"])]
    tenant: uuid.UUID | None
    """The holder; null when nobody holds it."""
    tenant_name: Annotated[str | None, msgspec.Meta(examples=["billing-team"])]
    pool: uuid.UUID | None
    pool_name: Annotated[str | None, msgspec.Meta(examples=["support-de"])]
    monthly_cost: Money | None
    """The basic charge per month (an annual one over 12); what releasing it saves."""
    active_since: SevenTime
    """When seven says the number was created (seven's clock)."""
    last_inbound_day: Annotated[date | None, msgspec.Meta(examples=["2026-09-14"])]
    """The last Europe/Berlin day with inbound traffic ever counted; null for none."""


def idle_number_out(row: Row[Any]) -> IdleNumberOut:
    created: datetime | None = row.seven_created_at
    return IdleNumberOut(
        number=row.number,
        country=row.country,
        tenant=row.tenant_id,
        tenant_name=row.tenant_name,
        pool=row.pool_id,
        pool_name=row.pool_name,
        monthly_cost=optional_money(monthly_cost(row.fee_basic_charge, row.payment_interval)),
        active_since=on_seven_clock(created),
        last_inbound_day=row.last_inbound_day,
    )
