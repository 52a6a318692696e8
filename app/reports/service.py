"""Idle numbers: active numbers nobody has sent an SMS or called in the last days.

Inbound traffic is what seven's ``sms_mo`` webhooks counted per number and Europe/Berlin
day (``number_usage_daily``, app.webhooks). The window is the last ``days`` Berlin days,
today included. A number counts only once it has been on the account for the whole
window: one ordered yesterday has had no chance to be used yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Number, NumberUsageDaily, Pool, Tenant
from app.db.vocabulary import NumberState
from app.lib.auth import Principal
from app.lib.pagination import Keyset, Page, PageQuery
from app.lib.tenancy import scope_numbers
from app.numbers.mirror import SEVEN_TIME_ZONE
from app.reports.schemas import IdleNumberOut, idle_number_out

DEFAULT_DAYS = 30
MAX_DAYS = 365
PAGES = Keyset(Number.number, limit=100, max_limit=1000)

_TRAFFIC = or_(NumberUsageDaily.sms_mo > 0, NumberUsageDaily.voice_mo_minutes > 0)


@dataclass(frozen=True, slots=True)
class IdleQuery:
    days: int
    today: date
    """Today in Europe/Berlin, the window's last day."""
    page: PageQuery


def _idle(query: IdleQuery) -> Select[Any]:
    first_day = query.today - timedelta(days=query.days - 1)
    window_opens = datetime.combine(first_day, time(), SEVEN_TIME_ZONE)
    used = and_(NumberUsageDaily.number == Number.number, _TRAFFIC)
    last_inbound = select(func.max(NumberUsageDaily.day)).where(used).scalar_subquery()
    return (
        select(
            Number.number,
            Number.country,
            Number.tenant_id,
            Tenant.name.label("tenant_name"),
            Number.pool_id,
            Pool.name.label("pool_name"),
            Number.fee_basic_charge,
            Number.payment_interval,
            Number.seven_created_at,
            last_inbound.label("last_inbound_day"),
        )
        .outerjoin(Tenant, Tenant.id == Number.tenant_id)
        .outerjoin(Pool, Pool.id == Number.pool_id)
        .where(
            Number.state == NumberState.ACTIVE,
            func.coalesce(Number.seven_created_at, Number.inserted_at) <= window_opens,
            ~exists().where(used, NumberUsageDaily.day >= first_day),
        )
    )


async def idle_numbers(
    session: AsyncSession, principal: Principal, query: IdleQuery
) -> Page[IdleNumberOut]:
    """One page of ``principal``'s idle numbers, in number order."""
    stmt = scope_numbers(_idle(query), principal)
    rows = (await session.execute(PAGES.select(stmt, query.page))).all()
    return PAGES.page(rows, query.page).map(idle_number_out)
